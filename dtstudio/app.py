"""dtstudio's composition root: QApplication, the qasync loop, settings, the emulator, the window."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["AppContext", "build_parser", "create_window", "run_app"]

log = logging.getLogger("dtstudio.app")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dtstudio",
        description="Watch and steer Durable Task orchestrations. Without arguments dtstudio starts its "
        "embedded emulator and connects to it. 'dtstudio emulator --help' runs only the emulator.",
    )
    p.add_argument("--endpoint", help="connect to this gRPC endpoint instead, e.g. http://localhost:8080")
    p.add_argument("--taskhub", default=None, help="task hub name (default: 'default')")
    p.add_argument("--db", default=None, help="the embedded emulator's database file (default: in the user data dir)")
    p.add_argument("--port", type=int, default=8080, help="the embedded emulator's preferred port (default 8080)")
    p.add_argument("--config-dir", default=None, help="where settings and connection profiles are kept")
    p.add_argument("--quit-after", type=float, default=None, help=argparse.SUPPRESS)  # for benchmarks and smoke tests
    return p


class AppContext:
    """What :func:`create_window` builds; kept together so tests and benchmarks can drive it."""

    def __init__(self, window: Any, store: Any, settings: Any, emulator: Any) -> None:
        self.window = window
        self.store = store
        self.settings = settings
        self.emulator = emulator


def create_window(
    args: argparse.Namespace,
    *,
    config_dir: Path | None = None,
    start_emulator: bool = True,
    emulator: Any = None,
    emulator_started: Any = None,
) -> AppContext:
    """Build the window and start connecting (needs a QApplication and a running qasync loop).

    ``emulator``/``emulator_started`` (an :class:`EmbeddedEmulator` and the concurrent future of
    its background start) let the caller start the emulator before Qt is even imported.
    """
    from PySide6.QtCore import QSettings

    from dtstudio.core.embedded_emulator import EmbeddedEmulator
    from dtstudio.core.profiles import (
        EMBEDDED_PROFILE_NAME,
        BackendKind,
        ConnectionProfile,
        ProfileStore,
        user_config_dir,
    )
    from dtstudio.ui.main_window import MainWindow

    cfg = Path(config_dir or args.config_dir or user_config_dir())
    cfg.mkdir(parents=True, exist_ok=True)
    settings = QSettings(str(cfg / "dtstudio.ini"), QSettings.Format.IniFormat)
    store = ProfileStore(cfg)
    store.load()
    window = MainWindow(store, settings)
    if args.endpoint:
        profile = ConnectionProfile(
            name=f"{args.endpoint} ({args.taskhub or 'default'})",
            kind=BackendKind.EMULATOR,
            endpoint=args.endpoint,
            taskhub=args.taskhub or "default",
        )
        existing = store.get(profile.name)
        if existing is None:
            store.profiles.append(profile)
        window._fill_profile_combo()
        window.connect_to(profile)
    else:
        embedded = store.get(EMBEDDED_PROFILE_NAME) or next(p for p in store.profiles if p.kind is BackendKind.EMBEDDED)
        if args.taskhub:
            embedded.taskhub = args.taskhub
        if emulator_started is None and start_emulator:
            emulator = EmbeddedEmulator(db_path=args.db, preferred_port=args.port)
            emulator_started = emulator.start_in_background()
        if emulator_started is not None:
            future = asyncio.wrap_future(emulator_started)

            def started(f: asyncio.Future[Any]) -> None:
                if f.cancelled():
                    return
                exc = f.exception()
                if exc is not None:
                    window.set_embedded_address(None, str(exc))
                else:
                    window.set_embedded_address(f.result())

            future.add_done_callback(started)
        window.connect_to(embedded)
    return AppContext(window, store, settings, emulator)


def run_app(argv: Sequence[str] | None = None) -> int:
    """Start the GUI (blocking until the window closes); returns the exit code."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=os.environ.get("DTSTUDIO_LOG", "WARNING").upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    t0 = time.perf_counter()
    emulator = None
    emulator_started = None
    if not args.endpoint:
        # Start the backend first: it comes up while Qt is still importing.
        from dtstudio.core.embedded_emulator import EmbeddedEmulator

        emulator = EmbeddedEmulator(db_path=args.db, preferred_port=args.port)
        emulator_started = emulator.start_in_background()
    import qasync
    from PySide6.QtWidgets import QApplication

    from dtstudio.ui.error_hook import install_exception_hooks

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("dtstudio")
    app.setOrganizationName("dtstudio")
    app.setApplicationDisplayName("dtstudio")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    ctx: AppContext | None = None

    async def boot() -> None:
        nonlocal ctx
        ctx = create_window(args, emulator=emulator, emulator_started=emulator_started)
        install_exception_hooks(ctx.window, loop)
        ctx.window.show()
        log.info("window shown after %.3f s", time.perf_counter() - t0)
        if args.quit_after is not None:
            loop.call_later(args.quit_after, ctx.window.close)

    app_close = asyncio.Event()
    app.lastWindowClosed.connect(app_close.set)  # type: ignore[attr-defined]

    async def main() -> None:
        await boot()
        await app_close.wait()

    try:
        with loop:
            loop.run_until_complete(main())
    finally:
        if ctx is not None and not ctx.window.worker_controller.wait_stopped(15.0):
            log.warning("the hosted worker did not stop within 15 s")
        if emulator is not None:
            try:
                if emulator_started is not None:
                    emulator_started.result(timeout=30)
            except Exception as exc:  # noqa: BLE001 - it never started; nothing to stop
                log.info("embedded emulator never started: %s", exc)
            emulator.stop()
    return 0
