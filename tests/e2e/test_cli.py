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
