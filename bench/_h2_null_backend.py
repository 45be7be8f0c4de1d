"""The do-nothing chain backend of ``_null_backend.py``, served by the emulator's own HTTP/2 transport.

Not a product. Next to ``_null_backend.py`` (the same handlers on grpc.aio's server) it shows what a
backend costs per orchestration when it does nothing but speak the protocol, on each transport: the
floor under the emulator's own figures. It was the probe that led the emulator to its own transport
(2026-11-26: our SDK's 500 chains at 202-222/s on it against 117-136/s on grpc.aio, with the backend's
CPU at 2.3 vs 6-7 ms per orchestration and 13 vs 120 context switches).

    python bench/_h2_null_backend.py --port PORT     # stops on SIGTERM; clients on grpcio's C core only
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from _null_backend import NullBackend, method_table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from durabletask.emulator.http2 import Http2Server, routes_for


async def _serve(port: int) -> None:
    server = Http2Server(routes_for("TaskHubSidecarService", method_table(NullBackend())),
                         max_message=64 * 1024 * 1024)
    await server.listen("127.0.0.1", port)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(_serve(parser.parse_args().port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
