//! Versioning over the real backend: the chain of versions of a key under
//! each bucket state, and ListObjectVersions paging against a model.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::tests::{Harness, blob_files, harness, inline_rows, large, put};
use crate::{EngineError, VersionListParams, Versioning};

async fn versioned_bucket(h: &Harness, name: &str, state: Versioning) {
    h.engine.create_bucket(&h.root, name, None).await.unwrap();
    h.engine.put_bucket_versioning(name, state).await.unwrap();
}

/// (key, version id, is delete marker, is latest) of every version.
async fn all_versions(h: &Harness, bucket: &str) -> Vec<(String, String, bool, bool)> {
    let page = h
        .engine
        .list_object_versions(
            bucket,
            VersionListParams {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!page.is_truncated);
    page.versions
        .into_iter()
        .map(|v| {
            (
                v.key,
                v.record.version_id,
                v.record.delete_marker,
                v.is_latest,
            )
        })
        .collect()
}

async fn read_version(h: &Harness, key: &str, version: Option<&str>) -> Result<u8, EngineError> {
    let v = h.engine.get_object_version("bkt", key, version).await?;
    Ok(v.record.size as u8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabled_bucket_keeps_every_version_and_delete_markers_hide_them() {
    let h = harness().await;
    versioned_bucket(&h, "bkt", Versioning::Enabled).await;
    let v1 = put(&h, "bkt", "k", b"1").await.version_id;
    let v2 = put(&h, "bkt", "k", b"22").await.version_id;
    assert_ne!(v1, v2);
    assert_ne!(v1, "null");
    assert_eq!(read_version(&h, "k", None).await.unwrap(), 2);
    assert_eq!(read_version(&h, "k", Some(&v1)).await.unwrap(), 1);

    let deleted = h.engine.delete_object("bkt", "k", None).await.unwrap();
    assert!(deleted.delete_marker);
    let marker = deleted.version_id.unwrap();
    assert!(matches!(
        read_version(&h, "k", None).await,
        Err(EngineError::DeleteMarker {
            by_version: false,
            ..
        })
    ));
    assert!(matches!(
        read_version(&h, "k", Some(&marker)).await,
        Err(EngineError::DeleteMarker {
            by_version: true,
            ..
        })
    ));
    assert_eq!(read_version(&h, "k", Some(&v2)).await.unwrap(), 2);
    assert_eq!(
        all_versions(&h, "bkt").await,
        [
            ("k".into(), marker.clone(), true, true),
            ("k".into(), v2.clone(), false, false),
            ("k".into(), v1.clone(), false, false),
        ]
    );
    let plain = h
        .engine
        .list_objects(
            "bkt",
            crate::ListParams {
                max_keys: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(plain.objects.is_empty(), "a delete marker hides the key");
    assert!(matches!(
        h.engine.delete_bucket("bkt").await,
        Err(EngineError::BucketNotEmpty)
    ));

    // Removing the marker brings the newest version back.
    let undone = h
        .engine
        .delete_object("bkt", "k", Some(&marker))
        .await
        .unwrap();
    assert!(undone.delete_marker);
    assert_eq!(read_version(&h, "k", None).await.unwrap(), 2);
    // Removing the latest version promotes the one before it.
    h.engine.delete_object("bkt", "k", Some(&v2)).await.unwrap();
    assert_eq!(read_version(&h, "k", None).await.unwrap(), 1);
    assert!(matches!(
        read_version(&h, "k", Some(&v2)).await,
        Err(EngineError::NoSuchVersion)
    ));
    h.engine.delete_object("bkt", "k", Some(&v1)).await.unwrap();
    assert!(all_versions(&h, "bkt").await.is_empty());
    h.engine.delete_bucket("bkt").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_bucket_replaces_only_the_null_version() {
    let h = harness().await;
    h.engine.create_bucket(&h.root, "bkt", None).await.unwrap();
    // Written before versioning: the null version, kept when it is enabled.
    put(&h, "bkt", "k", &large(1)).await;
    h.engine
        .put_bucket_versioning("bkt", Versioning::Enabled)
        .await
        .unwrap();
    let v = put(&h, "bkt", "k", &large(2)).await.version_id;
    h.engine
        .put_bucket_versioning("bkt", Versioning::Suspended)
        .await
        .unwrap();
    let listed = all_versions(&h, "bkt").await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].1, "null");
    assert_eq!(blob_files(&h).await.len(), 2);

    // A PUT while suspended replaces the old null version (and its blob).
    let n = put(&h, "bkt", "k", &large(3)).await;
    assert_eq!(n.version_id, "null");
    let listed = all_versions(&h, "bkt").await;
    assert_eq!(
        listed.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(),
        ["null", v.as_str()]
    );
    assert_eq!(
        blob_files(&h).await.len(),
        2,
        "the replaced null blob is gone"
    );

    // A DELETE while suspended makes a null delete marker in its place.
    let d = h.engine.delete_object("bkt", "k", None).await.unwrap();
    assert_eq!(d.version_id.as_deref(), Some("null"));
    assert!(d.delete_marker);
    let listed = all_versions(&h, "bkt").await;
    assert_eq!(
        listed,
        [
            ("k".into(), "null".into(), true, true),
            ("k".into(), v.clone(), false, false)
        ]
    );
    assert_eq!(blob_files(&h).await.len(), 1);
    h.engine
        .delete_object("bkt", "k", Some("null"))
        .await
        .unwrap();
    h.engine.delete_object("bkt", "k", Some(&v)).await.unwrap();
    assert!(blob_files(&h).await.is_empty());
    assert_eq!(inline_rows(&h).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_unknown_version_ids_are_told_apart() {
    let h = harness().await;
    versioned_bucket(&h, "bkt", Versioning::Enabled).await;
    let v = put(&h, "bkt", "k", b"x").await.version_id;
    assert!(matches!(
        read_version(&h, "k", Some("not-a-version")).await,
        Err(EngineError::InvalidArgument(_))
    ));
    let mut unknown = v.clone();
    unknown.replace_range(31.., if v.ends_with('0') { "1" } else { "0" });
    assert!(matches!(
        read_version(&h, "k", Some(&unknown)).await,
        Err(EngineError::NoSuchVersion)
    ));
    // Deleting a version that does not exist succeeds, as on S3.
    h.engine
        .delete_object("bkt", "k", Some(&unknown))
        .await
        .unwrap();
    assert_eq!(read_version(&h, "k", Some(&v)).await.unwrap(), 1);
}

#[derive(Debug, Clone)]
enum Op {
    Put(u8),
    Delete(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![(0u8..6).prop_map(Op::Put), (0u8..6).prop_map(Op::Delete)]
}

const KEYS: [&str; 6] = ["a", "a/b", "a/c", "bkt", "c/d/e", "c/f"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Paging with any page size and delimiter visits every version exactly
    /// once, in the order a single big page lists them.
    #[test]
    fn version_pages_concatenate_to_the_full_listing(
        ops in proptest::collection::vec(op(), 1..25),
        max_keys in 1usize..5,
        delimiter in prop_oneof![Just(None), Just(Some("/".to_owned()))],
    ) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let h = harness().await;
            versioned_bucket(&h, "bkt", Versioning::Enabled).await;
            // The model: per key, version ids newest first.
            let mut model: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for o in &ops {
                match o {
                    Op::Put(k) => {
                        let k = KEYS[usize::from(*k)];
                        let v = put(&h, "bkt", k, k.as_bytes()).await.version_id;
                        model.entry(k).or_default().insert(0, v);
                    }
                    Op::Delete(k) => {
                        let k = KEYS[usize::from(*k)];
                        let d = h.engine.delete_object("bkt", k, None).await.unwrap();
                        model.entry(k).or_default().insert(0, d.version_id.unwrap());
                    }
                }
            }
            let mut expected_versions = Vec::new();
            let mut expected_prefixes = Vec::new();
            for (k, vs) in &model {
                match delimiter.as_deref().and_then(|d| k.find(d).map(|p| &k[..=p])) {
                    Some(cp) => {
                        if expected_prefixes.last() != Some(&cp.to_owned()) {
                            expected_prefixes.push(cp.to_owned());
                        }
                    }
                    None => {
                        expected_versions.extend(vs.iter().map(|v| (k.to_string(), v.clone())));
                    }
                }
            }
            let mut got_versions = Vec::new();
            let mut got_prefixes = Vec::new();
            let (mut km, mut vm) = (None, None);
            for _ in 0..200 {
                let page = h.engine.list_object_versions("bkt", VersionListParams {
                    prefix: String::new(),
                    delimiter: delimiter.clone(),
                    key_marker: km.clone(),
                    version_id_marker: vm.clone(),
                    max_keys,
                }).await.unwrap();
                prop_assert!(page.versions.len() + page.common_prefixes.len() <= max_keys);
                got_versions.extend(page.versions.into_iter().map(|v| (v.key, v.record.version_id)));
                got_prefixes.extend(page.common_prefixes);
                if !page.is_truncated {
                    break;
                }
                km = page.next_key_marker;
                vm = page.next_version_id_marker;
            }
            prop_assert_eq!(got_versions, expected_versions);
            prop_assert_eq!(got_prefixes, expected_prefixes);
            Ok(())
        })?;
    }
}

/// A request naming a version is decided by that version's ACL, not the
/// latest's: a public latest version must not open an older private one.
#[tokio::test]
async fn a_named_version_is_authorized_by_its_own_acl() {
    use coffer_types::Principal;

    use crate::AccessRequest;
    use crate::acl::AclSpec;

    let h = harness().await;
    versioned_bucket(&h, "vacl", Versioning::Enabled).await;
    let old = put(&h, "vacl", "k", b"private first").await.version_id;
    let new = put(&h, "vacl", "k", b"public second").await.version_id;
    let set_acl = |version_id: String, canned: &'static str| {
        let engine = h.engine.clone();
        async move {
            engine
                .put_object_acl(
                    "vacl",
                    "k",
                    Some(&version_id),
                    AclSpec::Canned(canned.into()),
                )
                .await
                .unwrap();
        }
    };
    let anonymous_may_get = |version_id: Option<String>| {
        let engine = h.engine.clone();
        async move {
            let req = AccessRequest {
                operation: "GetObject",
                bucket: Some("vacl"),
                key: Some("k"),
                version_id: version_id.as_deref(),
                conditions: &[],
            };
            match engine.authorize(&Principal::anonymous(), req).await {
                Ok(()) => true,
                Err(EngineError::AccessDenied(_)) => false,
                Err(e) => panic!("{e}"),
            }
        }
    };
    set_acl(new.clone(), "public-read").await;
    assert!(anonymous_may_get(None).await);
    assert!(anonymous_may_get(Some(new.clone())).await);
    assert!(!anonymous_may_get(Some(old.clone())).await);
    // And the other way round: a public old version stays readable by id.
    set_acl(new, "private").await;
    set_acl(old.clone(), "public-read").await;
    assert!(!anonymous_may_get(None).await);
    assert!(anonymous_may_get(Some(old)).await);
}
