"""Hostile input (issue 8): requests a client would never send, each refused with the
error AWS S3 gives, while the server stays up, its memory stays bounded and nothing is
written.

Every test runs against one private server (so its data directory and its memory can be
inspected) and, where it makes a bucket, HEADs that bucket afterwards; an autouse check
after every test asserts the process is alive, answers /-/health and never panicked.
Known deviations from AWS are strict xfails whose reason says what Coffer does and what
AWS does; RELIABILITY.md lists them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import threading
import time
from unittest import mock
from urllib.parse import quote, urlsplit

import botocore.auth
import pytest
from botocore.auth import HmacV1Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import helpers as h
from conftest import REGION, _bucket_name, empty_and_delete_bucket
from helpers import check_error, err, raw_exchange, raw_signed_head, read_response

MiB = 1024 * 1024


# ---------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def srv(server_factory):
    """A private server: its data directory and its process are this module's to inspect."""
    return server_factory()


@pytest.fixture(autouse=True)
def server_survives(srv):
    yield
    assert srv.alive(), f"coffer died: {srv.stderr_tail()}"
    assert h.send(srv.endpoint, "GET", "/-/health", timeout=10).status == 200
    log = srv.stderr_path.read_text(errors="replace")
    assert "panicked" not in log, log[-4000:]


@pytest.fixture
def client(srv):
    return srv.client(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture
def bkt(srv, client, request):
    """A fresh bucket on the private server; still answering HEAD when the test ends."""
    name = _bucket_name(request)
    client.create_bucket(Bucket=name)
    yield name
    assert h.signed(srv, "HEAD", f"/{name}").status == 200
    empty_and_delete_bucket(client, name)


def keys(client, bucket: str) -> list[str]:
    out = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def rss_kib(srv) -> int:
    for line in open(f"/proc/{srv.proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def v2_headers(srv, method: str, path: str, body: bytes = b"",
               headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a SigV2 (HmacV1) request, signed by botocore."""
    req = AWSRequest(method=method, url=srv.endpoint + path, data=body, headers=dict(headers or {}))
    HmacV1Auth(Credentials(srv.access_key, srv.secret_key)).add_auth(req)
    return dict(req.headers.items())


def presigned_path(client, method: str, bucket: str, key: str, expires: int = 300) -> str:
    url = client.generate_presigned_url(method, Params={"Bucket": bucket, "Key": key},
                                        ExpiresIn=expires)
    u = urlsplit(url)
    return f"{u.path}?{u.query}"


def raw_put(srv, path: str, body: bytes, extra: bytes = b"", shut_wr: bool = False,
            content_length: int | None = None) -> h.RawResponse | None:
    """A SigV4 UNSIGNED-PAYLOAD PUT written byte for byte: `extra` header lines (raw bytes,
    each ending in CRLF) go after the signed ones; Content-Length defaults to len(body).
    `shut_wr` half-closes the connection after the body (needed when the body is short;
    hyper drops a connection whose client half-closed before the response is ready)."""
    n = len(body) if content_length is None else content_length
    head = raw_signed_head(srv, "PUT", path, {"Content-Length": str(n)})
    return raw_exchange(srv, head[:-2] + extra + b"\r\n" + body, shut_wr=shut_wr)


# ---------------------------------------------------------------- keys that look like paths
RAW_PATH_KEYS = [
    # (path on the wire, the key S3 stores: no dot-segment or slash normalisation)
    ("/{b}/../../etc/passwd", "../../etc/passwd"),
    ("/{b}/a/b/../../../../../etc/shadow", "a/b/../../../../../etc/shadow"),
    ("/{b}//etc/passwd", "/etc/passwd"),
    ("/{b}/./../x", "./../x"),
    ("/{b}/a%5C..%5C..%5Cwin.ini", "a\\..\\..\\win.ini"),
    ("/{b}/C:%5CWindows%5Cwin.ini", "C:\\Windows\\win.ini"),
]


def test_raw_dot_segments_are_literal_keys_and_stay_inside_data_dir(srv, client, bkt):
    # Sent by hand, so no client library can normalise them: the `..` and `.` segments
    # arrive as written and must be neither resolved nor handed to the filesystem.
    for i, (path, _) in enumerate(RAW_PATH_KEYS):
        put = h.signed(srv, "PUT", path.format(b=bkt), body=f"raw{i}".encode())
        assert put.status == 200, (path, put.status, put.body)
    for i, (path, key) in enumerate(RAW_PATH_KEYS):
        got = h.signed(srv, "GET", path.format(b=bkt))
        assert (got.status, got.body) == (200, f"raw{i}".encode()), path
        assert client.get_object(Bucket=bkt, Key=key)["Body"].read() == f"raw{i}".encode()
    assert sorted(keys(client, bkt)) == sorted({k for _, k in RAW_PATH_KEYS})
    # A bucket segment of `..` is an invalid bucket name, not a way out.
    up = h.signed(srv, "PUT", "/../../etc/passwd", body=b"escape")
    check_error(up, (400, 404), "InvalidBucketName", "NoSuchBucket")
    data = srv.data_dir.resolve()
    assert {p.name for p in data.iterdir()} <= {"meta.redb", "root-credentials", "blobs", "tmp", "FORMAT"}
    for p in data.rglob("*"):
        assert p.resolve().is_relative_to(data), p
        assert not any(f in p.name for f in ("passwd", "shadow", "win.ini", "..", "\\")), p
    assert sorted(p.name for p in data.parent.iterdir() if not p.name.startswith("coffer-stderr")) \
        == ["data"]


# ---------------------------------------------------------------- NUL and control characters
CONTROL_KEYS = ["ctl\x01\x02\x1f", "nl\nkey", "cr\rkey", "crlf\r\nkey", "tab\tkey", "del\x7f",
                "esc\x1b[31mred", "c1\u0085\u2028\u2029", "\ufeffbom", "bell\x07", "\x01"]


def test_control_characters_in_keys_round_trip(client, bkt):
    for i, k in enumerate(CONTROL_KEYS):
        client.put_object(Bucket=bkt, Key=k, Body=f"ctl{i}".encode())
    for i, k in enumerate(CONTROL_KEYS):
        assert client.get_object(Bucket=bkt, Key=k)["Body"].read() == f"ctl{i}".encode(), repr(k)
        assert client.head_object(Bucket=bkt, Key=k)["ContentLength"] == len(f"ctl{i}")
    # botocore lists with encoding-type=url, as AWS advises for keys XML 1.0 cannot carry.
    assert keys(client, bkt) == sorted(CONTROL_KEYS, key=lambda k: k.encode())
    versions = client.list_object_versions(Bucket=bkt)["Versions"]
    assert sorted(v["Key"] for v in versions) == sorted(CONTROL_KEYS)
    # One by one: a DeleteObjects body cannot carry most of these characters (XML 1.0), and
    # AWS documents only &#13; and &#10; for CR and LF there.
    for k in CONTROL_KEYS:
        client.delete_object(Bucket=bkt, Key=k)
    assert keys(client, bkt) == []


@pytest.mark.parametrize("encoded", ["a%00b", "%00", "nul%00/../x"], ids=["mid", "only", "with-dots"])
def test_nul_in_key_is_refused_and_nothing_stored(srv, client, bkt, encoded):
    # Coffer refuses NUL in keys (400 InvalidArgument); the point here is that the refusal
    # is a clean S3 error and that no truncated key ("a") was stored in its place.
    resp = h.signed(srv, "PUT", f"/{bkt}/{encoded}", body=b"nul")
    check_error(resp, 400, "InvalidArgument")
    assert keys(client, bkt) == []
    uid = h.signed(srv, "POST", f"/{bkt}/{encoded}?uploads")
    check_error(uid, 400, "InvalidArgument")
    assert client.list_multipart_uploads(Bucket=bkt).get("Uploads", []) == []


# ---------------------------------------------------------------- key length
def test_key_length_limit_on_every_write_path(client, bkt):
    client.put_object(Bucket=bkt, Key="src", Body=b"source")
    ok_keys = ["k" * 1024, "\U0001f600" * 256, "k" * 1022 + "\u00e9"]  # 1024 UTF-8 bytes each
    long_keys = ["k" * 1025, "k" * 1023 + "\u00e9", "\u4e2d" * 342, "k" * 8000]  # > 1024 bytes
    for k in ok_keys:
        assert len(k.encode()) == 1024
    for k in long_keys:
        assert len(k.encode()) > 1024
        for call in (lambda: client.put_object(Bucket=bkt, Key=k, Body=b"x"),
                     lambda: client.create_multipart_upload(Bucket=bkt, Key=k),
                     lambda: client.copy_object(Bucket=bkt, Key=k, CopySource=f"{bkt}/src")):
            with pytest.raises(ClientError) as ei:
                call()
            assert err(ei) == ("KeyTooLongError", 400), len(k.encode())
    assert keys(client, bkt) == ["src"]
    assert client.list_multipart_uploads(Bucket=bkt).get("Uploads", []) == []
    for k in ok_keys:
        client.put_object(Bucket=bkt, Key=k, Body=b"fits")
        client.copy_object(Bucket=bkt, Key=k, CopySource=f"{bkt}/src")
        assert client.get_object(Bucket=bkt, Key=k)["Body"].read() == b"source"
        uid = client.create_multipart_upload(Bucket=bkt, Key=k)["UploadId"]
        client.abort_multipart_upload(Bucket=bkt, Key=k, UploadId=uid)
    assert sorted(keys(client, bkt)) == sorted(ok_keys + ["src"])


# ---------------------------------------------------------------- oversized and flooding headers
def test_oversized_and_flooding_headers_are_refused(srv, client, bkt):
    path = h.object_path(bkt, "hdr")
    cases = {
        "one 1 MiB header": b"X-Big: " + b"a" * MiB + b"\r\n",
        "5000 headers": b"".join(b"X-H%d: v\r\n" % i for i in range(5000)),
        "200 headers": b"".join(b"X-H%d: v\r\n" % i for i in range(200)),
    }
    for name, extra in cases.items():
        resp = raw_put(srv, path, b"body", extra)
        assert resp is not None and resp.status in (400, 431), (name, resp)
        assert keys(client, bkt) == [], name
    # A request at the edge of the header limit still gets an answer.
    ok = raw_put(srv, path, b"body", b"".join(b"X-H%d: v\r\n" % i for i in range(80)))
    assert ok is not None and ok.status == 200, ok
    assert keys(client, bkt) == ["hdr"]


@pytest.mark.parametrize("size", [9000, 200 * 1024], ids=["9000-bytes", "200-KiB"])
def test_user_metadata_over_2kb_is_metadata_too_large(srv, client, bkt, size):
    client.put_object(Bucket=bkt, Key="meta-ok", Body=b"x", Metadata={"m": "a" * 1900})
    resp = raw_put(srv, h.object_path(bkt, "meta-big"), b"x",
                   b"x-amz-meta-m: " + b"a" * size + b"\r\n")
    assert resp is not None, "no answer"
    if size > 64 * 1024:
        # Beyond the server's 64 KiB header buffer the HTTP layer refuses the request
        # before S3 sees it (S3 itself allows 8 KB of headers in all).
        assert resp.status == 431, (resp.status, resp.body)
    else:
        check_error(resp, 400, "MetadataTooLarge")
    assert keys(client, bkt) == ["meta-ok"]


# ---------------------------------------------------------------- slow-drip connections
DRIP_DEADLINE = 20.0


def _closed_within(sock: socket.socket, deadline: float,
                   drip: bytes | None) -> tuple[float, bytes] | None:
    """Drip one byte of `drip` a second (or stay silent) until the server closes the
    connection or answers; the time that took and what it answered, or None if it was still
    open at `deadline`."""
    start = time.monotonic()
    sock.settimeout(1.0)
    i = 0
    while time.monotonic() - start < deadline:
        if drip is not None:
            try:
                sock.sendall(drip[i % len(drip):i % len(drip) + 1])
            except OSError:
                return time.monotonic() - start, b""
            i += 1
        try:
            answer = sock.recv(65536)  # b"" (closed) or an error response: cut off either way
            return time.monotonic() - start, answer
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - start, b""
    return None


@pytest.mark.parametrize("case", [
    "headers one byte a second",
    "silent after connecting",
    "body one byte a second",
])
def test_slow_drip_connections_are_cut_off(srv, client, bkt, case):
    host = srv.host_port.encode()
    head = raw_signed_head(srv, "PUT", h.object_path(bkt, "drip"), {"Content-Length": "1000"})
    conns = {
        "headers one byte a second": (b"GET /" + bkt.encode() + b" HTTP/1.1\r\nHost: " + host
                                      + b"\r\n", b"X-Drip: aaaaaaaaaaaaaaaaaaaa"),
        "silent after connecting": (b"", None),
        "body one byte a second": (head, b"b"),
    }
    first, drip = conns[case]
    results: dict[str, tuple[float, bytes] | None] = {}

    def run() -> None:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            if first:
                s.sendall(first)
            results[case] = _closed_within(s, DRIP_DEADLINE, drip)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(1)
    # Other clients are served meanwhile.
    assert h.signed(srv, "HEAD", f"/{bkt}").status == 200
    t.join(DRIP_DEADLINE + 15)
    assert keys(client, bkt) == []
    assert results.get(case) is not None, f"still open after {DRIP_DEADLINE:.0f} s"
    if case == "body one byte a second":
        # The body may take 10 s plus a second per 500 bytes delivered: RequestTimeout.
        took, answer = results[case]
        assert answer.startswith(b"HTTP/1.1 400 ") and b"<Code>RequestTimeout</Code>" in answer, answer
        assert 9 < took < 13, took


# ---------------------------------------------------------------- bodies vs Content-Length
def test_body_longer_than_content_length(srv, client, bkt):
    body = b"0123456789" + b"EXTRA-BYTES"
    path = h.object_path(bkt, "long")
    # Signed payload: the server hashes the 10 bytes Content-Length announces.
    hdrs = h.sign_v4(srv.endpoint, srv.access_key, srv.secret_key, "PUT", path, {},
                     payload_hash=hashlib.sha256(body).hexdigest())
    lines = [f"PUT {path} HTTP/1.1", f"Host: {srv.host_port}", "Content-Length: 10"]
    resp = raw_exchange(srv, ("\r\n".join(lines + [f"{k}: {v}" for k, v in hdrs.items()])
                              + "\r\n\r\n").encode() + body, shut_wr=False)
    check_error(resp, 400, "XAmzContentSHA256Mismatch")
    # Content-MD5 of everything sent: the 10 bytes read do not match it.
    resp = raw_put(srv, path, body, f"Content-MD5: {h.md5_b64(body)}\r\n".encode(),
                   content_length=10)
    check_error(resp, 400, "BadDigest")
    assert keys(client, bkt) == []
    # Unchecked payload: exactly the announced bytes are the object, and the surplus is
    # not taken for anything that writes.
    resp = raw_put(srv, path, b"0123456789PUT /" + bkt.encode() + b"/smuggled HTTP/1.1\r\n\r\n",
                   content_length=10)
    assert resp is not None and resp.status == 200, resp
    assert client.get_object(Bucket=bkt, Key="long")["Body"].read() == b"0123456789"
    assert keys(client, bkt) == ["long"]


def test_body_shorter_than_content_length_is_incomplete_body(srv, client, bkt):
    client.put_object(Bucket=bkt, Key="kept", Body=b"original")
    for key in ("fresh", "kept"):
        resp = raw_put(srv, h.object_path(bkt, key), b"x" * 10, content_length=1000, shut_wr=True)
        check_error(resp, 400, "IncompleteBody")
    uid = client.create_multipart_upload(Bucket=bkt, Key="mp")["UploadId"]
    resp = raw_put(srv, f"{h.object_path(bkt, 'mp')}?partNumber=1&uploadId={uid}", b"p" * 100,
                   content_length=6 * MiB, shut_wr=True)
    check_error(resp, 400, "IncompleteBody")
    assert client.list_parts(Bucket=bkt, Key="mp", UploadId=uid).get("Parts", []) == []
    assert keys(client, bkt) == ["kept"]
    assert client.get_object(Bucket=bkt, Key="kept")["Body"].read() == b"original"
    client.abort_multipart_upload(Bucket=bkt, Key="mp", UploadId=uid)


# ---------------------------------------------------------------- broken aws-chunked framing
def _flip_signature(i: int):
    def tamper(frames: list[bytes]) -> bytes:
        f = bytearray(frames[i])
        j = f.index(b"chunk-signature=") + len(b"chunk-signature=")
        f[j] = ord("0") if f[j] != ord("0") else ord("1")
        frames = list(frames)
        frames[i] = bytes(f)
        return b"".join(frames)
    return tamper


def _replace_size(i: int, size: bytes):
    def tamper(frames: list[bytes]) -> bytes:
        frames = list(frames)
        frames[i] = size + frames[i][frames[i].index(b";"):]
        return b"".join(frames)
    return tamper


def _no_signatures(frames: list[bytes]) -> bytes:
    return b"".join(f[:f.index(b";")] + f[f.index(b"\r\n"):] for f in frames)


CHUNKED_CASES = [
    # tamper, expected status, acceptable codes
    pytest.param(_flip_signature(0), 403, {"SignatureDoesNotMatch"}, id="first-signature-flipped"),
    pytest.param(_flip_signature(1), 403, {"SignatureDoesNotMatch"}, id="middle-signature-flipped"),
    pytest.param(_flip_signature(-1), 403, {"SignatureDoesNotMatch"}, id="final-signature-flipped"),
    pytest.param(lambda f: f[1] + f[0] + b"".join(f[2:]), 403, {"SignatureDoesNotMatch"},
                 id="chunks-reordered"),
    pytest.param(lambda f: b"".join(f[:-2]) + f[-1], 403, {"SignatureDoesNotMatch"},
                 id="data-chunk-dropped"),
    pytest.param(_replace_size(1, b"zzzzz"), 400, {"InvalidRequest", "IncompleteBody"},
                 id="size-not-hex"),
    pytest.param(_replace_size(1, b"-1"), 400, {"InvalidRequest", "IncompleteBody"},
                 id="size-negative"),
    pytest.param(_replace_size(1, b"fffff"), 400, {"InvalidRequest", "IncompleteBody"},
                 id="size-beyond-body"),
    pytest.param(_replace_size(1, b"f" * 40), 400, {"InvalidRequest", "IncompleteBody"},
                 id="size-overflows-u64"),
    pytest.param(lambda f: f[0] + f[1][:1000], 400, {"IncompleteBody", "InvalidRequest"},
                 id="chunk-data-truncated"),
    pytest.param(lambda f: f[0] + f[1][:-2] + b"".join(f[2:]), 400,
                 {"InvalidRequest", "IncompleteBody"}, id="crlf-missing"),
    pytest.param(lambda f: b"".join(f) + b"garbage", 400, {"InvalidRequest", "IncompleteBody"},
                 id="garbage-after-final"),
    pytest.param(_no_signatures, (400, 403),
                 {"InvalidRequest", "IncompleteBody", "SignatureDoesNotMatch"},
                 id="signatures-missing"),
    pytest.param(lambda f: b"".join(f[:-2]), 400, {"IncompleteBody", "InvalidRequest"},
                 id="last-data-and-final-chunk-missing"),
    pytest.param(lambda f: b"".join(f[:-1]), 400,
                 {"IncompleteBody", "InvalidRequest", "SignatureDoesNotMatch"},
                 id="final-chunk-missing"),
]


@pytest.mark.parametrize("tamper,status,codes", CHUNKED_CASES)
def test_broken_aws_chunked_framing_is_refused(srv, client, bkt, tamper, status, codes):
    client.put_object(Bucket=bkt, Key="obj", Body=b"previous version")
    data = os.urandom(200 * 1024)  # four 64 KiB chunks, the last one short, then the final one
    assert h.put_streaming_signed(srv, bkt, "control", data).status == 200
    resp = h.put_streaming_signed(srv, bkt, "obj", data, tamper=tamper)
    check_error(resp, status, *codes)
    assert sorted(keys(client, bkt)) == ["control", "obj"]
    assert client.get_object(Bucket=bkt, Key="obj")["Body"].read() == b"previous version"
    assert client.get_object(Bucket=bkt, Key="control")["Body"].read() == data


# Found by fuzz/fuzz_targets/request.rs: a document body (here a Tagging document, or the
# body of a CreateBucket) sent aws-chunked with broken framing could not be read, and s3s
# answered 500 InternalError. (s3s takes no document aws-chunked, even well framed: it
# compares the decoded length with Content-Length and answers 400 IncompleteBody. No SDK
# sends documents that way.)
DOC = (b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>")


@pytest.mark.parametrize("frames", [
    pytest.param(lambda f: f[-1] * 3, id="three-final-chunks"),
    pytest.param(lambda f: f[0][:-5], id="cut-inside-a-chunk"),
    pytest.param(lambda f: f[0], id="final-chunk-missing"),
    pytest.param(lambda f: b"zz;chunk-signature=00\r\n", id="garbage-size"),
    pytest.param(lambda f: b"", id="no-chunk-at-all"),
])
@pytest.mark.parametrize("query", ["tagging=", ""], ids=["put-bucket-tagging", "create-bucket"])
def test_unreadable_chunked_documents_are_client_errors(srv, client, bkt, frames, query):
    client.put_bucket_tagging(Bucket=bkt, Tagging={"TagSet": [{"Key": "was", "Value": "here"}]})
    resp = h.put_streaming_signed(srv, bkt, None, DOC, tamper=frames, query=query)
    check_error(resp, (400, 403), "IncompleteBody", "InvalidRequest", "SignatureDoesNotMatch")
    assert client.get_bucket_tagging(Bucket=bkt)["TagSet"] == [{"Key": "was", "Value": "here"}]


# ---------------------------------------------------------------- malformed XML bodies
def _deep(root: bytes, inner: bytes = b"x", depth: int = 100_000) -> bytes:
    return (b"<" + root + b">" + (b"<" + inner + b">") * depth + (b"</" + inner + b">") * depth
            + b"</" + root + b">")


XXE = (b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
       b"<ROOT><TagSet><Tag><Key>a</Key><Value>&e;</Value></Tag></TagSet></ROOT>")
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
          b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
          b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY f "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>'
          b"<ROOT><TagSet><Tag><Key>a</Key><Value>&f;</Value></Tag></TagSet></ROOT>")
BAD_XML = {
    "text": lambda root: b"this is not xml",
    "empty": lambda root: b"",
    "truncated": lambda root: b"<" + root + b"><TagSet><Tag><Key>a</Key>",
    "mismatched-tags": lambda root: b"<" + root + b"></Wrong>",
    "wrong-root": lambda root: b"<Wrong/>",
    "xxe": lambda root: XXE.replace(b"ROOT", root),
    "billion-laughs": lambda root: LAUGHS.replace(b"ROOT", root),
    "deep-nesting": lambda root: _deep(root),
    "invalid-utf8": lambda root: b"<" + root + b"><\xff\xfe>v</\xff\xfe></" + root + b">",
}
XML_TARGETS = {
    # name: (method, query, root element, how to read the configuration back)
    "put-bucket-tagging": ("PUT", "tagging", b"Tagging", "GET"),
    "put-bucket-lifecycle": ("PUT", "lifecycle", b"LifecycleConfiguration", "GET"),
    "put-bucket-versioning": ("PUT", "versioning", b"VersioningConfiguration", "GET"),
    "put-bucket-cors": ("PUT", "cors", b"CORSConfiguration", "GET"),
    "put-bucket-acl": ("PUT", "acl", b"AccessControlPolicy", "GET"),
    "put-bucket-encryption": ("PUT", "encryption", b"ServerSideEncryptionConfiguration", "GET"),
    "put-object-tagging": ("PUT", "OBJ?tagging", b"Tagging", "GET"),
    "delete-objects": ("POST", "delete", b"Delete", None),
    "complete-multipart-upload": ("POST", "UPLOAD", b"CompleteMultipartUpload", None),
}


def _config_snapshot(srv, path: str) -> tuple[int, bytes]:
    r = h.signed(srv, "GET", path)
    return r.status, r.body.replace(r.headers.get("x-amz-request-id", "").encode(), b"")


def _xml_cases():
    for target in XML_TARGETS:
        for kind in BAD_XML:
            yield pytest.param(target, kind, id=f"{target}-{kind}")


@pytest.mark.parametrize("target,body_kind", list(_xml_cases()))
def test_malformed_xml_bodies_are_malformed_xml(srv, client, bkt, target, body_kind):
    method, query, root, _ = XML_TARGETS[target]
    client.put_object(Bucket=bkt, Key="obj", Body=b"still here")
    client.put_object_tagging(Bucket=bkt, Key="obj", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    client.put_bucket_tagging(Bucket=bkt, Tagging={"TagSet": [{"Key": "bk", "Value": "bv"}]})
    uid = None
    if query == "UPLOAD":
        uid = client.create_multipart_upload(Bucket=bkt, Key="mp")["UploadId"]
        client.upload_part(Bucket=bkt, Key="mp", UploadId=uid, PartNumber=1, Body=b"part")
        path = f"{h.object_path(bkt, 'mp')}?uploadId={uid}"
    elif query.startswith("OBJ?"):
        path = f"{h.object_path(bkt, 'obj')}?{query[4:]}"
    else:
        path = f"/{bkt}?{query}"
    read_back = path if method == "PUT" else None
    before = _config_snapshot(srv, read_back) if read_back else None
    body = BAD_XML[body_kind](root)
    resp = h.signed(srv, method, path, {"Content-MD5": h.md5_b64(body),
                                        "Content-Type": "application/xml"}, body)
    codes = ["MalformedXML"]
    if body_kind == "empty":  # AWS's answer to an empty body
        codes.append("MissingRequestBodyError")
    if target == "put-bucket-acl":  # ... and to a bad or missing ACL
        codes += ["MalformedACLError", "MissingSecurityHeader"]
    check_error(resp, 400, *codes)
    assert b"root:" not in resp.body  # no external entity was resolved into the answer
    # Nothing changed: the configuration, the object, the upload.
    if read_back:
        assert _config_snapshot(srv, read_back) == before
    assert keys(client, bkt) == ["obj"]
    assert client.get_object(Bucket=bkt, Key="obj")["Body"].read() == b"still here"
    if uid:
        parts = client.list_parts(Bucket=bkt, Key="mp", UploadId=uid)["Parts"]
        assert [p["PartNumber"] for p in parts] == [1]
        client.abort_multipart_upload(Bucket=bkt, Key="mp", UploadId=uid)


CONTROL_XML = [
    pytest.param("PUT", "tagging", b"<Tagging><TagSet><Tag><Key>a\x00b</Key><Value>v</Value>"
                 b"</Tag></TagSet></Tagging>", id="bucket-tagging-nul"),
    pytest.param("PUT", "tagging", b"<Tagging><TagSet><Tag><Key>k</Key><Value>v\x01</Value>"
                 b"</Tag></TagSet></Tagging>", id="bucket-tagging-control"),
    pytest.param("PUT", "OBJ?tagging", b"<Tagging><TagSet><Tag><Key>k\x00</Key><Value>v</Value>"
                 b"</Tag></TagSet></Tagging>", id="object-tagging-nul"),
    pytest.param("POST", "delete", b"<Delete><Object><Key>obj\x01</Key></Object></Delete>",
                 id="delete-objects-control"),
]


@pytest.mark.parametrize("method,query,body", CONTROL_XML)
def test_control_characters_in_xml_bodies_are_malformed_xml(srv, client, bkt, method, query, body):
    client.put_object(Bucket=bkt, Key="obj", Body=b"x")
    client.put_object(Bucket=bkt, Key="obj\x01", Body=b"y")
    path = f"{h.object_path(bkt, 'obj')}?{query[4:]}" if query.startswith("OBJ?") \
        else f"/{bkt}?{query}"
    resp = h.signed(srv, method, path, {"Content-MD5": h.md5_b64(body)}, body)
    try:
        check_error(resp, 400, "MalformedXML")
    finally:
        # Whatever was answered, what is served back must still be XML.
        for p in (f"/{bkt}?tagging", f"{h.object_path(bkt, 'obj')}?tagging"):
            got = h.signed(srv, "GET", p)
            if got.status == 200:
                got.xml()
    assert sorted(keys(client, bkt)) == ["obj", "obj\x01"]


@pytest.mark.parametrize("method,query", [("POST", "delete"), ("PUT", "tagging")],
                         ids=["delete-objects", "put-bucket-tagging"])
def test_oversized_xml_body_is_max_message_length_exceeded(srv, client, bkt, method, query):
    # The request announces a 21 MiB document and waits (Expect: 100-continue): the answer
    # must come from Content-Length alone, before any of the body is read.
    client.put_object(Bucket=bkt, Key="x", Body=b"kept")
    size = 21 * MiB
    head = raw_signed_head(srv, method, f"/{bkt}?{query}",
                           {"Content-Length": str(size), "Expect": "100-continue"})
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(head)
        got = read_response(sock)
    assert got is not None, "no answer before the body"
    check_error(h.RawResponse(*got), 400, "MaxMessageLengthExceeded")
    assert keys(client, bkt) == ["x"]


# ---------------------------------------------------------------- malformed JSON
GOOD_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::BUCKET/*"}]}
BAD_JSON = {
    "text": b"not json",
    "empty-object": b"{}",
    "truncated": json.dumps(GOOD_POLICY).encode()[:-5],
    "deep-arrays": b"[" * 100_000 + b"]" * 100_000,
    "deep-objects": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "nul-in-string": json.dumps(GOOD_POLICY).encode().replace(b"GetObject", b"Get\x00Object"),
    "array": b"[]",
    "null": b"null",
    "wrong-types": json.dumps({"Version": 5, "Statement": "x"}).encode(),
    "nan": json.dumps(GOOD_POLICY).encode().replace(b'"2012-10-17"', b"NaN"),
    "huge-number": json.dumps(GOOD_POLICY).encode().replace(b'"2012-10-17"', b"1" + b"0" * 5000),
    "over-20-KiB": json.dumps({**GOOD_POLICY, "Statement": GOOD_POLICY["Statement"] * 300}).encode(),
}


@pytest.mark.parametrize("kind", list(BAD_JSON) + ["invalid-utf8"])
def test_malformed_bucket_policy_is_malformed_policy(srv, client, bkt, kind):
    good = json.dumps(GOOD_POLICY).replace("BUCKET", bkt)
    client.put_bucket_policy(Bucket=bkt, Policy=good)
    if kind == "invalid-utf8":
        body = good.encode().replace(b"GetObject", b"Get\xff\xfeObject")
        codes = ("MalformedPolicy", "InvalidRequest")  # AWS's code for this one is unverified
    else:
        body = BAD_JSON[kind].replace(b"BUCKET", bkt.encode())
        codes = ("MalformedPolicy",)
    resp = h.signed(srv, "PUT", f"/{bkt}?policy", {"Content-MD5": h.md5_b64(body)}, body)
    check_error(resp, 400, *codes)
    assert json.loads(client.get_bucket_policy(Bucket=bkt)["Policy"]) == json.loads(good)


def _iam(srv):
    import boto3
    return boto3.client("iam", endpoint_url=srv.endpoint, region_name=REGION,
                        aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret_key,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def iam_raw(srv, params: bytes) -> h.RawResponse:
    """A SigV4 (service iam) form POST with exactly `params` as its body."""
    req = AWSRequest(method="POST", url=srv.endpoint + "/", data=params,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(srv.access_key, srv.secret_key), "iam", REGION).add_auth(req)
    return h.send(srv.endpoint, "POST", "/", dict(req.headers.items()), params)


def test_malformed_iam_policies_are_refused_and_nothing_is_created(srv):
    iam = _iam(srv)
    user = f"hostile-{os.urandom(4).hex()}"
    iam.create_user(UserName=user)
    identity_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    bad = dict(BAD_JSON)
    bad["over-the-size-quota"] = json.dumps(
        {**identity_policy, "Statement": identity_policy["Statement"] * 200}).encode()
    try:
        for kind, body in bad.items():
            for op in ("put_user_policy", "create_policy"):
                with pytest.raises(ClientError) as ei:
                    if op == "put_user_policy":
                        iam.put_user_policy(UserName=user, PolicyName=f"p-{kind}",
                                            PolicyDocument=body.decode())
                    else:
                        iam.create_policy(PolicyName=f"{user}-{kind}", PolicyDocument=body.decode())
                code, status = err(ei)
                if kind == "over-the-size-quota":
                    assert (code, status) == ("LimitExceeded", 409), (op, kind)
                else:
                    assert (code, status) == ("MalformedPolicyDocument", 400), (op, kind, code)
                assert ei.value.response["ResponseMetadata"]["RequestId"]
        # Garbage instead of a form: an IAM error, not a crash (the byte FF is not UTF-8).
        resp = iam_raw(srv, b"garbage\xff\x00&&&===")
        assert resp.status == 400, resp.body
        assert resp.xml().find(".//{*}Error/{*}Code").text == "MalformedQueryString"
        resp = iam_raw(srv, b"garbage\x00&&&===")
        assert resp.status == 400, resp.body
        assert resp.xml().find(".//{*}Error/{*}Code").text == "MissingAction"
        assert resp.xml().find("{*}RequestId").text == resp.headers["x-amz-request-id"]
        assert iam.list_user_policies(UserName=user)["PolicyNames"] == []
        assert not [p for p in iam.list_policies(Scope="Local")["Policies"]
                    if p["PolicyName"].startswith(user)]
    finally:
        iam.delete_user(UserName=user)


def test_invalid_utf8_in_an_iam_policy_document_is_refused(srv):
    iam = _iam(srv)
    user = f"utf8-{os.urandom(4).hex()}"
    iam.create_user(UserName=user)
    doc = quote(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/KEY*"}]}),
        safe="").replace("KEY", "%FF")
    try:
        resp = iam_raw(srv, (f"Action=PutUserPolicy&Version=2010-05-08&UserName={user}"
                             f"&PolicyName=p&PolicyDocument={doc}").encode())
        assert resp.status == 400, resp.body
        assert iam.list_user_policies(UserName=user)["PolicyNames"] == []
    finally:
        for name in iam.list_user_policies(UserName=user)["PolicyNames"]:
            iam.delete_user_policy(UserName=user, PolicyName=name)
        iam.delete_user(UserName=user)


# ---------------------------------------------------------------- ranges
TEN = b"0123456789"


@pytest.mark.parametrize("spec,status,body,content_range", [
    ("bytes=-5", 206, b"56789", "bytes 5-9/10"),
    ("bytes=-10", 206, TEN, "bytes 0-9/10"),
    ("bytes=-11", 206, TEN, "bytes 0-9/10"),
    ("bytes=-9223372036854775807", 206, TEN, "bytes 0-9/10"),
    ("bytes=0-0", 206, b"0", "bytes 0-0/10"),
    ("bytes=9-", 206, b"9", "bytes 9-9/10"),
    ("bytes=5-5000000000000", 206, b"56789", "bytes 5-9/10"),
    ("bytes=0-9223372036854775807", 206, TEN, "bytes 0-9/10"),
], ids=lambda v: v if isinstance(v, str) and v.startswith("bytes") else None)
def test_satisfiable_ranges_including_huge_ends(srv, client, bkt, spec, status, body, content_range):
    client.put_object(Bucket=bkt, Key="ten", Body=TEN)
    resp = h.signed(srv, "GET", h.object_path(bkt, "ten"), {"Range": spec})
    assert (resp.status, resp.body, resp.headers.get("content-range")) \
        == (status, body, content_range)


@pytest.mark.parametrize("spec", ["bytes=10-", "bytes=-0", "bytes=9223372036854775807-",
                                  "bytes=10-20"])
def test_unsatisfiable_ranges_are_416_invalid_range(srv, client, bkt, spec):
    client.put_object(Bucket=bkt, Key="ten", Body=TEN)
    resp = h.signed(srv, "GET", h.object_path(bkt, "ten"), {"Range": spec})
    check_error(resp, 416, "InvalidRange")


@pytest.mark.parametrize("spec", ["bytes=0-18446744073709551616", "bytes=99999999999999999999999-",
                                  "bytes=-99999999999999999999", "bytes=" + "1" * 5000 + "-"],
                         ids=["end-over-u64", "start-over-u64", "suffix-over-u64", "5000-digits"])
def test_ranges_beyond_64_bits_get_an_answer(srv, client, bkt, spec):
    # What AWS answers for numbers this large is not documented; what matters here is a
    # clean answer: the whole object, the clamped range, or a 4xx S3 error.
    client.put_object(Bucket=bkt, Key="ten", Body=TEN)
    resp = h.signed(srv, "GET", h.object_path(bkt, "ten"), {"Range": spec})
    if resp.status in (200, 206):
        assert resp.body in (TEN, b"") or resp.body == TEN[:len(resp.body)], resp.body
    else:
        check_error(resp, (400, 416), "InvalidArgument", "InvalidRange")


@pytest.mark.xfail(strict=True, reason="server bug (as test_protocol's test_invalid_range_is_ignored_"
                   "like_aws): Coffer answers a syntactically invalid Range header (inverted, "
                   "negative start, garbage, another unit, several ranges) with 400 "
                   "InvalidArgument; AWS, as RFC 9110 asks, ignores it and returns the whole object "
                   "with 200")
@pytest.mark.parametrize("spec", ["bytes=5-2", "bytes=-1-5", "bytes=abc", "items=0-1",
                                  "bytes=0-1,3-4", "bytes=1-2-3"])
def test_invalid_ranges_are_ignored_like_aws(srv, client, bkt, spec):
    client.put_object(Bucket=bkt, Key="ten", Body=TEN)
    resp = h.signed(srv, "GET", h.object_path(bkt, "ten"), {"Range": spec})
    assert (resp.status, resp.body) == (200, TEN), (resp.status, resp.body[:300])


# ---------------------------------------------------------------- part numbers
def test_part_numbers_outside_1_to_10000_are_invalid_argument(srv, client, bkt):
    uid = client.create_multipart_upload(Bucket=bkt, Key="mp")["UploadId"]
    base = f"{h.object_path(bkt, 'mp')}?uploadId={uid}&partNumber="
    for pn in ("10001", "0", "-1", "99999999999", "abc", ""):
        check_error(h.signed(srv, "PUT", base + pn, body=b"part"), 400, "InvalidArgument")
    assert h.signed(srv, "PUT", base + "10000", body=b"last part").status == 200
    assert h.signed(srv, "PUT", base + "1", body=b"first part").status == 200
    parts = client.list_parts(Bucket=bkt, Key="mp", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 10), (10000, 9)]
    # UploadPartCopy obeys the same limit.
    client.put_object(Bucket=bkt, Key="src", Body=b"copy me")
    resp = h.signed(srv, "PUT", base + "10001", {"x-amz-copy-source": f"/{bkt}/src"})
    check_error(resp, 400, "InvalidArgument")
    assert len(client.list_parts(Bucket=bkt, Key="mp", UploadId=uid)["Parts"]) == 2
    client.abort_multipart_upload(Bucket=bkt, Key="mp", UploadId=uid)
    assert keys(client, bkt) == ["src"]


# ---------------------------------------------------------------- huge query strings
def test_huge_query_strings_are_refused_cleanly(srv, client, bkt):
    for n in (70 * 1024, 100 * 1024, 1024 * 1024):
        for method in ("GET", "PUT"):
            path = f"{h.object_path(bkt, 'q')}?x={'a' * n}"
            resp = raw_exchange(srv, f"{method} {path} HTTP/1.1\r\nHost: {srv.host_port}\r\n"
                                     f"Content-Length: 0\r\n\r\n".encode(), shut_wr=False)
            assert resp is not None and resp.status in (400, 414, 431), (n, method, resp)
    # Thousands of parameters under the URI limit: answered, and quickly.
    many = "&".join(f"p{i}=v" for i in range(5000))
    started = time.monotonic()
    resp = h.signed(srv, "GET", f"/{bkt}?list-type=2&{many}")
    assert resp.status == 200 and time.monotonic() - started < 5, resp.body[:300]
    resp = h.signed(srv, "PUT", f"{h.object_path(bkt, 'q')}?{many}", body=b"x")
    assert resp.status == 200, resp.body[:300]
    # A repeated parameter is an error, not a guess.
    check_error(h.signed(srv, "GET", f"/{bkt}?list-type=2&max-keys=1&max-keys=2"), 400,
                "InvalidRequest", "InvalidArgument")
    assert keys(client, bkt) == ["q"]


# ---------------------------------------------------------------- SigV2 and SigV4 on one request
@pytest.mark.parametrize("query_kind,header_kind", [
    pytest.param("v2", "v4", id="sigv2-query+sigv4-header"),
    pytest.param("v4", "v2", id="sigv4-query+sigv2-header"),
    pytest.param("v4", "v4", id="sigv4-query+sigv4-header"),
    pytest.param("v2", "v2", id="sigv2-query+sigv2-header"),
])
def test_two_auth_mechanisms_on_one_request_are_refused(srv, client, bkt, query_kind, header_kind):
    presigner = srv.client(signature_version="s3" if query_kind == "v2" else "s3v4")
    path = presigned_path(presigner, "put_object", bkt, "both")
    body = b"two signatures"
    if header_kind == "v4":
        hdrs = h.sign_v4(srv.endpoint, srv.access_key, srv.secret_key, "PUT", path, {}, body)
    else:
        hdrs = v2_headers(srv, "PUT", path, body)
    resp = h.send(srv.endpoint, "PUT", path, hdrs, body)
    check_error(resp, 400, "InvalidArgument")
    assert keys(client, bkt) == []


# ---------------------------------------------------------------- presigned URLs: expiry, replay
def test_expired_presigned_urls_are_access_denied(srv, client, bkt):
    client.put_object(Bucket=bkt, Key="obj", Body=b"original")
    v4, v2 = srv.client(signature_version="s3v4"), srv.client(signature_version="s3")
    two_hours_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    urls = []
    for method in ("get_object", "put_object"):
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=two_hours_ago):
            urls.append(("GET" if method == "get_object" else "PUT",
                         presigned_path(v4, method, bkt, "obj", expires=60)))
        with mock.patch.object(botocore.auth.time, "time", return_value=time.time() - 7200):
            urls.append(("GET" if method == "get_object" else "PUT",
                         presigned_path(v2, method, bkt, "obj", expires=60)))
    for method, path in urls:
        resp = h.send(srv.endpoint, method, path, {}, b"late write" if method == "PUT" else None)
        check_error(resp, 403, "AccessDenied")
        assert resp.xml().findtext("Message") == "Request has expired", resp.body
    # X-Amz-Expires beyond a week is refused outright.
    resp = h.send(srv.endpoint, "GET", presigned_path(v4, "get_object", bkt, "obj",
                                                      expires=604801))
    check_error(resp, 400, "AuthorizationQueryParametersError")
    assert client.get_object(Bucket=bkt, Key="obj")["Body"].read() == b"original"


def test_replayed_presigned_urls_behave_as_on_s3(srv, client, bkt):
    # S3 has no replay protection inside a presigned URL's lifetime: a GET URL serves every
    # time, and a PUT URL (UNSIGNED-PAYLOAD) stores whatever body each use carries. The
    # only bounds are the expiry and the signer's permissions.
    v4 = srv.client(signature_version="s3v4")
    client.put_object(Bucket=bkt, Key="obj", Body=b"served twice")
    get = presigned_path(v4, "get_object", bkt, "obj")
    for _ in range(2):
        resp = h.send(srv.endpoint, "GET", get)
        assert (resp.status, resp.body) == (200, b"served twice")
    put = presigned_path(v4, "put_object", bkt, "replayed")
    for body in (b"first use", b"replayed with another body"):
        assert h.send(srv.endpoint, "PUT", put, {}, body).status == 200
        assert client.get_object(Bucket=bkt, Key="replayed")["Body"].read() == body
    # A presigned URL names one key and one method: neither can be swapped.
    check_error(h.send(srv.endpoint, "PUT", put.replace("/replayed?", "/other?"), {}, b"x"),
                403, "SignatureDoesNotMatch")
    check_error(h.send(srv.endpoint, "DELETE", put), 403, "SignatureDoesNotMatch")
    assert sorted(keys(client, bkt)) == ["obj", "replayed"]


# ---------------------------------------------------------------- skewed clocks
@pytest.mark.parametrize("minutes", [-20, 20, -60 * 24 * 365, 60 * 24 * 365])
def test_skewed_clocks_are_request_time_too_skewed(srv, client, bkt, minutes):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    path = h.object_path(bkt, f"skew{minutes}")
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        hdrs = h.sign_v4(srv.endpoint, srv.access_key, srv.secret_key, "PUT", path, {}, b"skewed")
    check_error(h.send(srv.endpoint, "PUT", path, hdrs, b"skewed"), 403, "RequestTimeTooSkewed")
    assert keys(client, bkt) == []


@pytest.mark.parametrize("minutes", [-14, 14])
def test_skew_inside_15_minutes_is_accepted(srv, client, bkt, minutes):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    path = h.object_path(bkt, "skew")
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        hdrs = h.sign_v4(srv.endpoint, srv.access_key, srv.secret_key, "PUT", path, {}, b"skewed")
    assert h.send(srv.endpoint, "PUT", path, hdrs, b"skewed").status == 200
    assert keys(client, bkt) == ["skew"]


# ---------------------------------------------------------------- invalid UTF-8
def test_invalid_utf8_in_keys_and_headers_is_refused(srv, client, bkt):
    for encoded in ("bad%FF%FEkey", "%C0%AF", "%ED%A0%80", "trunc%E2%82", "%F8%88%80%80%80"):
        for method in ("PUT", "GET", "DELETE"):
            resp = h.signed(srv, method, f"/{bkt}/{encoded}", body=b"x" if method == "PUT" else b"")
            check_error(resp, 400, "InvalidURI")
    # Raw (not percent-encoded) bytes in the request line or a header name: bare HTTP 400.
    for line in (b"GET /" + bkt.encode() + b"/\xff\xfe HTTP/1.1", ):
        resp = raw_exchange(srv, line + b"\r\nHost: " + srv.host_port.encode() + b"\r\n\r\n",
                            shut_wr=False)
        assert resp is not None and resp.status == 400, resp
    resp = raw_put(srv, h.object_path(bkt, "hdrname"), b"x", b"x-amz-meta-\xff: v\r\n")
    assert resp is not None and resp.status == 400, resp
    # Invalid UTF-8 in header values that carry text.
    for extra in (b"x-amz-meta-bad: \xff\xfe\r\n", b"Content-Type: text/\xff\r\n",
                  b"x-amz-tagging: k=\xff\r\n", b"Content-Disposition: \xc0\xaf\r\n"):
        resp = raw_put(srv, h.object_path(bkt, "hdrvalue"), b"x", extra)
        assert resp is not None, extra
        check_error(resp, 400, "InvalidArgument")
    assert keys(client, bkt) == []


def test_invalid_utf8_list_prefix_matches_nothing(srv, client, bkt):
    client.put_object(Bucket=bkt, Key="\ufffdreplacement", Body=b"x")
    path = f"/{bkt}?list-type=2&prefix=%FF"
    # SigV2: its canonical resource leaves `prefix` out, so botocore need not encode it.
    resp = h.send(srv.endpoint, "GET", path, v2_headers(srv, "GET", f"/{bkt}"))
    if resp.status == 200:
        assert b"<Key>" not in resp.body, resp.body
    else:
        check_error(resp, 400, "InvalidArgument")


# ---------------------------------------------------------------- memory under floods
def _flood_round(srv, bkt: str) -> int:
    """One round of every flood; returns the server's RSS (KiB) while 1,000 connections
    hang in the middle of their headers."""
    host = srv.host_port.encode()
    big_header = b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nX-Big: " + b"a" * MiB + b"\r\n\r\n"
    many_headers = (b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n"
                    + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n")
    long_query = b"GET /" + bkt.encode() + b"?" + b"a" * (100 * 1024) + b" HTTP/1.1\r\nHost: " \
        + host + b"\r\n\r\n"
    for raw in [big_header] * 100 + [many_headers] * 100 + [long_query] * 100:
        resp = raw_exchange(srv, raw, shut_wr=False)
        assert resp is not None and resp.status in (400, 414, 431), resp
    # 1,000 connections at once, each stuck in the middle of its headers.
    socks = []
    try:
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nX-Partial: " + b"p" * 4000)
            socks.append(s)
        started = time.monotonic()
        assert h.signed(srv, "HEAD", f"/{bkt}").status == 200
        assert time.monotonic() - started < 5
        held = rss_kib(srv)
    finally:
        for s in socks:
            s.close()
    # Malformed bodies the server must parse and throw away.
    deep = _deep(b"Tagging", depth=200_000)
    garbage = b"<Delete>" + b"<Object><Key>x</Key></Object>" * 40_000  # never closed
    for body, method, query in [(deep, "PUT", "tagging"), (garbage, "POST", "delete")] * 5:
        resp = h.signed(srv, method, f"/{bkt}?{query}", {"Content-MD5": h.md5_b64(body)}, body)
        check_error(resp, 400, "MalformedXML")
    data = os.urandom(200 * 1024)
    for _ in range(20):
        resp = h.put_streaming_signed(srv, bkt, "chunked", data, tamper=_replace_size(1, b"f" * 15))
        assert resp.status == 400
    assert keys(client_for(srv), bkt) == []
    return held


def client_for(srv):
    return srv.client(retries={"max_attempts": 1, "mode": "standard"})


ROUNDS = 3


def test_floods_keep_memory_bounded(srv, bkt, record_property):
    # A warm-up round (allocator arenas, thread pools), then ROUNDS identical rounds. Each
    # round sends 330 requests with oversized headers or query strings (about 115 MB), 30
    # malformed bodies (about 17 MB) and holds 1,000 connections open mid-headers, so a
    # buffer kept per request would show as hundreds of MiB; the allocator's own swings
    # between rounds stay within a few tens.
    _flood_round(srv, bkt)
    before = rss_kib(srv)
    started = time.monotonic()
    held, after = [], []
    for _ in range(ROUNDS):
        held.append(_flood_round(srv, bkt))
        after.append(rss_kib(srv))
    took = time.monotonic() - started
    figures = {"rss_before_kib": before, "rss_max_with_1000_stuck_connections_kib": max(held),
               "rss_after_each_round_kib": after, "rounds": ROUNDS, "seconds": round(took, 1)}
    for k, v in figures.items():
        record_property(k, v)
    print(f"flood figures: {figures}")
    assert max(held) - before < 128 * 1024, figures
    assert max(after) - before < 64 * 1024, figures
