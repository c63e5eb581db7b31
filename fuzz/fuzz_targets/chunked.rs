//! Coffer's follower of aws-chunked framing (crates/front/src/chunk_seal.rs):
//! it must never panic, and where the body is split into network reads must
//! not change what it concludes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, Vec<u16>)| {
    let (body, cuts) = input;
    let whole = coffer_front::fuzzing::final_chunk_seen(&[&body]);
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| *c as usize % (body.len() + 1))
        .collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for p in points {
        pieces.push(&body[at..p]);
        at = p;
    }
    pieces.push(&body[at..]);
    assert_eq!(coffer_front::fuzzing::final_chunk_seen(&pieces), whole);
});
