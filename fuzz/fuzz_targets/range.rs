//! Range headers: s3s's parser (which Coffer relies on) and Coffer's
//! resolution against the object size. Nothing may panic, and a resolved
//! range is never empty and never reaches past the object.
#![no_main]

use coffer_engine::ByteRange;
use libfuzzer_sys::fuzz_target;
use s3s::dto::Range;

fuzz_target!(|input: (&str, u64)| {
    let (header, size) = input;
    let Ok(range) = Range::parse(header) else {
        return;
    };
    // As the GetObject handler converts it.
    let byte_range = match range {
        Range::Int { first, last } => ByteRange::From { first, last },
        Range::Suffix { length } => ByteRange::Suffix(length),
    };
    if let Ok(r) = byte_range.resolve(size) {
        assert!(r.start < r.end, "{header:?} on {size} bytes gave {r:?}");
        assert!(r.end <= size, "{header:?} on {size} bytes gave {r:?}");
    }
});
