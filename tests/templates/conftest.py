"""Shared fixtures of the template tests.

A moto server (the emulator the whole project tests against) is started once per test session on a
free port and killed at the end; every test starts from an empty emulator (POST /moto-api/reset).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cfn import REPO  # noqa: E402

# The pinned emulator of scripts/ensure-venv, else the one next to this interpreter.
MOTO_SERVER = next(
    (
        p
        for p in (
            REPO / ".venv" / "bin" / "moto_server",
            Path(sys.executable).parent / "moto_server",
        )
        if p.exists()
    ),
    Path("moto_server"),
)

# The tests talk to the emulator only: no profile, config file or endpoint override of the caller's
# environment may leak into the clients, and nothing goes through a proxy.
for _var in [v for v in os.environ if v.startswith("AWS_ENDPOINT_URL")] + [
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
]:
    os.environ.pop(_var, None)
os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
MANAGEMENT_ACCOUNT = "123456789012"  # moto's default caller

# One attempt, short timeouts: moto answers unimplemented calls with HTTP 500, which the SDK would
# otherwise retry with back-off.
BOTO_CONFIG = Config(
    retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30
)


class Moto:
    """A running moto server plus helpers that build clients acting as any account."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (local emulator)
            assert resp.status == 200

    def client(self, service: str, region: str = "us-east-1", account: str | None = None):
        """A boto3 client; with `account`, it acts as that account (assume_role, as moto has it)."""
        creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        if account is not None and account != MANAGEMENT_ACCOUNT:
            sts = boto3.client(
                "sts", endpoint_url=self.endpoint, region_name=region, config=BOTO_CONFIG, **creds
            )
            c = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                RoleSessionName="template-tests",
            )["Credentials"]
            creds = {
                "aws_access_key_id": c["AccessKeyId"],
                "aws_secret_access_key": c["SecretAccessKey"],
                "aws_session_token": c["SessionToken"],
            }
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=region, config=BOTO_CONFIG, **creds
        )


def _die_with_parent() -> None:
    """In the emulator's process: get SIGTERM if pytest dies without cleaning up (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _drain(stream, sink: list[str], found: threading.Event) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)
        if "Running on http://" in line:
            found.set()
    stream.close()


@pytest.fixture(scope="session")
def moto_server():
    """Start `moto_server -H 127.0.0.1 -p 0`, wait until it answers, kill only it at the end."""
    proc = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: killed as a whole, nothing is orphaned
        preexec_fn=_die_with_parent,
        cwd=REPO,
    )
    lines: list[str] = []
    found = threading.Event()
    threading.Thread(target=_drain, args=(proc.stdout, lines, found), daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        while not found.wait(0.1):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start:\n" + "".join(lines))
        port = next(
            int(m.group(1))
            for line in lines
            if (m := re.search(r"http://127\.0\.0\.1:(\d+)", line))
        )
        endpoint = f"http://127.0.0.1:{port}"
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):  # noqa: S310
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server does not answer:\n" + "".join(lines)) from None
                time.sleep(0.1)
        yield Moto(endpoint)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


@pytest.fixture
def moto(moto_server):
    """The session's moto server, emptied before the test."""
    moto_server.reset()
    return moto_server
