//! Order-preserving key layout.
//!
//! Bucket names never contain NUL and object keys are refused if they do, so
//! `bucket NUL key` sorts first by bucket and then by key in UTF-8 byte order,
//! which is the order S3 lists in. UTF-8 never contains the byte 0xFF, so
//! `prefix 0xFF` is a key greater than every key that starts with `prefix`:
//! listing uses it to skip a whole common prefix with one seek.

/// A key greater than every key that starts with `prefix`.
pub fn after_prefix(prefix: &[u8]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.push(0xFF);
    k
}

pub fn bucket(bucket: &str) -> Vec<u8> {
    bucket.as_bytes().to_vec()
}

/// The first key of a bucket's range in Objects and Uploads.
pub fn bucket_start(bucket: &str) -> Vec<u8> {
    let mut k = bucket.as_bytes().to_vec();
    k.push(0);
    k
}

/// The exclusive end of a bucket's range in Objects and Uploads.
pub fn bucket_end(bucket: &str) -> Vec<u8> {
    let mut k = bucket.as_bytes().to_vec();
    k.push(1);
    k
}

pub fn object(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = bucket_start(bucket);
    k.extend_from_slice(key.as_bytes());
    k
}

/// The object key part of an Objects table key.
pub fn object_key_of(bucket: &str, table_key: &[u8]) -> Option<String> {
    let rest = table_key.get(bucket.len() + 1..)?;
    String::from_utf8(rest.to_vec()).ok()
}

/// The first key of `bucket/key`'s noncurrent versions.
pub fn versions_start(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = object(bucket, key);
    k.push(0);
    k
}

/// The exclusive end of `bucket/key`'s noncurrent versions.
pub fn versions_end(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = object(bucket, key);
    k.push(1);
    k
}

/// A noncurrent version: inverted stamps list the newest first.
pub fn version(bucket: &str, key: &str, stamp: u64) -> Vec<u8> {
    let mut k = versions_start(bucket, key);
    k.extend_from_slice(&(!stamp).to_be_bytes());
    k
}

pub fn upload(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut k = object(bucket, key);
    k.push(0);
    k.extend_from_slice(upload_id.as_bytes());
    k
}

pub fn part(upload_id: &str, part_number: u32) -> Vec<u8> {
    let mut k = upload_prefix(upload_id);
    k.extend_from_slice(&part_number.to_be_bytes());
    k
}

pub fn upload_prefix(upload_id: &str) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.push(0);
    k
}

pub fn upload_prefix_end(upload_id: &str) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.push(1);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_sort_by_bucket_then_key_bytes() {
        let mut keys = [
            object("b", "z"),
            object("a-b", "a"),
            object("a", "é"),
            object("a", "a/b"),
            object("a", "a"),
            object("a", "a0"),
        ];
        keys.sort();
        let decoded: Vec<_> = keys
            .iter()
            .map(|k| String::from_utf8_lossy(k).replace('\0', "|"))
            .collect();
        assert_eq!(decoded, ["a|a", "a|a/b", "a|a0", "a|é", "a-b|a", "b|z"]);
    }

    #[test]
    fn bucket_range_contains_only_that_bucket() {
        let (s, e) = (bucket_start("a"), bucket_end("a"));
        assert!(object("a", "x") >= s && object("a", "x") < e);
        assert!(object("a-b", "x") >= e);
        assert!(object("a", &"\u{10FFFF}".repeat(3)) < e);
    }

    #[test]
    fn versions_sort_newest_first_within_their_key() {
        let mut keys = [
            version("b", "a", 1),
            version("b", "a/", 9),
            version("b", "a", 7),
            version("b", "a", u64::MAX),
        ];
        keys.sort();
        assert_eq!(keys[0], version("b", "a", u64::MAX));
        assert_eq!(keys[1], version("b", "a", 7));
        assert_eq!(keys[2], version("b", "a", 1));
        let (s, e) = (versions_start("b", "a"), versions_end("b", "a"));
        assert!(keys[..3].iter().all(|k| *k >= s && *k < e));
        assert!(keys[3] >= e, "another key's versions are outside the range");
    }

    #[test]
    fn after_prefix_skips_every_key_with_the_prefix() {
        let p = object("a", "dir/");
        let skip = after_prefix(&p);
        assert!(object("a", "dir/\u{10FFFF}\u{10FFFF}") < skip);
        assert!(object("a", "dir0") > skip);
    }
}
