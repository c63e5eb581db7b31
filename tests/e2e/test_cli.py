"""The `coffer` command line: help, version, first-start credentials, graceful shutdown."""

from __future__ import annotations

import re
import stat
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import coffer_bin


def run_coffer(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    binary = coffer_bin()
    if not binary.exists():
        pytest.fail(f"coffer binary not found at {binary}")
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_serve():
    res = run_coffer("--help")
    assert res.returncode == 0, res.stderr
    assert "serve" in res.stdout
    assert "Usage" in res.stdout or "USAGE" in res.stdout


def test_serve_help_mentions_its_flags():
    res = run_coffer("serve", "--help")
    assert res.returncode == 0, res.stderr
    for flag in ("--data", "--address", "--region", "--domain"):
        assert flag in res.stdout, f"{flag} missing from `coffer serve --help`:\n{res.stdout}"


def test_version_prints_name_and_semver():
    res = run_coffer("--version")
    assert res.returncode == 0, res.stderr
    assert re.match(r"coffer \d+\.\d+\.\d+", res.stdout.strip()), res.stdout


def test_unknown_subcommand_fails():
    res = run_coffer("no-such-subcommand")
    assert res.returncode != 0
    assert res.stderr


def _tokens(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9+/]{16,}", text)


def _find_working_pair(srv, tokens: list[str]) -> tuple[str, str] | None:
    for access in tokens:
        for secret in tokens:
            if access == secret or len(access) > 32:
                continue
            try:
                srv.client(access_key=access, secret_key=secret).list_buckets()
                return access, secret
            except ClientError:
                continue
    return None


def test_first_start_generates_and_persists_root_credentials(server_factory):
    srv = server_factory(credentials=False)
    first_out = srv.stdout_text()
    cred_file = srv.data_dir / "root-credentials"
    assert cred_file.exists(), f"no {cred_file}; data dir has {list(srv.data_dir.iterdir())}"
    mode = stat.S_IMODE(cred_file.stat().st_mode)
    assert mode == 0o600, oct(mode)
    stored = cred_file.read_text()
    printed = [t for t in _tokens(stored) if t in first_out]
    assert len(printed) >= 2, f"generated credentials not printed on first start:\n{first_out}"
    pair = _find_working_pair(srv, printed)
    assert pair, "no printed access key / secret key pair authenticates"
    access, secret = pair
    srv.client(access_key=access, secret_key=secret).create_bucket(Bucket="first-start")

    # Second start on the same data dir reuses them and does not print the secret again.
    assert srv.stop() == 0
    srv.start()
    second_out = srv.stdout_text()
    assert secret not in second_out, "secret key printed again on second start"
    assert cred_file.read_text() == stored
    s3 = srv.client(access_key=access, secret_key=secret)
    assert "first-start" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # The server says how to use it: endpoint printed.
    assert srv.endpoint in second_out


def test_env_credentials_are_the_root_credentials(server_factory):
    srv = server_factory()
    assert srv.secret_key not in srv.stdout_text(), "secret from the environment was printed"
    srv.client().create_bucket(Bucket="env-creds")
    with pytest.raises(ClientError) as ei:
        srv.client(secret_key="z" * 40).list_buckets()
    assert ei.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_sigterm_exits_zero_promptly(server_factory):
    srv = server_factory()
    srv.client().create_bucket(Bucket="before-term")
    t0 = time.monotonic()
    code = srv.stop(timeout=10)
    elapsed = time.monotonic() - t0
    assert code == 0, f"exit code {code}: {srv.stderr_tail()}"
    assert elapsed < 5, f"took {elapsed:.1f}s to stop"
    # Data written before the shutdown is there after a restart.
    srv.start()
    assert "before-term" in [b["Name"] for b in srv.client().list_buckets()["Buckets"]]


def test_address_in_use_fails_with_message(server, tmp_path):
    res = subprocess.run([str(coffer_bin()), "serve", "--data", str(tmp_path / "d"),
                          "--address", server.host_port],
                         capture_output=True, text=True, timeout=30,
                         env=server.env())
    assert res.returncode != 0
    assert res.stderr.strip(), "no error message on stderr"


# ------------------------------------------------------------------ coffer bench

def bench(server, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    import os
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.access_key,
               AWS_SECRET_ACCESS_KEY=server.secret_key)
    return subprocess.run([str(coffer_bin()), "bench", "--endpoint-url", server.endpoint, *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_bench_writes_reads_and_cleans_up_real_objects(live_server, s3, bucket_name):
    import json
    res = bench(live_server, "--bucket", bucket_name, "--op", "put", "-n", "40", "-c", "4",
                "--size", "1KiB-3KiB", "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["op"] == "put" and report["ops"] == 40 and report["errors"] == 0
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p99"] <= report["latency_ms"]["max"]
    listed = s3.list_objects_v2(Bucket=bucket_name, Prefix="bench/")["Contents"]
    assert len(listed) == 40 and all(1024 <= o["Size"] <= 3072 for o in listed)

    # get/head/list/delete prepare their objects, then measure.
    for op in ("get", "head", "list", "mixed"):
        res = bench(live_server, "--bucket", bucket_name, "--op", op, "-n", "30", "-c", "3",
                    "--objects", "10", "--json")
        assert res.returncode == 0, (op, res.stderr)
        report = json.loads(res.stdout)
        assert (report["ops"], report["errors"]) == (30, 0), op
    get = json.loads(bench(live_server, "--bucket", bucket_name, "--op", "get", "-n", "10",
                           "--objects", "10", "--size", "2KiB", "--json").stdout)
    assert abs(get["mb_per_sec"] * get["seconds"] * 1e6 - 10 * 2048) < 1

    res = bench(live_server, "--bucket", bucket_name, "--op", "multipart", "--size", "11MiB",
                "--part-size", "5MiB", "-n", "1", "-c", "1", "--json")
    assert res.returncode == 0, res.stderr
    head = s3.head_object(Bucket=bucket_name, Key="bench/0000000000")
    assert head["ContentLength"] == 11 << 20 and head["ETag"].endswith('-3"')

    res = bench(live_server, "--bucket", bucket_name, "--op", "delete", "-n", "5", "--cleanup")
    assert res.returncode == 0, res.stderr
    assert "ops/s" in res.stdout and "client CPU" in res.stdout
    assert s3.list_objects_v2(Bucket=bucket_name, Prefix="bench/")["KeyCount"] == 0
    s3.delete_bucket(Bucket=bucket_name)


def test_bench_reports_failures_with_a_nonzero_exit(live_server, bucket_name):
    import os
    env = dict(os.environ, AWS_ACCESS_KEY_ID=live_server.access_key,
               AWS_SECRET_ACCESS_KEY="not-the-secret")
    res = subprocess.run([str(coffer_bin()), "bench", "--endpoint-url", live_server.endpoint,
                          "--bucket", bucket_name, "-n", "3"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode != 0
    assert "SignatureDoesNotMatch" in res.stderr
