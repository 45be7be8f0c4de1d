"""Serve the published SDK's in-memory test backend (``durabletask.testing``) until stdin closes.

Run with the interop venv's python: ``python -I published_backend.py [--port N]``. Prints ``READY <port>``
once it listens. Used to develop the interop driver against the published SDK's own backend, and as
baseline (a) of ``bench/throughput.py``.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from durabletask.testing import create_test_backend


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    args = parser.parse_args()
    port = args.port or free_port()
    backend = create_test_backend(port=port)
    print(f"READY {port}", flush=True)
    sys.stdin.read()
    backend.stop()
    cpu = os.times()
    print(f"backend process CPU: user {cpu.user:.2f} s, system {cpu.system:.2f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
