"""Store set-up details that the engine's tests do not see: page size of new and existing files."""

from __future__ import annotations

import sqlite3

from durabletask.emulator.store import PAGE_SIZE, SCHEMA_VERSION, InstanceRow, Store


def _page_size(path: object) -> int:
    db = sqlite3.connect(str(path))
    try:
        return int(db.execute("PRAGMA page_size").fetchone()[0])
    finally:
        db.close()


def test_a_new_database_gets_the_smaller_page_size(tmp_path):
    path = tmp_path / "new.db"
    store = Store(path)
    store.close()
    assert PAGE_SIZE != 4096
    assert _page_size(path) == PAGE_SIZE


def test_an_existing_database_keeps_its_page_size_and_data(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(str(path))
    db.execute("PRAGMA page_size=4096")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE unrelated (x)")
    db.commit()
    db.close()
    store = Store(path)
    store.begin()
    store.put_instance(InstanceRow("hub", "i1", "e1", "orch", None, 0, 1, 1))
    store.commit()
    store.close()
    assert _page_size(path) == 4096
    store = Store(path)
    try:
        row = store.get_instance("hub", "i1")
        assert row is not None and row.execution_id == "e1"
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        store.close()


def test_bytes_and_null_parameters_are_stored_as_before(tmp_path):
    """With the engine's identity adapters, bytes stay BLOBs and None stays NULL."""
    store = Store(tmp_path / "x.db")
    try:
        store.begin()
        row = InstanceRow("hub", "i1", "e1", "orch", None, 0, 1, 1, failure=b"\x00\x01binary")
        store.put_instance(row)
        store.add_inbox("hub", "i1", None, 5, b"\x08\x01")
        store.commit()
        got = store._db.execute("SELECT typeof(version), typeof(failure), failure FROM instances").fetchone()
        assert got == ("null", "blob", b"\x00\x01binary")
        assert store._db.execute("SELECT typeof(execution_id), event FROM inbox").fetchone() == ("null", b"\x08\x01")
    finally:
        store.close()


def test_an_adapter_the_application_registered_is_kept(tmp_path, monkeypatch):
    def mine(value: bytes) -> bytes:
        return value

    key = (bytes, sqlite3.PrepareProtocol)
    monkeypatch.setitem(sqlite3.adapters, key, mine)
    Store(tmp_path / "y.db").close()
    assert sqlite3.adapters[key] is mine
