"""A faithful AWS StackSets emulator: moto, patched where its StackSets, Organizations and Account
APIs differ from what the AWS documentation says (issue 17).

Start it with `python -m tests.emulator [-H HOST] [-p PORT]` from the repository root (or through
`scripts/moto`); it logs moto's "Running on http://127.0.0.1:PORT" line. `install()` applies every
patch to the moto imported in this process.

Each module that patches moto exposes `install()`; `install()` here calls them in order. The
operations engine (`engine`, `stacksets`, `control`) and the organization side (`org`, `regions`,
`targets`, `access`, `outcomes`, `drift`, `autodeploy`) meet through the functions named in each
module's docstring.
"""

from __future__ import annotations

import importlib

# Modules, in the order they are installed; those with an `install()` patch moto.
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

_installed = False


def install() -> None:
    """Applies every patch once."""
    global _installed
    if _installed:
        return
    for name in _MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module_install = getattr(module, "install", None)
        if module_install is not None:
            module_install()
    _installed = True
