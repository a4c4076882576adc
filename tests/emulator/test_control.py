"""The control endpoint of the emulator (no AWS document: this is the emulator's own interface)."""

from __future__ import annotations

import urllib.error

import pytest


def test_config_round_trip(emulator):
    """POST /_emulator/config changes the time settings and returns them."""
    assert emulator.config(time_scale=0.5) == {
        "instance_seconds": 30.0,
        "time_scale": 0.5,
    }


def test_config_rejects_unknown_settings(emulator):
    """An unknown setting is refused with HTTP 400 instead of being ignored."""
    with pytest.raises(urllib.error.HTTPError) as err:
        emulator.config(speed=2)
    assert err.value.code == 400
