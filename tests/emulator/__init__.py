"""A faithful AWS StackSets emulator: moto, patched where its StackSets, Organizations and Account
APIs differ from what the AWS documentation says (issue 17).

Start it with `python -m tests.emulator [-H HOST] [-p PORT]` from the repository root (or through
`scripts/moto`); it logs moto's "Running on http://127.0.0.1:PORT" line. `install()` applies every
patch to the moto imported in this process.

Each module that patches moto exposes `install()`; `install()` here calls them in order. The
modules of the organization side are installed when present.
"""

from __future__ import annotations

import importlib

# Modules, in the order they are installed; those with an `install()` patch moto. A missing
# module of the organization side is skipped (the engine then uses `_fallbacks`).
_MODULES = (
    "control",
    "stacksets",
    "org",
    "regions",
    "targets",
    "access",
    "outcomes",
    "drift",
    "autodeploy",
)
_OPTIONAL = {"org", "regions", "targets", "access", "outcomes", "drift", "autodeploy"}

_installed = False


def install() -> None:
    """Applies every patch once."""
    global _installed
    if _installed:
        return
    for name in _MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if name in _OPTIONAL and err.name == f"{__name__}.{name}":
                continue
            raise
        module_install = getattr(module, "install", None)
        if module_install is not None:
            module_install()
    _installed = True
