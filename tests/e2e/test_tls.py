"""HTTPS: `coffer cert`, `serve --tls-cert/--tls-key[/--tls-address]`, real clients over TLS,
and aws:SecureTransport in policies."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import boto3
import pytest

from helpers import err, err_of, status, endpoints
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, _tool, _tool_env, coffer_bin


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    res = subprocess.run([str(coffer_bin()), "cert", "--cert", str(d / "cert.pem"), "--key", str(d / "key.pem")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert (d / "cert.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert os.stat(d / "key.pem").st_mode & 0o777 == 0o600
    return d / "cert.pem", d / "key.pem"


def https_client(endpoint, server, cert_path, **kw):
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, verify=str(cert_path),
                        aws_access_key_id=kw.get("ak", server.access_key),
                        aws_secret_access_key=kw.get("sk", server.secret_key),
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))




def test_https_only_server_serves_boto3_and_refuses_plain_http(server_factory, cert):
    c, k = cert
    srv = server_factory(extra_args=["--tls-cert", str(c), "--tls-key", str(k)])
    assert srv.endpoint.startswith("https://")
    s3 = https_client(srv.endpoint, srv, c)
    s3.create_bucket(Bucket="secure")
    s3.put_object(Bucket="secure", Key="k", Body=b"over tls")
    assert s3.get_object(Bucket="secure", Key="k")["Body"].read() == b"over tls"
    plain = boto3.client("s3", endpoint_url=srv.endpoint.replace("https", "http"), region_name=REGION,
                         aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret_key,
                         config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=5))
    with pytest.raises(Exception):
        plain.list_buckets()


def test_http_and_https_together_with_secure_transport_policy(server_factory, cert):
    c, k = cert
    srv = server_factory(extra_args=["--tls-cert", str(c), "--tls-key", str(k), "--tls-address", "127.0.0.1:0"])
    https_ep, http_ep = endpoints(srv)
    assert https_ep.startswith("https://") and http_ep.startswith("http://")
    root = https_client(https_ep, srv, c)
    root.create_bucket(Bucket="tls-only")
    root.put_object(Bucket="tls-only", Key="k", Body=b"v")
    root.put_bucket_policy(Bucket="tls-only", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
    http_client = boto3.client("s3", endpoint_url=http_ep, region_name=REGION, aws_access_key_id=srv.access_key,
                               aws_secret_access_key=srv.secret_key, config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        http_client.get_object(Bucket="tls-only", Key="k")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "explicit deny" in e.value.response["Error"]["Message"]
    assert root.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"v"


def test_s3cmd_over_https(server_factory, cert, tmp_path):
    c, k = cert
    srv = server_factory(extra_args=["--tls-cert", str(c), "--tls-key", str(k)])
    host = srv.endpoint.split("://", 1)[1]
    cfg = tmp_path / "s3cfg-https"
    cfg.write_text(
        "[default]\n"
        f"access_key = {srv.access_key}\nsecret_key = {srv.secret_key}\n"
        f"host_base = {host}\nhost_bucket = {host}\n"
        "use_https = True\ncheck_ssl_certificate = True\ncheck_ssl_hostname = True\n"
        f"ca_certs_file = {c}\nbucket_location = us-east-1\nsignature_v2 = False\n")
    env = _tool_env(tmp_path, srv)
    src = tmp_path / "f.txt"
    src.write_text("hello over https\n")

    def s3cmd(*args):
        res = subprocess.run([_tool("s3cmd"), "-c", str(cfg), *map(str, args)], env=env,
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        return res.stdout

    s3cmd("mb", "s3://tls-s3cmd")
    s3cmd("put", src, "s3://tls-s3cmd/f.txt")
    s3cmd("get", "s3://tls-s3cmd/f.txt", tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_text() == "hello over https\n"
    assert "s3://tls-s3cmd/f.txt" in s3cmd("ls", "s3://tls-s3cmd")


@pytest.mark.parametrize("case", ["mismatched", "unreadable", "half"])
def test_bad_tls_configuration_is_a_clear_start_error(tmp_path, cert, case):
    c, k = cert
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run([str(coffer_bin()), "cert", "--cert", str(other / "c.pem"), "--key", str(other / "k.pem")],
                   check=True, capture_output=True, timeout=60)
    args = {
        "mismatched": ["--tls-cert", str(c), "--tls-key", str(other / "k.pem")],
        "unreadable": ["--tls-cert", str(c), "--tls-key", str(tmp_path / "missing.pem")],
        "half": ["--tls-cert", str(c)],
    }[case]
    env = dict(os.environ, RUST_BACKTRACE="0")
    res = subprocess.run([str(coffer_bin()), "serve", "--data", str(tmp_path / "data"), "--address", "127.0.0.1:0",
                          *args], capture_output=True, text=True, timeout=30, env=env)
    assert res.returncode != 0
    expected = {"mismatched": "do not go together", "unreadable": "missing.pem", "half": "go together"}[case]
    assert expected in res.stderr, res.stderr
