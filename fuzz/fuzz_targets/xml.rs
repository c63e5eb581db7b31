//! XML request bodies, through s3s's deserializer as the S3 handlers
//! receive them, for every document Coffer accepts. Nothing may panic, and
//! a document that parses serializes to XML that parses back to the same
//! document (Coffer stores tag sets, CORS rules, lifecycle rules and the
//! like, and serves them back with the same serializer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3s::dto;
use s3s::xml::{Deserialize, Deserializer, Serialize, Serializer};

fn parse<T: for<'x> Deserialize<'x>>(bytes: &[u8]) -> Option<T> {
    let mut d = Deserializer::new(bytes);
    let value = T::deserialize(&mut d).ok()?;
    d.expect_eof().ok()?;
    Some(value)
}

fn write<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value
        .serialize(&mut Serializer::new(&mut out))
        .expect("a parsed document serializes");
    out
}

/// Parses `bytes` as a `T`; when it parses, checks the round trip.
fn check<T: for<'x> Deserialize<'x> + Serialize>(bytes: &[u8]) {
    let Some(value) = parse::<T>(bytes) else {
        return;
    };
    let first = write(&value);
    let again: T = parse(&first).unwrap_or_else(|| {
        panic!(
            "serialized {} does not parse back: {:?}",
            std::any::type_name::<T>(),
            String::from_utf8_lossy(&first)
        )
    });
    assert_eq!(first, write(&again), "{}", std::any::type_name::<T>());
}

fuzz_target!(|input: (u8, &[u8])| {
    let (which, bytes) = input;
    match which % 15 {
        0 => check::<dto::Tagging>(bytes),
        1 => check::<dto::Delete>(bytes),
        2 => check::<dto::AccessControlPolicy>(bytes),
        3 => check::<dto::CompletedMultipartUpload>(bytes),
        4 => check::<dto::BucketLifecycleConfiguration>(bytes),
        5 => check::<dto::CORSConfiguration>(bytes),
        6 => check::<dto::VersioningConfiguration>(bytes),
        7 => check::<dto::ServerSideEncryptionConfiguration>(bytes),
        8 => check::<dto::ObjectLockConfiguration>(bytes),
        9 => check::<dto::ObjectLockRetention>(bytes),
        10 => check::<dto::ObjectLockLegalHold>(bytes),
        11 => check::<dto::OwnershipControls>(bytes),
        12 => check::<dto::PublicAccessBlockConfiguration>(bytes),
        13 => check::<dto::WebsiteConfiguration>(bytes),
        _ => check::<dto::CreateBucketConfiguration>(bytes),
    }
});
