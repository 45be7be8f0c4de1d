"""Command line entry: ``dtstudio`` (the app) and ``dtstudio emulator [options]`` (the backend only)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "emulator":
        from durabletask.emulator import main as emulator_main

        return int(emulator_main(args[1:]) or 0)
    from dtstudio.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
