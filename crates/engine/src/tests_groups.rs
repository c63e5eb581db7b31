//! Groups, managed policies and attachments: the rules IAM enforces and the
//! policies a user ends up with.

use coffer_types::{AccountId, Principal};

use super::*;

use crate::tests::{Harness, harness};

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

impl Harness {
    async fn user(&self, name: &str) -> Principal {
        let u = self
            .engine
            .create_user(&self.account, name, None)
            .await
            .unwrap();
        Principal::user(
            AccountId(self.account.clone()),
            format!("AK{name}"),
            u.name,
            u.path,
            u.user_id,
        )
    }

    fn arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:policy/{name}", self.account)
    }

    async fn policy_names(&self, p: &Principal) -> Vec<String> {
        let mut names: Vec<String> = self
            .engine
            .identity_policy_documents(p)
            .await
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        names.sort();
        names
    }

    async fn may_list(&self, p: &Principal, bucket: &str) -> bool {
        let req = AccessRequest {
            operation: "ListObjectsV2",
            bucket: Some(bucket),
            key: None,
            version_id: None,
            conditions: &[],
        };
        match self.engine.authorize(p, req).await {
            Ok(()) => true,
            Err(EngineError::AccessDenied(_)) => false,
            Err(e) => panic!("unexpected {e}"),
        }
    }
}

#[tokio::test]
async fn membership_is_kept_on_both_sides_and_blocks_deletes() {
    let h = harness().await;
    let (acct, e) = (&h.account, &h.engine);
    h.user("alice").await;
    e.create_group(acct, "Devs", Some("/eng/")).await.unwrap();
    assert!(matches!(
        e.create_group(acct, "devs", None).await,
        Err(EngineError::EntityAlreadyExists(_))
    ));
    assert!(matches!(
        e.create_group(acct, "bad/name", None).await,
        Err(EngineError::InvalidInput(_))
    ));
    e.add_user_to_group(acct, "devs", "ALICE").await.unwrap();
    // Adding a member again changes nothing.
    e.add_user_to_group(acct, "Devs", "alice").await.unwrap();
    let (g, members) = e.get_group_members(acct, "devs", None, 100).await.unwrap();
    assert_eq!(g.members, ["alice"]);
    assert_eq!(members.items.len(), 1);
    let groups = e
        .list_groups_for_user(acct, "alice", None, 100)
        .await
        .unwrap();
    assert_eq!(groups.items[0].name, "Devs");

    assert!(matches!(
        e.delete_group(acct, "devs").await,
        Err(EngineError::DeleteConflict(m)) if m.contains("remove users")
    ));
    assert!(matches!(
        e.delete_user(acct, "alice").await,
        Err(EngineError::DeleteConflict(m)) if m.contains("remove users from group")
    ));
    e.remove_user_from_group(acct, "devs", "alice")
        .await
        .unwrap();
    assert!(matches!(
        e.remove_user_from_group(acct, "devs", "alice").await,
        Err(EngineError::NoSuchEntity(_))
    ));
    assert!(e.get_user(acct, "alice").await.unwrap().groups.is_empty());

    e.put_group_policy(acct, "devs", "p", &allow("s3:*", "*"))
        .await
        .unwrap();
    assert!(matches!(
        e.delete_group(acct, "devs").await,
        Err(EngineError::DeleteConflict(m)) if m.contains("delete policies")
    ));
    e.delete_group_policy(acct, "devs", "p").await.unwrap();
    let arn = h.arn("mp");
    e.create_policy(acct, "mp", None, &allow("s3:*", "*"), None)
        .await
        .unwrap();
    e.attach_group_policy(acct, "devs", &arn).await.unwrap();
    assert!(matches!(
        e.delete_group(acct, "devs").await,
        Err(EngineError::DeleteConflict(m)) if m.contains("detach")
    ));
    e.detach_group_policy(acct, "devs", &arn).await.unwrap();
    e.delete_group(acct, "devs").await.unwrap();
    assert!(matches!(
        e.get_group(acct, "devs").await,
        Err(EngineError::NoSuchEntity(_))
    ));
    e.delete_user(acct, "alice").await.unwrap();
}

#[tokio::test]
async fn a_user_gets_the_policies_of_its_groups_and_attachments() {
    let h = harness().await;
    let (acct, e) = (&h.account, &h.engine);
    let alice = h.user("alice").await;
    e.create_bucket(&h.root, "docs", None).await.unwrap();
    assert!(!h.may_list(&alice, "docs").await);

    e.create_group(acct, "devs", None).await.unwrap();
    e.put_group_policy(acct, "devs", "list", &allow("s3:ListBucket", "*"))
        .await
        .unwrap();
    assert!(!h.may_list(&alice, "docs").await, "not a member yet");
    e.add_user_to_group(acct, "devs", "alice").await.unwrap();
    assert!(h.may_list(&alice, "docs").await);

    let arn = h.arn("shared");
    e.create_policy(acct, "shared", None, &allow("s3:ListBucket", "*"), None)
        .await
        .unwrap();
    e.attach_group_policy(acct, "devs", &arn).await.unwrap();
    e.attach_user_policy(acct, "alice", &arn).await.unwrap();
    // The same managed policy through two routes counts once.
    assert_eq!(
        h.policy_names(&alice).await,
        [arn.clone(), "group/devs/inline/list".to_owned()]
    );
    e.delete_group_policy(acct, "devs", "list").await.unwrap();
    e.remove_user_from_group(acct, "devs", "alice")
        .await
        .unwrap();
    assert!(h.may_list(&alice, "docs").await, "still attached to alice");
    e.detach_user_policy(acct, "alice", &arn).await.unwrap();
    assert!(!h.may_list(&alice, "docs").await);
    assert!(h.policy_names(&alice).await.is_empty());
}

#[tokio::test]
async fn the_default_version_decides_and_versions_follow_iam_rules() {
    let h = harness().await;
    let (acct, e) = (&h.account, &h.engine);
    let alice = h.user("alice").await;
    e.create_bucket(&h.root, "docs", None).await.unwrap();
    let arn = h.arn("p");
    let deny_all = allow("s3:GetObject", "*");
    e.create_policy(acct, "p", None, &deny_all, Some("first"))
        .await
        .unwrap();
    e.attach_user_policy(acct, "alice", &arn).await.unwrap();
    assert!(!h.may_list(&alice, "docs").await);

    let v2 = e
        .create_policy_version(acct, &arn, &allow("s3:ListBucket", "*"), false)
        .await
        .unwrap();
    assert_eq!(v2.version_id, "v2");
    assert!(!h.may_list(&alice, "docs").await, "v2 is not the default");
    e.set_default_policy_version(acct, &arn, "v2")
        .await
        .unwrap();
    assert!(h.may_list(&alice, "docs").await);

    for _ in 3..=5 {
        e.create_policy_version(acct, &arn, &deny_all, false)
            .await
            .unwrap();
    }
    assert!(matches!(
        e.create_policy_version(acct, &arn, &deny_all, true).await,
        Err(EngineError::LimitExceeded(_))
    ));
    assert!(matches!(
        e.delete_policy_version(acct, &arn, "v2").await,
        Err(EngineError::DeleteConflict(_))
    ));
    assert!(matches!(
        e.set_default_policy_version(acct, &arn, "v9").await,
        Err(EngineError::NoSuchEntity(_))
    ));
    e.delete_policy_version(acct, &arn, "v5").await.unwrap();
    // Version ids are never reused.
    let v6 = e
        .create_policy_version(acct, &arn, &deny_all, false)
        .await
        .unwrap();
    assert_eq!(v6.version_id, "v6");

    assert!(matches!(
        e.delete_policy(acct, &arn).await,
        Err(EngineError::DeleteConflict(m)) if m.contains("attached")
    ));
    e.detach_user_policy(acct, "alice", &arn).await.unwrap();
    assert!(matches!(
        e.delete_policy(acct, &arn).await,
        Err(EngineError::DeleteConflict(m)) if m.contains("more than one version")
    ));
    for v in ["v1", "v3", "v4", "v6"] {
        e.delete_policy_version(acct, &arn, v).await.unwrap();
    }
    e.delete_policy(acct, &arn).await.unwrap();
    assert!(matches!(
        e.get_policy(acct, &arn).await,
        Err(EngineError::NoSuchEntity(_))
    ));
}

#[tokio::test]
async fn policy_arns_must_name_a_policy_of_this_account_with_its_path() {
    let h = harness().await;
    let (acct, e) = (&h.account, &h.engine);
    h.user("alice").await;
    let p = e
        .create_policy(acct, "P", Some("/team/"), &allow("s3:*", "*"), None)
        .await
        .unwrap();
    let arn = format!("arn:aws:iam::{acct}:policy/team/P");
    assert_eq!(p.arn(acct), arn);
    assert!(matches!(
        e.create_policy(acct, "p", None, &allow("s3:*", "*"), None)
            .await,
        Err(EngineError::EntityAlreadyExists(_))
    ));
    for wrong in [
        h.arn("P"),
        "arn:aws:iam::000000000000:policy/team/P".to_owned(),
        "arn:aws:iam::aws:policy/NoSuchAwsManagedPolicy".to_owned(),
        "arn:aws:iam::aws:policy/service-role/AdministratorAccess".to_owned(),
    ] {
        assert!(
            matches!(
                e.attach_user_policy(acct, "alice", &wrong).await,
                Err(EngineError::NoSuchEntity(_))
            ),
            "{wrong}"
        );
    }
    assert!(matches!(
        e.attach_user_policy(acct, "alice", "not-an-arn").await,
        Err(EngineError::InvalidInput(_))
    ));
    assert!(matches!(
        e.detach_user_policy(acct, "alice", &arn).await,
        Err(EngineError::NoSuchEntity(_))
    ));
    e.attach_user_policy(acct, "alice", &arn).await.unwrap();
    e.attach_user_policy(acct, "alice", &arn).await.unwrap();
    assert_eq!(
        e.get_policy(acct, &arn).await.unwrap().attachment_count(),
        1
    );
    assert!(matches!(
        e.delete_user(acct, "alice").await,
        Err(EngineError::DeleteConflict(m)) if m.contains("detach all policies")
    ));
    let crate::PolicyEntities { groups, users, .. } =
        e.list_entities_for_policy(acct, &arn, "/").await.unwrap();
    assert!(groups.is_empty());
    assert_eq!(users[0].name, "alice");
    let attached = e
        .list_attached_user_policies(acct, "alice", "/team/", None, 100)
        .await
        .unwrap();
    assert_eq!(attached.items[0].name, "P");
    let only = e
        .list_policies(acct, PolicyScope::Local, true, "/", None, 100)
        .await
        .unwrap();
    assert_eq!(only.items.len(), 1);
    // The AWS scope holds the AWS-managed catalog, none attached yet.
    let aws = e
        .list_policies(acct, PolicyScope::Aws, false, "/", None, 100)
        .await
        .unwrap();
    assert!(aws.items.iter().all(|p| p.aws_managed && !p.name.eq("P")));
    assert!(aws.items.iter().any(|p| p.name == "AmazonS3ReadOnlyAccess"));
    let aws_attached = e
        .list_policies(acct, PolicyScope::Aws, true, "/", None, 100)
        .await
        .unwrap();
    assert!(aws_attached.items.is_empty());
}

#[tokio::test]
async fn attachment_quota_is_ten_per_user() {
    let h = harness().await;
    let (acct, e) = (&h.account, &h.engine);
    h.user("alice").await;
    for i in 0..=MAX_ATTACHED_POLICIES {
        let name = format!("p{i}");
        e.create_policy(acct, &name, None, &allow("s3:*", "*"), None)
            .await
            .unwrap();
        let res = e.attach_user_policy(acct, "alice", &h.arn(&name)).await;
        if i < MAX_ATTACHED_POLICIES {
            res.unwrap();
        } else {
            assert!(matches!(res, Err(EngineError::LimitExceeded(_))));
        }
    }
}

#[tokio::test]
async fn group_inline_policies_share_the_group_quota() {
    let h = harness().await;
    let (acct, e) = (&h.account, &h.engine);
    e.create_group(acct, "g", None).await.unwrap();
    // About 2,900 characters: over the user inline quota, within the group's,
    // but two of them are not.
    let resources: Vec<String> = (0..75)
        .map(|i| format!("\"arn:aws:s3:::bucket-number-{i:04}/*\""))
        .collect();
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":[{}]}}]}}"#,
        resources.join(",")
    );
    assert!(doc.len() > 5120 / 2 && doc.len() < 5120);
    e.put_group_policy(acct, "g", "a", &doc).await.unwrap();
    // Replacing a policy does not count it twice.
    e.put_group_policy(acct, "g", "a", &doc).await.unwrap();
    assert!(matches!(
        e.put_group_policy(acct, "g", "b", &doc).await,
        Err(EngineError::LimitExceeded(_))
    ));
    assert!(matches!(
        e.put_group_policy(acct, "g", "c", r#"{"Statement":[]}"#)
            .await,
        Err(EngineError::MalformedPolicyDocument(_))
    ));
}

#[test]
fn pages_continue_after_the_marker_even_when_it_is_gone() {
    let items = vec!["a", "b", "c", "d", "e"];
    let key = |s: &&str| (*s).to_owned();
    let first = Page::of(items.clone(), key, None, 2);
    assert_eq!(first.items, ["a", "b"]);
    assert_eq!(first.marker.as_deref(), Some("b"));
    let second = Page::of(items.clone(), key, first.marker.as_deref(), 2);
    assert_eq!(second.items, ["c", "d"]);
    let last = Page::of(items.clone(), key, second.marker.as_deref(), 2);
    assert_eq!(last.items, ["e"]);
    assert!(!last.is_truncated());
    let gone = Page::of(vec!["a", "c"], key, Some("b"), 2);
    assert_eq!(gone.items, ["c"]);
}
