"""Raw HTTP requests (signed by hand or with botocore's signers) and checksum helpers.

The clients under test hide a lot of the wire protocol; these helpers let a test
send exactly the bytes it means to (a wrong checksum header, aws-chunked framing,
UNSIGNED-PAYLOAD, a HEAD whose body must be empty) and see exactly what came back.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


# -- checksums ---------------------------------------------------------------
def _reflected_table(poly: int, width: int) -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c & ((1 << width) - 1))
    return table


_CRC32C_TABLE = _reflected_table(0x82F63B78, 32)
_CRC64NVME_TABLE = _reflected_table(0x9A6C9329AC4BC9B5, 64)


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    t = _CRC32C_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc64nvme(data: bytes) -> int:
    c = 0xFFFFFFFFFFFFFFFF
    t = _CRC64NVME_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFFFFFFFFFF


def b64_checksum(algorithm: str, data: bytes) -> str:
    """The value S3 puts in x-amz-checksum-<algorithm> for `data`."""
    import zlib

    algorithm = algorithm.upper()
    if algorithm == "CRC32":
        raw = (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")
    elif algorithm == "CRC32C":
        raw = crc32c(data).to_bytes(4, "big")
    elif algorithm == "CRC64NVME":
        raw = crc64nvme(data).to_bytes(8, "big")
    elif algorithm == "SHA1":
        raw = hashlib.sha1(data).digest()
    elif algorithm == "SHA256":
        raw = hashlib.sha256(data).digest()
    else:
        raise ValueError(algorithm)
    return base64.b64encode(raw).decode()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


# -- raw requests --------------------------------------------------------------
@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def xml(self) -> ET.Element:
        return ET.fromstring(self.body)

    def error_code(self) -> str | None:
        try:
            el = self.xml().find("Code")
        except ET.ParseError:
            return None
        return el.text if el is not None else None


def object_path(bucket: str, key: str | None = None) -> str:
    path = "/" + quote(bucket, safe="")
    if key is not None:
        path += "/" + quote(key, safe="/~")
    return path


def send(endpoint: str, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None, timeout: float = 30) -> RawResponse:
    """Send one HTTP request exactly as given (path already encoded, query included)."""
    u = urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        hdrs = {"Host": u.netloc, **(headers or {})}
        chunked = any(k.lower() == "transfer-encoding" and v == "chunked" for k, v in hdrs.items())
        if body is not None and not chunked and not any(k.lower() == "content-length"
                                                        for k in hdrs):
            hdrs["Content-Length"] = str(len(body))
        if body and chunked:
            # One HTTP/1.1 chunk holding the whole body, then the terminating chunk.
            body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def sign_v4(endpoint: str, access_key: str, secret_key: str, method: str, path: str,
            headers: dict[str, str] | None = None, body: bytes = b"",
            payload_hash: str | None = None) -> dict[str, str]:
    """Headers for a SigV4-signed request, signed by botocore's S3 signer.

    `payload_hash` sets x-amz-content-sha256 (e.g. UNSIGNED-PAYLOAD, or a streaming
    marker); by default it is the body's SHA-256.
    """
    digest = payload_hash or hashlib.sha256(body).hexdigest()

    class _Signer(S3SigV4Auth):
        # botocore would otherwise replace x-amz-content-sha256 with its own value.
        def payload(self, request):
            return digest

    req = AWSRequest(method=method, url=endpoint + path, data=body, headers=dict(headers or {}))
    _Signer(Credentials(access_key, secret_key), "s3", REGION).add_auth(req)
    assert req.headers["X-Amz-Content-SHA256"] == digest
    return {k: v for k, v in req.headers.items()}


def signed(server, method: str, path: str, headers: dict[str, str] | None = None,
           body: bytes = b"", payload_hash: str | None = None,
           access_key: str | None = None, secret_key: str | None = None) -> RawResponse:
    hdrs = sign_v4(server.endpoint, access_key or server.access_key,
                   secret_key or server.secret_key, method, path, headers, body, payload_hash)
    return send(server.endpoint, method, path, hdrs, body if body or method in ("PUT", "POST") else None)


def head_raw_bytes(endpoint: str, path: str, headers: dict[str, str]) -> tuple[bytes, bytes]:
    """Send a HEAD with Connection: close and return (header block, anything after it)."""
    u = urlsplit(endpoint)
    lines = [f"HEAD {path} HTTP/1.1", f"Host: {u.netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "connection")]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(raw)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
    data = b"".join(chunks)
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes] | None:
    """One HTTP/1.1 response from `sock` (Content-Length framed); None if the server
    closed (or reset) the connection before sending anything."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    want = int(headers.get("content-length", "0"))
    try:
        while len(body) < want:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except ConnectionResetError:
        pass
    return status, headers, body


def raw_signed_head(server, method: str, path: str, headers: dict[str, str]) -> bytes:
    """Request line and headers (no body) of a SigV4 request with UNSIGNED-PAYLOAD."""
    hdrs = sign_v4(server.endpoint, server.access_key, server.secret_key, method, path,
                   headers, b"", payload_hash="UNSIGNED-PAYLOAD")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {server.host_port}"]
    lines += [f"{k}: {v}" for k, v in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def raw_exchange(server, data: bytes, shut_wr: bool = True,
                 timeout: float = 10) -> RawResponse | None:
    """Send `data` on a fresh connection (then half-close it) and read one response;
    None if the server closed the connection without answering."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if shut_wr:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        got = read_response(sock)
    return RawResponse(*got) if got is not None else None


def check_error(resp: RawResponse, status: int | tuple[int, ...], *codes: str) -> str:
    """Assert `resp` is an S3 error: the status, an <Error> XML body whose Code is one of
    `codes`, and a RequestId equal to the x-amz-request-id header. Returns the code."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert resp.status in statuses, (resp.status, resp.body[:500])
    assert "xml" in resp.headers.get("content-type", ""), resp.headers
    root = resp.xml()
    assert root.tag == "Error", resp.body[:500]
    code = root.findtext("Code")
    assert code in codes, (code, resp.body[:500])
    rid = root.findtext("RequestId")
    assert rid and rid == resp.headers.get("x-amz-request-id"), (rid, resp.headers)
    return code


# -- aws-chunked with chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) ------
def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def put_streaming_signed(server, bucket: str, key: str | None, data: bytes,
                         chunk_size: int = 64 * 1024,
                         tamper: Callable[[list[bytes]], bytes] | None = None,
                         query: str = "") -> RawResponse:
    """PUT with x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD and per-chunk signatures.

    `key` None puts to the bucket itself; `query` is a canonical query string
    (`tagging=`), sent as it is.

    `tamper` receives the correctly signed frames (`SIZE;chunk-signature=SIG\r\nDATA\r\n`,
    the last one empty) and returns the body to send instead; Content-Length then follows
    the tampered body and is left out of the signed headers.
    """
    now = dt.datetime.now(dt.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    path = object_path(bucket, key)
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]

    def framed_len() -> int:
        total = 0
        for c in chunks:
            total += len(f"{len(c):x};chunk-signature=") + 64 + 2 + len(c) + 2
        return total

    u = urlsplit(server.endpoint)
    headers = {
        "Host": u.netloc,
        "X-Amz-Date": amz_date,
        "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "Content-Encoding": "aws-chunked",
        "Content-Length": str(framed_len()),
    }
    if tamper is not None:
        del headers["Content-Length"]
    signed_names = sorted(h.lower() for h in headers)
    canon_headers = "".join(f"{n}:{headers[[h for h in headers if h.lower() == n][0]]}\n"
                            for n in signed_names)
    canonical = "\n".join(["PUT", path, query, canon_headers, ";".join(signed_names),
                           "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
    scope = f"{date}/{REGION}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(canonical.encode()).hexdigest()])
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + server.secret_key).encode(), date), REGION), "s3"),
              "aws4_request")
    seed = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={server.access_key}/{scope}, "
        f"SignedHeaders={';'.join(signed_names)}, Signature={seed}")
    prev = seed
    frames = []
    for c in chunks:
        chunk_sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev,
                               EMPTY_SHA256, hashlib.sha256(c).hexdigest()])
        sig = hmac.new(k, chunk_sts.encode(), hashlib.sha256).hexdigest()
        frames.append(f"{len(c):x};chunk-signature={sig}\r\n".encode() + c + b"\r\n")
        prev = sig
    body = b"".join(frames)
    assert len(body) == framed_len()
    del headers["Host"]
    if tamper is not None:
        body = tamper(frames)
        headers["Content-Length"] = str(len(body))
    return send(server.endpoint, "PUT", f"{path}?{query}" if query else path, headers, body)


# ---------------------------------------------------------------- boto3 results
def err_of(e) -> tuple[str, int]:
    """(error code, HTTP status) of a botocore ClientError."""
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def err(excinfo) -> tuple[str, int]:
    """err_of for a pytest.raises ExceptionInfo."""
    return err_of(excinfo.value)


def status(resp) -> int:
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def endpoints(server, expected: int = 2) -> list[str]:
    """Every listening line; the server prints them together, but the reader
    may have seen only the first when start() returned."""
    import re
    import time
    deadline = time.monotonic() + 10
    while True:
        found = re.findall(r"listening on (https?://[0-9.:]+)", server.stdout_text())
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def form_body(fields: dict[str, str], data: bytes, filename: str = "f") -> tuple[bytes, str]:
    """A browser form (multipart/form-data) with `fields` and the file last:
    (body, content type)."""
    boundary = "----cofferformboundary"
    body = b""
    for name, value in fields.items():
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                 f"{value}\r\n").encode()
    body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
             f"filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n").encode() + data
    body += f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post_form(url: str, fields: dict[str, str], data: bytes,
              filename: str = "f") -> tuple[int, str]:
    """An unsigned POST of a browser form to `url`: (status, response body)."""
    import urllib.error
    import urllib.request
    body, content_type = form_body(fields, data, filename)
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
