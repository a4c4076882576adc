"""The emulator's clock settings and its control endpoint.

Time: every stack instance an operation touches takes `instance_seconds` of emulated time, and one
emulated second lasts `time_scale` real seconds, so the defaults (30 s per instance, scale 0.0003)
make an instance take about 9 ms. Both come from the environment
(`STACKFLEET_EMULATOR_INSTANCE_SECONDS`, `STACKFLEET_EMULATOR_TIME_SCALE`) and can be changed at run
time:

    GET  /_emulator/config          -> {"instance_seconds": 30.0, "time_scale": 0.0003}
    POST /_emulator/config  {"time_scale": 0.01}   -> the new settings (unknown keys: HTTP 400)

One more knob sets an account's Organizations status, for what tests cannot do through the API:
AWS Support reopens a closed account within its post-closure period ("Close an AWS account",
AWS Account Management Reference Guide,
https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-closing.html):

    POST /_emulator/account-status  {"account_id": "...", "status": "ACTIVE"}  -> the account

A change applies to operations submitted afterwards; running ones keep their schedule.

Every request goes through `EmulatorApp`, which holds one lock around moto (moto's backends are
not thread-safe, and the engine moves operations forward before each request; see `engine.py`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

# One lock for every request and for the engine's bookkeeping: reentrant, since patched backend
# methods call each other.
LOCK = threading.RLock()

CONTROL_PREFIX = "/_emulator/"


@dataclass
class Config:
    """How fast emulated time runs (see the module docstring)."""

    instance_seconds: float = 30.0
    time_scale: float = 0.0003

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ) if env is None else env
        config = cls()
        if "STACKFLEET_EMULATOR_INSTANCE_SECONDS" in env:
            config.instance_seconds = float(env["STACKFLEET_EMULATOR_INSTANCE_SECONDS"])
        if "STACKFLEET_EMULATOR_TIME_SCALE" in env:
            config.time_scale = float(env["STACKFLEET_EMULATOR_TIME_SCALE"])
        config.validate()
        return config

    def validate(self) -> None:
        if self.instance_seconds < 0 or self.time_scale < 0:
            raise ValueError("instance_seconds and time_scale must not be negative")

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(unknown)}")
        candidate = Config(**{**asdict(self), **{k: float(v) for k, v in changes.items()}})
        candidate.validate()
        self.instance_seconds = candidate.instance_seconds
        self.time_scale = candidate.time_scale

    def instance_real_seconds(self) -> float:
        """Real seconds one stack instance takes."""
        return self.instance_seconds * self.time_scale


CONFIG = Config.from_env()

# Called under LOCK before every request (the engine registers its `advance`).
BEFORE_REQUEST: list[Callable[[], None]] = []
# Called under LOCK when moto's state is reset (POST /moto-api/reset).
ON_RESET: list[Callable[[], None]] = []


def _json_response(start_response: Any, status: str, body: Any) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


def _account_status(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """`POST /_emulator/account-status`: sets an account's Organizations status."""
    from . import org

    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b"{}"
    try:
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        account, status = str(body["account_id"]), str(body["status"])
        org.set_account_status(account, status)
    except (KeyError, ValueError) as err:
        return _json_response(start_response, "400 Bad Request", {"error": str(err)})
    return _json_response(start_response, "200 OK", {"account_id": account, "status": status})


def handle_control(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """`/_emulator/config`: read (GET) or change (POST, JSON object) the time settings;
    `/_emulator/account-status` (POST): an account's status."""
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if path.rstrip("/") == "/_emulator/account-status" and method == "POST":
        return _account_status(environ, start_response)
    if path.rstrip("/") != "/_emulator/config":
        return _json_response(start_response, "404 Not Found", {"error": f"no such path {path}"})
    if method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b"{}"
        try:
            changes = json.loads(raw or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object")
            CONFIG.update(changes)
        except ValueError as err:
            return _json_response(start_response, "400 Bad Request", {"error": str(err)})
    elif method != "GET":
        return _json_response(start_response, "405 Method Not Allowed", {"error": method})
    return _json_response(start_response, "200 OK", asdict(CONFIG))


def wrap_app(app_class: type) -> type:
    """A subclass of moto's `DomainDispatcherApplication` that answers `/_emulator/...` itself
    and serializes every other request under `LOCK` after moving the engine forward."""

    class EmulatorApp(app_class):  # type: ignore[misc, valid-type]
        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            with LOCK:
                if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
                    return handle_control(environ, start_response)
                if environ.get("PATH_INFO", "") == "/moto-api/reset":
                    for hook in ON_RESET:
                        hook()
                for hook in BEFORE_REQUEST:
                    hook()
                return super().__call__(environ, start_response)

    EmulatorApp.__name__ = "EmulatorApp"
    return EmulatorApp


def install() -> None:
    """Routes moto's server through `EmulatorApp`."""
    import moto.server

    if getattr(moto.server.DomainDispatcherApplication, "__name__", "") != "EmulatorApp":
        moto.server.DomainDispatcherApplication = wrap_app(moto.server.DomainDispatcherApplication)
