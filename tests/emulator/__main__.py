"""`python -m tests.emulator [-H HOST] [-p PORT]`: moto's server with the emulator's patches.

Port 0 picks a free port; moto logs "Running on http://HOST:PORT" on stderr, which `scripts/moto`
and the Rust harness read.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", default="0")
    args = parser.parse_args(argv)

    from tests.emulator import install

    install()

    from moto.server import main as moto_main

    moto_main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main(sys.argv[1:])
