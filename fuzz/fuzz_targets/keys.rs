//! The key codec of the metadata store (crates/meta/src/keys.rs) and the
//! name rules in front of it: parsing never panics, and for valid names the
//! encoded keys sort as S3 lists (bucket, then key in UTF-8 byte order,
//! then versions newest first), decode back, and keep every key's versions
//! inside that key's range.
#![no_main]

use coffer_meta::keys;
use coffer_types::{BucketName, ObjectKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str, &str, u64, u64)| {
    let (bucket, a, b, s1, s2) = input;
    let bucket_ok = BucketName::parse(bucket).is_ok();
    let (Ok(ka), Ok(kb)) = (ObjectKey::parse(a), ObjectKey::parse(b)) else {
        return;
    };
    if !bucket_ok {
        return;
    }
    let (a, b) = (ka.as_str(), kb.as_str());
    let (ta, tb) = (keys::object(bucket, a), keys::object(bucket, b));
    assert_eq!(ta.cmp(&tb), a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(keys::object_key_of(bucket, &ta).as_deref(), Some(a));
    assert!(keys::bucket_start(bucket) <= ta && ta < keys::bucket_end(bucket));
    // Versions: newest (largest stamp) first, inside the key's range, and
    // another key's versions outside it.
    let (va, va2) = (keys::version(bucket, a, s1), keys::version(bucket, a, s2));
    assert_eq!(va.cmp(&va2), s2.cmp(&s1));
    let range = keys::versions_start(bucket, a)..keys::versions_end(bucket, a);
    assert!(range.contains(&va));
    if a != b {
        assert!(!range.contains(&keys::version(bucket, b, s1)));
    }
    // A prefix's upper bound is past every key it starts.
    if a.as_bytes().starts_with(b.as_bytes()) {
        assert!(ta < keys::after_prefix(&tb));
    }
});
