"""The public surface of the emulator and the test helper stays small and stable."""

from __future__ import annotations

import inspect

from durabletask import emulator, testing


def test_emulator_exports():
    assert sorted(emulator.__all__) == ["EmulatorServer", "default_db_path", "main"]
    params = inspect.signature(emulator.EmulatorServer).parameters
    assert [p for p in params if params[p].default is not inspect.Parameter.empty][:6] == [
        "db_path", "host", "port", "taskhubs", "token", "health_ping_interval"]
    assert params["host"].default == "127.0.0.1" and params["port"].default == 8080
    assert params["health_ping_interval"].default == 30.0
    for name in ("start", "stop", "wait_for_termination", "__enter__", "__exit__", "port", "address"):
        assert hasattr(emulator.EmulatorServer, name)


def test_testing_matches_the_published_helper():
    assert sorted(testing.__all__) == ["TestBackend", "create_test_backend"]
    params = inspect.signature(testing.create_test_backend).parameters
    assert {n: p.default for n, p in params.items()} == {"port": 50051, "max_history_size": 10000}
    for name in ("start", "stop", "reset"):
        assert callable(getattr(testing.TestBackend, name))
    assert "grace" in inspect.signature(testing.TestBackend.stop).parameters
