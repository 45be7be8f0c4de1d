"""Command line entry: ``dtstudio`` (the app) and ``dtstudio emulator [options]`` (the backend only)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    # gRPC's C core prints INFO lines such as "Got goaway" when a connection ends at shutdown; in a
    # terminal they read like errors. Keep its errors only, unless the user chose a verbosity.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "emulator":
        from durabletask.emulator import main as emulator_main

        return int(emulator_main(args[1:]) or 0)
    from dtstudio.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
