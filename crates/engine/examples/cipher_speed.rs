//! The speed of the per-byte work on Coffer's data path, one core, 1 GiB in
//! 256 KiB blocks: AES-256-CTR (SSE decryption and encryption, the `aes` and
//! `ctr` crates the engine uses) and MD5 (the ETag, `md-5`). BENCHMARKS.md
//! compares these with `openssl speed` to say what a large GET or PUT cannot
//! go below.
//!
//! Usage: `cargo run --release -p coffer-engine --example cipher_speed`

use std::time::Instant;

use ctr::cipher::{KeyIvInit, StreamCipher};
use md5::Digest;

const BLOCK: usize = 256 * 1024;
const BLOCKS: usize = 4096;

fn mb_per_sec(started: Instant) -> f64 {
    (BLOCK * BLOCKS) as f64 / started.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let mut buf = vec![1u8; BLOCK];
    let mut cipher = ctr::Ctr128BE::<aes::Aes256>::new(&[7u8; 32].into(), &[9u8; 16].into());
    let started = Instant::now();
    for _ in 0..BLOCKS {
        cipher.apply_keystream(&mut buf);
    }
    println!("AES-256-CTR: {:.0} MB/s", mb_per_sec(started));

    let mut hasher = md5::Md5::new();
    let started = Instant::now();
    for _ in 0..BLOCKS {
        hasher.update(&buf);
    }
    let digest = hasher.finalize();
    println!(
        "MD5: {:.0} MB/s (digest starts {:02x})",
        mb_per_sec(started),
        digest[0]
    );
}
