"""Shared fixtures for Coffer's end-to-end suite.

Every test talks to the real `coffer` binary over loopback HTTP with real
clients (boto3, aws cli, s3cmd). The binary is `target/debug/coffer` under the
repository root unless COFFER_BIN says otherwise.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"listening on (https?://[0-9.:]+)")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
REGION = "us-east-1"
# Tools installed into the same virtualenv as the running interpreter.
VENV_BIN = Path(sys.executable).parent


def coffer_bin() -> Path:
    return Path(os.environ.get("COFFER_BIN", REPO_ROOT / "target" / "debug" / "coffer"))


def random_credentials() -> tuple[str, str]:
    alphabet = string.ascii_uppercase + string.digits
    access = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret_alphabet = string.ascii_letters + string.digits + "/+"
    secret = "".join(secrets.choice(secret_alphabet) for _ in range(40))
    return access, secret


class CofferServer:
    """One `coffer serve` process on a data directory, restartable in place."""

    def __init__(self, data_dir: Path, log_dir: Path, access_key: str | None,
                 secret_key: str | None, extra_args: list[str] | None = None):
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.access_key = access_key
        self.secret_key = secret_key
        self.extra_args = list(extra_args or [])
        self.proc: subprocess.Popen | None = None
        self.endpoint: str | None = None
        self.stdout_lines: list[str] = []
        self._stdout_buf: deque[str] = deque()
        self._cond = threading.Condition()
        self._starts = 0

    # -- lifecycle -------------------------------------------------------
    @property
    def port(self) -> int:
        assert self.endpoint
        return int(self.endpoint.rsplit(":", 1)[1])

    @property
    def host_port(self) -> str:
        assert self.endpoint
        return self.endpoint.split("://", 1)[1]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("COFFER_ROOT_ACCESS_KEY", None)
        env.pop("COFFER_ROOT_SECRET_KEY", None)
        if self.access_key is not None:
            env["COFFER_ROOT_ACCESS_KEY"] = self.access_key
            env["COFFER_ROOT_SECRET_KEY"] = self.secret_key or ""
        env.setdefault("RUST_BACKTRACE", "1")
        return env

    def start(self) -> "CofferServer":
        binary = coffer_bin()
        if not binary.exists():
            pytest.fail(f"coffer binary not found at {binary} (build it or set COFFER_BIN)")
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._starts += 1
        self.stderr_path = self.log_dir / f"coffer-stderr-{self._starts}.log"
        stderr = open(self.stderr_path, "wb")
        cmd = [str(binary), "serve", "--data", str(self.data_dir),
               "--address", "127.0.0.1:0", "--region", REGION, *self.extra_args]
        self.stdout_lines = []
        self.endpoint = None
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr,
                                     stdin=subprocess.DEVNULL, env=self.env())
        stderr.close()
        threading.Thread(target=self._pump_stdout, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        with self._cond:
            while self.endpoint is None:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"coffer exited with {self.proc.returncode} before listening\n"
                        f"stdout: {''.join(self.stdout_lines)}\nstderr: {self.stderr_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    raise RuntimeError(
                        f"coffer did not print a listening line within {START_TIMEOUT}s\n"
                        f"stdout: {''.join(self.stdout_lines)}\nstderr: {self.stderr_tail()}")
                self._cond.wait(min(left, 0.2))
        return self

    def _pump_stdout(self, proc: subprocess.Popen) -> None:
        assert proc.stdout
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self._cond:
                if proc is self.proc:
                    self.stdout_lines.append(line)
                    m = LISTEN_RE.search(line)
                    if m and self.endpoint is None:
                        self.endpoint = m.group(1)
                    self._cond.notify_all()
        proc.stdout.close()

    def stdout_text(self) -> str:
        with self._cond:
            return "".join(self.stdout_lines)

    def stderr_tail(self, n: int = 4000) -> str:
        try:
            return self.stderr_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, as far as the server can tell."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self, crash: bool = False) -> "CofferServer":
        if crash:
            self.kill()
        else:
            self.stop()
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- clients ---------------------------------------------------------
    def client(self, access_key: str | None = None, secret_key: str | None = None,
               **config_kwargs):
        s3cfg = {"addressing_style": "path"}
        s3cfg.update(config_kwargs.pop("s3", {}))
        config_kwargs.setdefault("retries", {"max_attempts": 2, "mode": "standard"})
        config_kwargs.setdefault("connect_timeout", 10)
        config_kwargs.setdefault("read_timeout", 60)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(s3=s3cfg, **config_kwargs),
        )


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory):
    """Make extra servers with their own data dirs; all are stopped at session end."""
    made: list[CofferServer] = []

    def make(credentials: bool = True, extra_args: list[str] | None = None,
             start: bool = True) -> CofferServer:
        base = tmp_path_factory.mktemp("coffer")
        access, secret = random_credentials() if credentials else (None, None)
        srv = CofferServer(base / "data", base, access, secret, extra_args)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    for srv in made:
        srv.stop()


@pytest.fixture(scope="session")
def server(server_factory) -> CofferServer:
    """The shared server most tests use."""
    srv = server_factory()
    yield srv
    code = srv.stop()
    # A shared server that died mid-session already failed its tests; report it anyway.
    assert code in (0, -signal.SIGTERM, None), f"coffer exited {code}: {srv.stderr_tail()}"


@pytest.fixture
def live_server(server) -> CofferServer:
    if not server.alive():
        pytest.fail(f"shared coffer server is not running: {server.stderr_tail()}")
    return server


@pytest.fixture
def s3(live_server):
    """boto3 S3 client with default settings (path style, us-east-1)."""
    return live_server.client()


def _bucket_name(request) -> str:
    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")
    stem = stem.replace("test-", "", 1)[:40].strip("-") or "b"
    return f"{stem}-{uuid.uuid4().hex[:10]}"


def empty_and_delete_bucket(client, name: str) -> None:
    """Delete every upload, object version and delete marker in `name`, then the bucket."""
    try:
        for up in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    except Exception:
        pass
    try:
        # Each round deletes what one page lists; versioned deletes remove
        # versions and delete markers for good.
        for _ in range(100):
            resp = client.list_object_versions(Bucket=name)
            ids = [{"Key": e["Key"], "VersionId": e["VersionId"]}
                   for e in resp.get("Versions", []) + resp.get("DeleteMarkers", [])]
            if not ids:
                break
            client.delete_objects(Bucket=name, Delete={"Objects": ids, "Quiet": True})
        client.delete_bucket(Bucket=name)
    except Exception:
        pass


@pytest.fixture
def bucket_name(request) -> str:
    """A unique, valid, not-yet-created bucket name for this test."""
    return _bucket_name(request)


@pytest.fixture
def bucket(s3, bucket_name):
    """A freshly created bucket, emptied and deleted after the test."""
    s3.create_bucket(Bucket=bucket_name)
    yield bucket_name
    empty_and_delete_bucket(s3, bucket_name)


@pytest.fixture
def cleanup_buckets(s3):
    """Register bucket names to be removed after the test (for tests that create their own)."""
    names: list[str] = []
    yield names
    for n in names:
        empty_and_delete_bucket(s3, n)


def _tool(name: str) -> str:
    cand = VENV_BIN / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found next to {sys.executable} or on PATH")
    return found


def _tool_env(tmp: Path, server: CofferServer) -> dict[str, str]:
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    env.update({
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp / "aws-config-none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "aws-credentials-none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "2",
        "HOME": str(tmp),
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    })
    return env


@pytest.fixture
def aws(live_server, tmp_path):
    """Run the aws cli against the server: aws("s3", "ls", check=True) -> CompletedProcess."""
    exe = _tool("aws")
    env = _tool_env(tmp_path, live_server)

    def run(*args, check: bool = True, timeout: float = 120, cwd=None):
        cmd = [exe, "--endpoint-url", live_server.endpoint, *map(str, args)]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True,
                             timeout=timeout, cwd=cwd)
        if check and res.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        return res

    return run


def write_s3cmd_config(path: Path, server: CofferServer, signature_v2: bool = False) -> Path:
    path.write_text(
        "[default]\n"
        f"access_key = {server.access_key}\n"
        f"secret_key = {server.secret_key}\n"
        f"host_base = {server.host_port}\n"
        f"host_bucket = {server.host_port}\n"
        "use_https = False\n"
        f"signature_v2 = {'True' if signature_v2 else 'False'}\n"
        f"bucket_location = {REGION}\n"
        "check_ssl_certificate = False\n"
        "progress_meter = False\n"
        "socket_timeout = 60\n"
        "max_retries = 2\n"
    )
    return path


@pytest.fixture
def s3cmd(live_server, tmp_path):
    """Run s3cmd: s3cmd("ls", v2=False, check=True) -> CompletedProcess."""
    exe = _tool("s3cmd")
    env = _tool_env(tmp_path, live_server)
    configs = {
        False: write_s3cmd_config(tmp_path / "s3cfg-v4", live_server, False),
        True: write_s3cmd_config(tmp_path / "s3cfg-v2", live_server, True),
    }

    def run(*args, v2: bool = False, check: bool = True, timeout: float = 120, cwd=None):
        cmd = [exe, "-c", str(configs[v2]), *map(str, args)]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True,
                             timeout=timeout, cwd=cwd)
        if check and res.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        return res

    return run
