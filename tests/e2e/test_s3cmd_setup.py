"""Setting s3cmd 2.4.0 up for Coffer: `s3cmd --configure` and virtual-hosted-style buckets.

`s3cmd --configure` is run for real, its prompts answered on stdin in the order
s3cmd 2.4.0's run_configure() asks them (see `configure_answers`). Its "Test
access with supplied credentials?" step lists all buckets with the answers
given; it must say "Success" over plain HTTP and over HTTPS with certificate
verification left on (the self-signed certificate of `coffer cert` trusted
either with `--ca-certs`, which --configure saves as ca_certs_file, or with
SSL_CERT_FILE). The environment carries decoy AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY values: s3cmd offers them as the defaults, so an answer
that does not land on its prompt shows up as a failed access test.

Virtual-hosted style runs against a server started with `--domain coffer.test`,
s3cmd configured with host_base = coffer.test:PORT and
host_bucket = %(bucket)s.coffer.test:PORT. Those names do not resolve, so the
s3cmd process gets a `sitecustomize.py` on PYTHONPATH that resolves coffer.test
and *.coffer.test to 127.0.0.1 and logs every request line and Host header it
sends (a "wire log"); nothing else in the process is changed.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, _tool_env, coffer_bin
from test_s3cmd import make_s3cmd, s3cmd_runner
from test_tls import cert, https_client  # noqa: F401  (cert is a fixture)

CONFIGURE_OK = "Success. Your access key and secret key worked fine"
DOMAIN = "coffer.test"
MiB = 1024 * 1024
# Offered by s3cmd as the default access key / secret key (they come from the environment).
DECOY_ACCESS = "AKIADECOYDECOYDECOY0"
DECOY_SECRET = "decoy/decoy/decoy/decoy/decoy/decoy/deco"


# ------------------------------------------------------------- --configure
def configure_answers(access: str, secret: str, host_port: str, *, https: bool,
                      save: bool = True) -> bytes:
    """stdin for `s3cmd --configure`, one answer per prompt, in s3cmd 2.4.0's order."""
    answers = [
        access,                    # Access Key
        secret,                    # Secret Key
        REGION,                    # Default Region [US]
        host_port,                 # S3 Endpoint [s3.amazonaws.com]
        host_port,                 # DNS-style bucket+hostname:port template (no %(bucket)s: path style)
        "",                        # Encryption password (none)
        "",                        # Path to GPG program [/usr/bin/gpg] (keep the default)
        "Yes" if https else "No",  # Use HTTPS protocol [Yes]
        "",                        # HTTP Proxy server name (none, so no proxy port question)
        "Y",                       # Test access with supplied credentials? [Y/n]
    ]
    if save:
        answers.append("y")        # Save settings? [y/N]
    # Without `save`, stdin ends at the next prompt ("Retry configuration?" after a failed
    # test), which s3cmd answers with "Configuration aborted. Changes were NOT saved."
    return ("\n".join(answers) + "\n").encode()


def configure_env(tmp_path: Path, srv, ssl_cert_file: Path | None = None) -> dict[str, str]:
    env = _tool_env(tmp_path, srv)
    env["AWS_ACCESS_KEY_ID"] = DECOY_ACCESS
    env["AWS_SECRET_ACCESS_KEY"] = DECOY_SECRET
    for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
              "SSL_CERT_FILE", "SSL_CERT_DIR"):
        env.pop(k, None)
    if ssl_cert_file is not None:
        env["SSL_CERT_FILE"] = str(ssl_cert_file)
    return env


def run_configure(srv, tmp_path: Path, answers: bytes, env: dict[str, str], *options):
    """`s3cmd -c CFG --configure [options]` on a fresh CFG: (result, CFG)."""
    cfg = tmp_path / "s3cfg-configured"
    assert not cfg.exists()
    res = s3cmd_runner(cfg, env)("--configure", *options, input=answers, check=False, timeout=60)
    return res, cfg


def saved_config(cfg: Path) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    parser.read(cfg)
    return dict(parser["default"])


@pytest.fixture(scope="module")
def tls_server(server_factory, cert):  # noqa: F811
    c, k = cert
    srv = server_factory(extra_args=["--tls-cert", str(c), "--tls-key", str(k)])
    assert srv.endpoint.startswith("https://")
    return srv


@pytest.mark.parametrize("mode", ["http", "https-ca-certs", "https-ssl-cert-file"])
def test_configure_tests_access_saves_and_the_saved_config_works(
        mode, request, tmp_path, cert, bucket_name, cleanup_buckets):  # noqa: F811
    cert_path = cert[0]
    https = mode != "http"
    srv = request.getfixturevalue("tls_server" if https else "live_server")
    env = configure_env(tmp_path, srv, cert_path if mode == "https-ssl-cert-file" else None)
    options = ["--ca-certs", str(cert_path)] if mode == "https-ca-certs" else []

    res, cfg = run_configure(
        srv, tmp_path, configure_answers(srv.access_key, srv.secret_key, srv.host_port, https=https),
        env, *options)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    # The answers landed on their prompts: the summary shows each one.
    assert f"Access Key: {srv.access_key}\n" in res.stdout, out
    assert f"S3 Endpoint: {srv.host_port}\n" in res.stdout, out
    assert f"Use HTTPS protocol: {https}\n" in res.stdout, out
    assert "Please wait, attempting to list all buckets..." in res.stdout, out
    assert CONFIGURE_OK in res.stdout, out
    assert "Test failed" not in out, out
    assert f"Configuration saved to '{cfg}'" in res.stdout, out

    saved = saved_config(cfg)
    assert saved["access_key"] == srv.access_key
    assert saved["secret_key"] == srv.secret_key
    assert saved["bucket_location"] == REGION
    assert saved["host_base"] == srv.host_port
    assert saved["host_bucket"] == srv.host_port
    assert saved["use_https"] == str(https)
    assert saved["gpg_passphrase"] == "" and saved["proxy_host"] == ""
    # Certificate checks stay on; --ca-certs given to --configure is saved with the rest.
    assert saved["check_ssl_certificate"] == "True" and saved["check_ssl_hostname"] == "True"
    assert saved["ca_certs_file"] == (str(cert_path) if mode == "https-ca-certs" else "")

    # The saved file is a working config (with the same environment: decoy keys, and
    # SSL_CERT_FILE for that variant).
    run = s3cmd_runner(cfg, env)
    if not https:  # the shared server; the TLS server is this module's own
        cleanup_buckets.append(bucket_name)
    run("mb", f"s3://{bucket_name}")
    src = tmp_path / "hello.txt"
    src.write_bytes(b"configured by s3cmd --configure\n")
    run("put", src, f"s3://{bucket_name}/hello.txt")
    assert f"s3://{bucket_name}\n" in run("ls").stdout
    assert f"s3://{bucket_name}/hello.txt\n" in run("ls", f"s3://{bucket_name}").stdout
    run("get", f"s3://{bucket_name}/hello.txt", tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_bytes() == src.read_bytes()
    # ...and the server holds what s3cmd says it wrote.
    s3 = https_client(srv.endpoint, srv, cert_path) if https else srv.client()
    body = s3.get_object(Bucket=bucket_name, Key="hello.txt")["Body"].read()
    assert body == src.read_bytes()

    if mode == "https-ssl-cert-file":
        # The saved config names no CA: without SSL_CERT_FILE the certificate is not trusted.
        bare = dict(env)
        del bare["SSL_CERT_FILE"]
        res = s3cmd_runner(cfg, bare)("ls", check=False, timeout=60)
        assert res.returncode != 0, res.stdout
        assert "CERTIFICATE_VERIFY_FAILED" in res.stderr, res.stderr


def test_configure_over_https_checks_the_certificate(tls_server, tmp_path):
    """Control for the HTTPS cases above: with no CA given, the access test fails on the
    self-signed certificate, so their "Success" came through a verified connection."""
    srv = tls_server
    res, cfg = run_configure(
        srv, tmp_path,
        configure_answers(srv.access_key, srv.secret_key, srv.host_port, https=True, save=False),
        configure_env(tmp_path, srv))
    out = res.stdout + res.stderr
    assert "Test failed" in out and "CERTIFICATE_VERIFY_FAILED" in out, out
    assert CONFIGURE_OK not in out, out
    assert "Configuration aborted. Changes were NOT saved." in res.stdout, out
    assert not cfg.exists()


@pytest.mark.parametrize("case,code", [("wrong-secret", "SignatureDoesNotMatch"),
                                       ("unknown-key", "InvalidAccessKeyId")])
def test_configure_reports_bad_credentials(live_server, tmp_path, case, code):
    """Control for "Success": the access test really checks the keys, and fails the way
    it does against AWS (403 with the S3 error code)."""
    srv = live_server
    access = srv.access_key if case == "wrong-secret" else "AKIA" + uuid.uuid4().hex[:16].upper()
    secret = srv.secret_key[:-4] + ("AAAA" if not srv.secret_key.endswith("AAAA") else "BBBB")
    res, cfg = run_configure(
        srv, tmp_path, configure_answers(access, secret, srv.host_port, https=False, save=False),
        configure_env(tmp_path, srv))
    out = res.stdout + res.stderr
    assert f"Test failed: 403 ({code})" in out, out
    assert CONFIGURE_OK not in out, out
    assert not cfg.exists()


# ------------------------------------------------------- virtual-hosted style
SITECUSTOMIZE = r'''
"""Coffer e2e test hook for s3cmd: resolve $COFFER_TEST_DOMAIN and its subdomains to
127.0.0.1, and log (JSON lines in $COFFER_TEST_WIRE_LOG) every request line and Host
header http.client sends."""
import http.client
import json
import os
import socket

_DOMAIN = os.environ.get("COFFER_TEST_DOMAIN", "").lower()
_LOG = os.environ.get("COFFER_TEST_WIRE_LOG")


def _log(**record):
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def _text(v):
    return v.decode("ascii", "replace") if isinstance(v, (bytes, bytearray)) else str(v)


_log(event="imported")
_getaddrinfo = socket.getaddrinfo


def getaddrinfo(host, *args, **kwargs):
    name = _text(host).lower().rstrip(".") if host is not None else ""
    if _DOMAIN and (name == _DOMAIN or name.endswith("." + _DOMAIN)):
        _log(event="resolve", host=name)
        return _getaddrinfo("127.0.0.1", *args, **kwargs)
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = getaddrinfo
_putrequest = http.client.HTTPConnection.putrequest
_putheader = http.client.HTTPConnection.putheader


def putrequest(self, method, url, *args, **kwargs):
    self._coffer_test_request = (_text(method), _text(url))
    return _putrequest(self, method, url, *args, **kwargs)


def putheader(self, header, *values):
    if _text(header).lower() == "host":
        method, url = getattr(self, "_coffer_test_request", (None, None))
        _log(event="request", method=method, url=url, host=_text(values[0]))
    return _putheader(self, header, *values)


http.client.HTTPConnection.putrequest = putrequest
http.client.HTTPConnection.putheader = putheader
'''


@pytest.fixture(scope="module")
def resolver_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("s3cmd-resolver")
    (d / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return d


@pytest.fixture(scope="module")
def vhost_server(server_factory):
    return server_factory(extra_args=["--domain", DOMAIN])


def vhost_s3cmd(srv, tmp_path: Path, resolver: Path, *, v2: bool,
                extra: dict[str, str] | None = None):
    """(s3cmd runner using BUCKET.coffer.test:PORT, wire log path)."""
    wire = tmp_path / "wire.jsonl"
    port = srv.port
    run = make_s3cmd(
        srv, tmp_path, f"vhost-{'v2' if v2 else 'v4'}", v2=v2,
        extra={"host_base": f"{DOMAIN}:{port}", "host_bucket": f"%(bucket)s.{DOMAIN}:{port}",
               **(extra or {})},
        env_extra={"PYTHONPATH": os.pathsep.join(filter(None, [str(resolver),
                                                               os.environ.get("PYTHONPATH")])),
                   "COFFER_TEST_DOMAIN": DOMAIN,
                   "COFFER_TEST_WIRE_LOG": str(wire)})
    return run, wire


def wire_records(wire: Path) -> list[dict]:
    assert wire.exists(), "s3cmd did not import the test sitecustomize.py (PYTHONPATH ignored?)"
    records = [json.loads(line) for line in wire.read_text().splitlines()]
    assert records and records[0] == {"event": "imported"}, records[:3]
    return records


@pytest.mark.parametrize("v2,style", [(False, "plain"), (True, "plain"), (False, "dotted"),
                                      (True, "dotted")],
                         ids=["sigv4", "sigv2", "sigv4-dotted-bucket", "sigv2-dotted-bucket"])
def test_s3cmd_virtual_hosted_style(vhost_server, resolver_dir, tmp_path, v2, style):
    srv = vhost_server
    s3 = srv.client()  # boto3, path style on 127.0.0.1: checks what s3cmd did
    tag = uuid.uuid4().hex[:10]
    bucket = f"vhost-{tag}" if style == "plain" else f"vhost.{tag}.data"
    vhost = f"{bucket}.{DOMAIN}:{srv.port}"
    run, wire = vhost_s3cmd(srv, tmp_path, resolver_dir, v2=v2)
    buckets_before = {b["Name"] for b in s3.list_buckets()["Buckets"]}

    small = tmp_path / "small.txt"
    small.write_bytes(b"virtual-hosted hello\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * MiB + 12345))
    debug: list[str] = []

    def s3cmd(*args):
        res = run("--debug", *args)
        debug.append(res.stderr)
        return res.stdout

    s3cmd("mb", f"s3://{bucket}")
    s3cmd("put", small, f"s3://{bucket}/dir/small.txt")
    s3cmd("put", "--multipart-chunk-size-mb=5", big, f"s3://{bucket}/dir/big.bin")
    s3cmd("cp", f"s3://{bucket}/dir/small.txt", f"s3://{bucket}/copy.txt")
    listing = s3cmd("ls", "-r", f"s3://{bucket}")
    for key in ("dir/small.txt", "dir/big.bin", "copy.txt"):
        assert f"s3://{bucket}/{key}\n" in listing, listing
    assert f"s3://{bucket}\n" in s3cmd("ls")
    s3cmd("get", f"s3://{bucket}/dir/small.txt", tmp_path / "small.back")
    s3cmd("get", f"s3://{bucket}/dir/big.bin", tmp_path / "big.back")
    assert (tmp_path / "small.back").read_bytes() == small.read_bytes()
    assert (tmp_path / "big.back").read_bytes() == big.read_bytes()

    # The server stored it all in `bucket`, as seen path-style; no bucket was made from a
    # key, as a server that took the request path for path style would have done.
    got = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
    assert got == ["copy.txt", "dir/big.bin", "dir/small.txt"]
    assert s3.get_object(Bucket=bucket, Key="copy.txt")["Body"].read() == small.read_bytes()
    assert s3.head_object(Bucket=bucket, Key="dir/big.bin")["ETag"].strip('"').endswith("-2")
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == buckets_before | {bucket}

    s3cmd("del", f"s3://{bucket}/copy.txt")
    s3cmd("del", "--recursive", "--force", f"s3://{bucket}/dir/")  # multi-object delete
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    s3cmd("rb", f"s3://{bucket}")
    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=bucket)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    # s3cmd's --debug: every bucket request went to BUCKET.coffer.test, never /BUCKET/...,
    # signed the configured way and without falling back to another signature.
    text = "".join(debug)
    assert text.count(f"get_hostname({bucket}): {vhost}\n") >= 10, text[-3000:]
    assert f"format_uri(): /{bucket}" not in text, text[-3000:]
    assert "Falling back to signature v2" not in text
    sent = [ln for ln in text.splitlines() if "Sending request method_string=" in ln]
    assert sent
    scheme = "'Authorization': 'AWS " if v2 else "'Authorization': 'AWS4-HMAC-SHA256 "
    assert all(scheme in ln for ln in sent), [ln for ln in sent if scheme not in ln][:2]

    # The wire log: the Host header really named the bucket, and the path did not.
    records = wire_records(wire)
    resolved = {r["host"] for r in records if r["event"] == "resolve"}
    assert {f"{bucket}.{DOMAIN}", DOMAIN} <= resolved
    requests = [r for r in records if r["event"] == "request"]
    to_bucket = [r for r in requests if r["host"] == vhost]
    assert {r["method"] for r in to_bucket} >= {"PUT", "POST", "GET", "HEAD", "DELETE"}, to_bucket
    assert not [r for r in to_bucket if r["url"].split("?")[0].startswith(f"/{bucket}")]
    assert {r["host"] for r in requests} <= {vhost, f"{DOMAIN}:{srv.port}"}, requests
    # The multipart upload's requests were virtual-hosted too.
    assert any(r["method"] == "POST" and r["url"].startswith("/dir/big.bin?uploads")
               for r in to_bucket), to_bucket
    assert any(r["method"] == "PUT" and r["url"].startswith("/dir/big.bin?partNumber=2")
               for r in to_bucket), to_bucket


@pytest.mark.parametrize("v2", [False, True], ids=["sigv4", "sigv2"])
def test_virtual_hosted_s3cmd_needs_the_servers_domain(live_server, resolver_dir, tmp_path, v2,
                                                       bucket_name, cleanup_buckets):
    """Control for the test above: the same s3cmd set-up against a server without
    --domain cannot make a bucket, so the requests above were truly virtual-hosted."""
    cleanup_buckets.append(bucket_name)
    run, wire = vhost_s3cmd(live_server, tmp_path, resolver_dir, v2=v2)
    res = run("mb", f"s3://{bucket_name}", check=False)
    assert res.returncode != 0, res.stdout
    with pytest.raises(ClientError) as ei:
        live_server.client().head_bucket(Bucket=bucket_name)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    requests = [r for r in wire_records(wire) if r["event"] == "request"]
    assert requests and all(r["host"] == f"{bucket_name}.{DOMAIN}:{live_server.port}"
                            and r["url"] == "/" for r in requests), requests


@pytest.fixture(scope="module")
def vhost_tls_server(server_factory, tmp_path_factory):
    d = tmp_path_factory.mktemp("vhost-tls")
    res = subprocess.run([str(coffer_bin()), "cert", "--cert", str(d / "cert.pem"),
                          "--key", str(d / "key.pem"), "--host", DOMAIN, "--host", f"*.{DOMAIN}",
                          "--host", "127.0.0.1"],  # 127.0.0.1 for the boto3 check
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    srv = server_factory(extra_args=["--domain", DOMAIN, "--tls-cert", str(d / "cert.pem"),
                                     "--tls-key", str(d / "key.pem")])
    assert srv.endpoint.startswith("https://")
    return srv, d / "cert.pem"


def test_s3cmd_virtual_hosted_style_over_https(vhost_tls_server, resolver_dir, tmp_path):
    """BUCKET.coffer.test over HTTPS with a *.coffer.test certificate, verified by s3cmd
    (certificate and host name)."""
    srv, cert_path = vhost_tls_server
    bucket = f"vhost-tls-{uuid.uuid4().hex[:10]}"
    vhost = f"{bucket}.{DOMAIN}:{srv.port}"
    run, wire = vhost_s3cmd(srv, tmp_path, resolver_dir, v2=False, extra={
        "use_https": "True", "check_ssl_certificate": "True", "check_ssl_hostname": "True",
        "ca_certs_file": str(cert_path)})
    src = tmp_path / "f.txt"
    src.write_bytes(b"virtual-hosted over https\n")
    run("mb", f"s3://{bucket}")
    run("put", src, f"s3://{bucket}/f.txt")
    assert f"s3://{bucket}/f.txt\n" in run("ls", f"s3://{bucket}").stdout
    run("get", f"s3://{bucket}/f.txt", tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_bytes() == src.read_bytes()
    s3 = https_client(srv.endpoint, srv, cert_path)
    assert s3.get_object(Bucket=bucket, Key="f.txt")["Body"].read() == src.read_bytes()
    run("del", f"s3://{bucket}/f.txt")
    run("rb", f"s3://{bucket}")
    requests = [r for r in wire_records(wire) if r["event"] == "request"]
    assert {r["host"] for r in requests} == {vhost}, requests
    assert not [r for r in requests if r["url"].startswith(f"/{bucket}")], requests
