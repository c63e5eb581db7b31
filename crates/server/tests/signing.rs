//! Authentication edge cases against the running server.

use crate::util::*;

/// An aws-chunked body with chunk signatures.
fn chunked_body(
    signer: &coffer_sigv4::Signer<'_>,
    seed: &str,
    data: &[u8],
    chunk: usize,
    tamper: bool,
) -> Vec<u8> {
    chunked_body_with_trailer(signer, seed, data, chunk, tamper, None)
}

/// With `trailer`, the final chunk is followed by that trailing header and
/// its signature.
fn chunked_body_with_trailer(
    signer: &coffer_sigv4::Signer<'_>,
    seed: &str,
    data: &[u8],
    chunk: usize,
    tamper: bool,
    trailer: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = seed.to_owned();
    let mut chunks: Vec<&[u8]> = data.chunks(chunk).collect();
    chunks.push(&[]);
    for c in chunks {
        let sig = signer.chunk_signature(&prev, c);
        out.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes());
        let mut bytes = c.to_vec();
        if tamper && !bytes.is_empty() {
            bytes[0] ^= 1;
        }
        out.extend_from_slice(&bytes);
        if c.is_empty() && trailer.is_some() {
            prev = sig;
            break;
        }
        out.extend_from_slice(b"\r\n");
        prev = sig;
    }
    if let Some(t) = trailer {
        let line = format!("{t}\n");
        let sig = signer.trailer_signature(&prev, &line);
        out.extend_from_slice(format!("{t}\r\nx-amz-trailer-signature:{sig}\r\n\r\n").as_bytes());
    }
    out
}

fn streaming_put(server: &Server, path: &str, data: &[u8], tamper: bool) -> Response {
    let date = amz_date(0);
    let signer = coffer_sigv4::Signer {
        access_key: ACCESS,
        secret_key: SECRET,
        region: "us-east-1",
        service: "s3",
        amz_date: &date,
    };
    // The encoded length is needed before signing: build once to measure.
    let len = chunked_body(&signer, &"0".repeat(64), data, 65536, false).len();
    let headers = vec![
        ("Host".to_owned(), server.addr.clone()),
        ("x-amz-date".to_owned(), date.clone()),
        (
            "x-amz-content-sha256".to_owned(),
            coffer_sigv4::STREAMING_PAYLOAD.to_owned(),
        ),
        ("Content-Encoding".to_owned(), "aws-chunked".to_owned()),
        (
            "x-amz-decoded-content-length".to_owned(),
            data.len().to_string(),
        ),
        ("Content-Length".to_owned(), len.to_string()),
    ];
    let req = coffer_sigv4::Request {
        method: "PUT",
        path,
        query: vec![],
        headers: headers.clone(),
        payload_hash: coffer_sigv4::STREAMING_PAYLOAD,
    };
    let auth = signer.authorization(&req);
    let seed = auth.rsplit('=').next().unwrap_or_default().to_owned();
    let body = chunked_body(&signer, &seed, data, 65536, tamper);
    let mut all = headers;
    all.push(("Authorization".to_owned(), auth));
    send(&server.addr, "PUT", &target(path, &[]), &all, &body)
}

#[test]
fn signed_streaming_uploads_store_the_payload_and_reject_tampered_chunks() {
    let server = Server::start();
    assert_eq!(signed(&server, "PUT", "/chunky", &[], b"", 0).status, 200);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();

    let ok = streaming_put(&server, "/chunky/good", &data, false);
    assert_eq!(ok.status, 200, "{}", ok.text());
    let got = signed(&server, "GET", "/chunky/good", &[], b"", 0);
    assert_eq!(got.status, 200);
    assert!(
        got.body == data,
        "stored bytes are the payload, without chunk framing"
    );

    let bad = streaming_put(&server, "/chunky/bad", &data, true);
    assert_eq!(bad.status, 403, "{}", bad.text());
    assert!(
        bad.text().contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        bad.text()
    );
    assert_eq!(
        signed(&server, "HEAD", "/chunky/bad", &[], b"", 0).status,
        404,
        "nothing is stored"
    );
}

#[test]
fn signatures_are_checked_for_secret_key_body_hash_and_clock() {
    let server = Server::start();
    assert_eq!(signed(&server, "PUT", "/sigs", &[], b"", 0).status, 200);

    let skewed = signed(&server, "GET", "/sigs", &[], b"", -20 * 60);
    assert_eq!(skewed.status, 403);
    assert!(
        skewed.text().contains("RequestTimeTooSkewed"),
        "{}",
        skewed.text()
    );

    // A body that does not match the signed x-amz-content-sha256.
    let date = amz_date(0);
    let declared = coffer_sigv4::sha256_hex(b"declared");
    let headers = vec![
        ("Host".to_owned(), server.addr.clone()),
        ("x-amz-date".to_owned(), date.clone()),
        ("x-amz-content-sha256".to_owned(), declared.clone()),
    ];
    let signer = coffer_sigv4::Signer {
        access_key: ACCESS,
        secret_key: SECRET,
        region: "us-east-1",
        service: "s3",
        amz_date: &date,
    };
    let auth = signer.authorization(&coffer_sigv4::Request {
        method: "PUT",
        path: "/sigs/k",
        query: vec![],
        headers: headers.clone(),
        payload_hash: &declared,
    });
    let mut all = headers;
    all.push(("Authorization".to_owned(), auth));
    let r = send(&server.addr, "PUT", "/sigs/k", &all, b"actually!");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("XAmzContentSHA256Mismatch"),
        "{}",
        r.text()
    );
    assert_eq!(signed(&server, "HEAD", "/sigs/k", &[], b"", 0).status, 404);

    // Every error body names its request id, like the header.
    assert!(
        r.header("x-amz-request-id")
            .is_some_and(|id| r.text().contains(id))
    );
}

#[test]
fn presigned_urls_work_until_they_expire() {
    let server = Server::start();
    assert_eq!(signed(&server, "PUT", "/pre", &[], b"", 0).status, 200);
    assert_eq!(
        signed(&server, "PUT", "/pre/obj", &[], b"hello", 0).status,
        200
    );
    let url = |date_offset: i64, expires: u64| {
        let date = amz_date(date_offset);
        let signer = coffer_sigv4::Signer {
            access_key: ACCESS,
            secret_key: SECRET,
            region: "us-east-1",
            service: "s3",
            amz_date: &date,
        };
        let q = signer.presign(
            &coffer_sigv4::Request {
                method: "GET",
                path: "/pre/obj",
                query: vec![],
                headers: vec![("host".to_owned(), server.addr.clone())],
                payload_hash: coffer_sigv4::UNSIGNED_PAYLOAD,
            },
            expires,
        );
        target("/pre/obj", &q)
    };
    let host = vec![("Host".to_owned(), server.addr.clone())];
    let fresh = send(&server.addr, "GET", &url(0, 60), &host, b"");
    assert_eq!(fresh.status, 200, "{}", fresh.text());
    assert_eq!(fresh.body, b"hello");
    let expired = send(&server.addr, "GET", &url(-120, 60), &host, b"");
    assert_eq!(expired.status, 403);
    assert!(
        expired.text().contains("Request has expired"),
        "{}",
        expired.text()
    );
    let too_long = send(&server.addr, "GET", &url(0, 8 * 24 * 3600), &host, b"");
    assert_ne!(too_long.status, 200, "presigned URLs are limited to 7 days");
    // A negative lifetime expired before it began (S3: 403, not 400).
    let negative = url(0, 60).replace("X-Amz-Expires=60", "X-Amz-Expires=-60");
    assert!(negative.contains("X-Amz-Expires=-60"), "{negative}");
    let r = send(&server.addr, "GET", &negative, &host, b"");
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("Request has expired"), "{}", r.text());
}

#[test]
fn signed_streaming_uploads_with_a_checksum_trailer_are_verified() {
    let server = Server::start();
    assert_eq!(signed(&server, "PUT", "/trailers", &[], b"", 0).status, 200);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
    let put = |key: &str, crc: &str, forge_trailer_signature: bool| {
        let date = amz_date(0);
        let signer = coffer_sigv4::Signer {
            access_key: ACCESS,
            secret_key: SECRET,
            region: "us-east-1",
            service: "s3",
            amz_date: &date,
        };
        let trailer = format!("x-amz-checksum-crc32:{crc}");
        let len = chunked_body_with_trailer(
            &signer,
            &"0".repeat(64),
            &data,
            65536,
            false,
            Some(&trailer),
        )
        .len();
        let headers = vec![
            ("Host".to_owned(), server.addr.clone()),
            ("x-amz-date".to_owned(), date.clone()),
            (
                "x-amz-content-sha256".to_owned(),
                coffer_sigv4::STREAMING_PAYLOAD_TRAILER.to_owned(),
            ),
            ("Content-Encoding".to_owned(), "aws-chunked".to_owned()),
            (
                "x-amz-decoded-content-length".to_owned(),
                data.len().to_string(),
            ),
            (
                "x-amz-trailer".to_owned(),
                "x-amz-checksum-crc32".to_owned(),
            ),
            ("Content-Length".to_owned(), len.to_string()),
        ];
        let path = format!("/trailers/{key}");
        let auth = signer.authorization(&coffer_sigv4::Request {
            method: "PUT",
            path: &path,
            query: vec![],
            headers: headers.clone(),
            payload_hash: coffer_sigv4::STREAMING_PAYLOAD_TRAILER,
        });
        let seed = auth.rsplit('=').next().unwrap_or_default().to_owned();
        let mut body =
            chunked_body_with_trailer(&signer, &seed, &data, 65536, false, Some(&trailer));
        if forge_trailer_signature {
            let at = body.len() - 4 - 64;
            body[at..at + 64].copy_from_slice(&[b'0'; 64]);
        }
        let mut all = headers;
        all.push(("Authorization".to_owned(), auth));
        send(&server.addr, "PUT", &target(&path, &[]), &all, &body)
    };
    // CRC32 of the data, base64 of its big-endian bytes.
    let crc = {
        let mut h = coffer_types::ChecksumHasher::new(coffer_types::ChecksumAlgorithm::Crc32);
        h.update(&data);
        h.finalize_base64()
    };
    let ok = put("good", &crc, false);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    let got = signed(&server, "GET", "/trailers/good", &[], b"", 0);
    assert!(
        got.body == data,
        "stored bytes are the payload, without framing or trailer"
    );

    let bad = put("bad", "AAAAAA==", false);
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(
        bad.text().contains("<Code>BadDigest</Code>"),
        "{}",
        bad.text()
    );
    assert_eq!(
        signed(&server, "HEAD", "/trailers/bad", &[], b"", 0).status,
        404
    );

    let forged = put("forged", &crc, true);
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert!(
        forged.text().contains("SignatureDoesNotMatch"),
        "{}",
        forged.text()
    );
    assert_eq!(
        signed(&server, "HEAD", "/trailers/forged", &[], b"", 0).status,
        404
    );
}
