"""Fixtures: one emulator per test session (`python -m tests.emulator -p 0`), reset before each test.

`emulator` gives an `Emulator` with the endpoint, `client(service, account=...)` for boto3 clients
acting as any account (moto's AssumeRole credentials act as the role's account), and `config(...)`
for the time settings of `/_emulator/config`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

ROOT = Path(__file__).resolve().parents[2]
MANAGEMENT = "123456789012"
REGION = "us-east-1"
# Fast enough for tests, slow enough that an operation is observably RUNNING right after its call:
# an instance takes 30 emulated seconds = 30 ms.
TEST_CONFIG = {"instance_seconds": 30.0, "time_scale": 0.001}


class Emulator:
    """A running emulator: its endpoint and helpers for boto3 clients."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._credentials: dict[str, dict[str, str]] = {}
        self._sts: Any = None
        # boto3 clients take tens of milliseconds to make: one per service, account and Region.
        self._clients: dict[tuple[str, str, str], Any] = {}

    def post(self, path: str, body: Any = None) -> Any:
        data = json.dumps(body if body is not None else {}).encode()
        request = urllib.request.Request(self.endpoint + path, data=data, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw.strip().startswith(b"{") else raw

    def config(self, **changes: float) -> dict[str, float]:
        """Changes the time settings (POST /_emulator/config)."""
        return self.post("/_emulator/config", changes)

    def reset(self) -> None:
        self.post("/moto-api/reset")
        self._credentials.clear()
        self._clients.clear()
        self.config(**TEST_CONFIG)

    def grant_self_managed(self, *accounts: str) -> None:
        """The roles of self-managed stack sets ("Grant self-managed permissions", CloudFormation
        User Guide): AWSCloudFormationStackSetAdministrationRole in the management account and
        AWSCloudFormationStackSetExecutionRole, trusting it, in each target account."""
        admin_trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudformation.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        self._role(MANAGEMENT, "AWSCloudFormationStackSetAdministrationRole", admin_trust)
        for account in accounts:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            self._role(account, "AWSCloudFormationStackSetExecutionRole", trust)

    def _role(self, account: str, name: str, trust: dict[str, Any]) -> None:
        iam = self.client("iam", account=account)
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))

    def client(self, service: str, account: str = MANAGEMENT, region: str = REGION) -> Any:
        """A boto3 client acting as `account` (AssumeRole for any account but the management one)."""
        key = (service, account, region)
        if key not in self._clients:
            self._clients[key] = self._new_client(service, account, region)
        return self._clients[key]

    def _new_client(self, service: str, account: str, region: str) -> Any:
        kwargs: dict[str, Any] = {
            "endpoint_url": self.endpoint,
            "region_name": region,
            "config": BotoConfig(retries={"max_attempts": 1}),
        }
        if account == MANAGEMENT:
            kwargs.update(aws_access_key_id="testing", aws_secret_access_key="testing")
        else:
            if account not in self._credentials:
                if self._sts is None:
                    self._sts = self.client("sts")
                sts = self._sts
                creds = sts.assume_role(
                    RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                    RoleSessionName="emulator-test",
                )["Credentials"]
                self._credentials[account] = {
                    "aws_access_key_id": creds["AccessKeyId"],
                    "aws_secret_access_key": creds["SecretAccessKey"],
                    "aws_session_token": creds["SessionToken"],
                }
            kwargs.update(self._credentials[account])
        return boto3.client(service, **kwargs)


def _drain(stream: Any, sink: list[str]) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[Emulator]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.emulator", "-p", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert process.stderr is not None
    # moto stops answering once its stderr pipe is full: keep draining it.
    threading.Thread(target=_drain, args=(process.stderr, lines), daemon=True).start()
    deadline = time.monotonic() + 30
    port = None
    while port is None:
        for line in list(lines):
            match = re.search(r"Running on http://127\.0\.0\.1:(\d+)", line)
            if match:
                port = match.group(1)
        if port is None:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("emulator did not start:\n" + "".join(lines))
            time.sleep(0.05)
    try:
        yield Emulator(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def emulator(emulator_process: Emulator) -> Emulator:
    """The session's emulator, with moto's state wiped and the test time settings."""
    emulator_process.reset()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return emulator_process
