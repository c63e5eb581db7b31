//! Tests that start the real `coffer` binary on a free loopback port and
//! speak raw HTTP to it, for requests no stock client sends: tampered
//! aws-chunked bodies, skewed clocks, expired presigned URLs.

mod util;

mod signing;
