"""SQLite persistence of the emulator: schema, migrations and queries, nothing else.

Every table is keyed by task hub. Times are integer microseconds since the Unix epoch (exact, so they
make good keyset-paging keys). Payloads that are protobuf messages (history events, failure details,
activity requests) are stored as their serialized bytes and echoed back verbatim.

One :class:`Store` owns one connection; the engine calls it from one thread at a time (under its lock)
and decides where transactions begin and end (:meth:`begin`, :meth:`savepoint`, :meth:`commit`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PAGE_SIZE", "SCHEMA_VERSION", "TERMINAL", "DatabaseInUseError", "InstanceRow", "SchemaTooNewError", "Store"]

log = logging.getLogger("durabletask.emulator.store")

#: The schema version this code writes (``PRAGMA user_version``).
SCHEMA_VERSION = 2

#: Terminal runtime statuses: COMPLETED, FAILED, TERMINATED.
TERMINAL = (1, 3, 5)

#: Page size of new database files. A commit writes every page it changed to the WAL (and checksums it),
#: and a typical completion changes 6-8 pages in as many tables and indexes for a few hundred bytes of
#: rows: half of SQLite's 4 KiB default halves those bytes (about 4% fewer instructions per
#: orchestration), while events up to ~2 KiB still fit in a page without overflow pages.
PAGE_SIZE = 2048


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer emulator whose schema this one does not know."""


class DatabaseInUseError(RuntimeError):
    """Another emulator process has the database open."""


_SCHEMA_V1 = """
CREATE TABLE hubs (
    name TEXT PRIMARY KEY,
    created_us INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE instances (
    hub TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT,
    status INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    completed_us INTEGER,
    scheduled_us INTEGER,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    failure BLOB,
    parent_instance_id TEXT,
    parent BLOB,
    tags TEXT,
    trace BLOB,
    PRIMARY KEY (hub, instance_id)
) WITHOUT ROWID;
CREATE INDEX ix_instances_created ON instances (hub, created_us, instance_id);
CREATE INDEX ix_instances_status ON instances (hub, status, created_us, instance_id);
CREATE INDEX ix_instances_completed ON instances (hub, completed_us, instance_id)
    WHERE completed_us IS NOT NULL;

CREATE TABLE history (
    hub TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event BLOB NOT NULL,
    PRIMARY KEY (hub, instance_id, seq)
) WITHOUT ROWID;

CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hub TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    visible_us INTEGER NOT NULL,
    event BLOB NOT NULL
);
CREATE INDEX ix_inbox_instance ON inbox (hub, instance_id, id);

CREATE TABLE activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hub TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    request BLOB NOT NULL
);
CREATE INDEX ix_activities_instance ON activities (hub, instance_id);
"""

_SCHEMA_V2 = """
CREATE INDEX IF NOT EXISTS ix_instances_id ON instances (hub, instance_id, status, created_us);
"""

_MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2}

_INSTANCE_COLUMNS = (
    "hub, instance_id, execution_id, name, version, status, created_us, updated_us, completed_us, "
    "scheduled_us, input, output, custom_status, failure, parent_instance_id, parent, tags, trace"
)
_SUMMARY_COLUMNS = (
    "hub, instance_id, execution_id, name, version, status, created_us, updated_us, completed_us, "
    "scheduled_us, NULL, NULL, custom_status, failure, parent_instance_id, parent, tags, trace"
)


@dataclass(slots=True)
class InstanceRow:
    """One orchestration instance's status row (the current execution only)."""

    hub: str
    instance_id: str
    execution_id: str
    name: str
    version: str | None
    status: int
    created_us: int
    updated_us: int
    completed_us: int | None = None
    scheduled_us: int | None = None
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    failure: bytes | None = None
    parent_instance_id: str | None = None
    parent: bytes | None = None
    tags: dict[str, str] = field(default_factory=dict)
    trace: bytes | None = None

    def values(self) -> tuple[object, ...]:
        return (
            self.hub, self.instance_id, self.execution_id, self.name, self.version, self.status,
            self.created_us, self.updated_us, self.completed_us, self.scheduled_us, self.input,
            self.output, self.custom_status, self.failure, self.parent_instance_id, self.parent,
            json.dumps(self.tags) if self.tags else None, self.trace,
        )

    @classmethod
    def from_db(cls, r: Sequence[object]) -> InstanceRow:
        tags = json.loads(r[16]) if r[16] else {}  # type: ignore[arg-type]
        return cls(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],  # type: ignore[arg-type]
                   r[13], r[14], r[15], tags, r[17])  # type: ignore[arg-type]


_PREFIX_SCAN_BUDGET = 2000


def _null(value: None) -> None:
    return value


def _bind_bytes_and_none_directly() -> None:
    """Let sqlite3 bind ``bytes`` and ``None`` parameters without its adaptation lookup.

    sqlite3 binds int, float and str directly, but for every bytes or None parameter it first looks for
    an adapter, and with none registered it tries ``__adapt__``/``__conform__``, each raising and
    swallowing an AttributeError: about a microsecond per parameter, and a completion binds dozens
    (events, requests, NULL columns). An identity adapter for exactly these two types ends the lookup
    at its first step; what is stored is unchanged. The registry is process-wide, so an adapter the
    application registered for either type is left in place.
    """
    if (bytes, sqlite3.PrepareProtocol) not in sqlite3.adapters:
        sqlite3.register_adapter(bytes, bytes)
    if (type(None), sqlite3.PrepareProtocol) not in sqlite3.adapters:
        sqlite3.register_adapter(type(None), _null)


def _successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None if there is none)."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return None
    return prefix[:-1] + chr(last + 1)


def _escape_like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Store:
    """The emulator's SQLite database. ``path=None`` keeps everything in memory (tests)."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = None if path is None else Path(path)
        if self.path is None:
            target = ":memory:"
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OSError(f"cannot create the database folder {self.path.parent}: "
                              f"{exc.strerror or exc}") from None
            target = str(self.path)
        _bind_bytes_and_none_directly()
        self._db = sqlite3.connect(target, isolation_level=None, check_same_thread=False,
                                   cached_statements=256, timeout=0.5)
        # One cursor for the statements that return no rows (a new cursor per statement costs more).
        self._w = self._db.cursor()
        try:
            self._configure()
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    # ----------------------------------------------------------------------------------- set-up
    def _configure(self) -> None:
        db = self._db
        if self.path is not None:
            try:
                # Takes effect only when the file is new (an existing database keeps its page size).
                db.execute(f"PRAGMA page_size={PAGE_SIZE}")
                # One emulator process per file: the exclusive lock also lets WAL skip shared memory.
                db.execute("PRAGMA locking_mode=EXCLUSIVE")
                mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                db.execute("BEGIN IMMEDIATE")
                db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise DatabaseInUseError(
                        f"the database {self.path} is in use by another emulator process") from exc
                raise
            if str(mode).lower() != "wal":
                log.info("journal mode is %s, not WAL", mode)
            db.execute("PRAGMA synchronous=FULL")
            # Checkpoint less often (each one fsyncs the database file); cap the WAL left behind.
            db.execute("PRAGMA wal_autocheckpoint=4000")
            db.execute("PRAGMA journal_size_limit=67108864")
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("PRAGMA cache_size=-65536")

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"the database {self.path} has schema version {version}, newer than this emulator's "
                f"{SCHEMA_VERSION}; use a newer dtstudio or another database file")
        while version < SCHEMA_VERSION:
            version += 1
            try:
                self._db.executescript(
                    f"BEGIN IMMEDIATE;{_MIGRATIONS[version]}PRAGMA user_version={version};COMMIT;")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            log.debug("database migrated to schema version %d", version)

    def close(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._db.close()

    # ---------------------------------------------------------------------------- transactions
    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    @property
    def total_changes(self) -> int:
        """Rows inserted, updated or deleted since the connection opened (detects partial writes)."""
        return self._db.total_changes

    def begin(self) -> None:
        self._w.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._w.execute("COMMIT")

    def rollback(self) -> None:
        if self._db.in_transaction:
            self._w.execute("ROLLBACK")

    def savepoint(self) -> None:
        self._w.execute("SAVEPOINT op")

    def release(self) -> None:
        self._w.execute("RELEASE op")

    def rollback_savepoint(self) -> None:
        self._w.execute("ROLLBACK TO op")
        self._w.execute("RELEASE op")

    # ------------------------------------------------------------------------------------ hubs
    def hubs(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM hubs ORDER BY name")]

    def add_hub(self, name: str, now_us: int) -> None:
        self._w.execute("INSERT OR IGNORE INTO hubs (name, created_us) VALUES (?, ?)", (name, now_us))

    # ------------------------------------------------------------------------------- instances
    def get_instance(self, hub: str, instance_id: str) -> InstanceRow | None:
        r = self._db.execute(f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE hub=? AND instance_id=?",
                             (hub, instance_id)).fetchone()
        return None if r is None else InstanceRow.from_db(r)

    def get_status(self, hub: str, instance_id: str) -> int | None:
        r = self._db.execute("SELECT status FROM instances WHERE hub=? AND instance_id=?",
                             (hub, instance_id)).fetchone()
        return None if r is None else int(r[0])

    def put_instance(self, row: InstanceRow) -> None:
        """Insert or fully replace an instance row."""
        self._w.execute(f"INSERT OR REPLACE INTO instances ({_INSTANCE_COLUMNS}) "
                         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row.values())

    def update_progress(self, row: InstanceRow) -> None:
        """Write only the update time and custom status (no indexed column changes: no index writes)."""
        self._w.execute("UPDATE instances SET updated_us=?, custom_status=? WHERE hub=? AND instance_id=?",
                         (row.updated_us, row.custom_status, row.hub, row.instance_id))

    def update_runtime(self, row: InstanceRow) -> None:
        """Write the fields a completion changes."""
        self._w.execute(
            "UPDATE instances SET execution_id=?, version=?, status=?, updated_us=?, completed_us=?, "
            "input=?, output=?, custom_status=?, failure=?, parent=? WHERE hub=? AND instance_id=?",
            (row.execution_id, row.version, row.status, row.updated_us, row.completed_us, row.input,
             row.output, row.custom_status, row.failure, row.parent, row.hub, row.instance_id))

    def delete_instance(self, hub: str, instance_id: str) -> None:
        """Delete an instance with its history, inbox and activity rows."""
        key = (hub, instance_id)
        db = self._w
        db.execute("DELETE FROM instances WHERE hub=? AND instance_id=?", key)
        db.execute("DELETE FROM history WHERE hub=? AND instance_id=?", key)
        db.execute("DELETE FROM inbox WHERE hub=? AND instance_id=?", key)
        db.execute("DELETE FROM activities WHERE hub=? AND instance_id=?", key)

    def active_instances(self) -> list[InstanceRow]:
        """Every non-terminal instance (loaded at start-up)."""
        rows = self._db.execute(f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE status NOT IN (1, 3, 5)")
        return [InstanceRow.from_db(r) for r in rows]

    # --------------------------------------------------------------------------------- history
    def history(self, hub: str, instance_id: str) -> list[bytes]:
        return [r[0] for r in self._db.execute(
            "SELECT event FROM history WHERE hub=? AND instance_id=? ORDER BY seq", (hub, instance_id))]

    def append_history(self, hub: str, instance_id: str, start_seq: int, events: Iterable[bytes]) -> None:
        self._w.executemany(
            "INSERT INTO history (hub, instance_id, seq, event) VALUES (?,?,?,?)",
            [(hub, instance_id, start_seq + i, e) for i, e in enumerate(events)])

    def clear_history(self, hub: str, instance_id: str) -> None:
        self._w.execute("DELETE FROM history WHERE hub=? AND instance_id=?", (hub, instance_id))

    # ----------------------------------------------------------------------------------- inbox
    def add_inbox(self, hub: str, instance_id: str, execution_id: str | None, visible_us: int,
                  event: bytes) -> int:
        cur = self._w.execute(
            "INSERT INTO inbox (hub, instance_id, execution_id, visible_us, event) VALUES (?,?,?,?,?)",
            (hub, instance_id, execution_id, visible_us, event))
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def delete_inbox(self, ids: Sequence[int]) -> None:
        if len(ids) == 1:
            self._w.execute("DELETE FROM inbox WHERE id=?", (ids[0],))
        elif ids:
            self._w.executemany("DELETE FROM inbox WHERE id=?", [(i,) for i in ids])

    def clear_inbox(self, hub: str, instance_id: str) -> None:
        self._w.execute("DELETE FROM inbox WHERE hub=? AND instance_id=?", (hub, instance_id))

    def inbox_rows(self) -> Iterator[tuple[int, str, str, str | None, int, bytes]]:
        """Every inbox row in arrival order: (id, hub, instance id, execution id, visible at, event)."""
        return iter(self._db.execute(
            "SELECT id, hub, instance_id, execution_id, visible_us, event FROM inbox ORDER BY id"))

    # ------------------------------------------------------------------------------ activities
    def add_activity(self, hub: str, instance_id: str, execution_id: str, request: bytes) -> int:
        cur = self._w.execute(
            "INSERT INTO activities (hub, instance_id, execution_id, request) VALUES (?,?,?,?)",
            (hub, instance_id, execution_id, request))
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def delete_activity(self, activity_id: int) -> None:
        self._w.execute("DELETE FROM activities WHERE id=?", (activity_id,))

    def clear_activities(self, hub: str, instance_id: str) -> None:
        self._w.execute("DELETE FROM activities WHERE hub=? AND instance_id=?", (hub, instance_id))

    def activity_rows(self) -> Iterator[tuple[int, str, str, str, bytes]]:
        """Every queued activity: (id, hub, instance id, execution id, ActivityRequest bytes)."""
        return iter(self._db.execute(
            "SELECT id, hub, instance_id, execution_id, request FROM activities ORDER BY id"))

    # --------------------------------------------------------------------------------- queries
    def query_instances(self, hub: str, *, statuses: Sequence[int], created_from: int | None,
                        created_to: int | None, prefix: str | None, after: tuple[int, str] | None,
                        limit: int, payloads: bool) -> list[InstanceRow]:
        """A page of instances, newest first: by (created time, instance id) descending, after ``after``.

        ``after`` is the keyset of the last row of the previous page; the page holds the rows strictly
        below it, so the order stays stable under inserts and deletes. With an id prefix, the prefix's
        key range is read first; if it is small the page is sorted in memory, otherwise (a prefix that
        matches much) the created-time index is scanned instead. Several statuses are read one index
        range each and merged, so the first page never sorts the whole hub.
        """
        where = ["hub=?"]
        args: list[object] = [hub]
        if created_from is not None:
            where.append("created_us>=?")
            args.append(created_from)
        if created_to is not None:
            where.append("created_us<?")
            args.append(created_to)
        if after is not None:
            where.append("created_us<=? AND (created_us<? OR instance_id<?)")
            args.extend([after[0], after[0], after[1]])
        cols = _INSTANCE_COLUMNS if payloads else _SUMMARY_COLUMNS
        if prefix:
            pwhere = list(where)
            pargs = list(args)
            if statuses:
                pwhere.append(f"status IN ({','.join('?' * len(statuses))})")
                pargs.extend(statuses)
            pwhere.append("instance_id>=? AND instance_id LIKE ? ESCAPE '\\'")
            pargs.extend([prefix, _escape_like(prefix) + "%"])
            upper = _successor(prefix)
            if upper is not None:
                pwhere.append("instance_id<?")
                pargs.append(upper)
            budget = _PREFIX_SCAN_BUDGET
            rows = self._db.execute(
                f"SELECT {cols} FROM instances INDEXED BY ix_instances_id WHERE {' AND '.join(pwhere)} LIMIT ?",
                [*pargs, budget + 1]).fetchall()
            if len(rows) <= budget:
                rows.sort(key=lambda r: (r[6], r[1]), reverse=True)
                return [InstanceRow.from_db(r) for r in rows[:limit]]
            # Unary + keeps the planner on the created-time order instead of the id range.
            where.append("+instance_id>=? AND +instance_id LIKE ? ESCAPE '\\'")
            args.extend([prefix, _escape_like(prefix) + "%"])
            if upper is not None:
                where.append("+instance_id<?")
                args.append(upper)
        order = " ORDER BY created_us DESC, instance_id DESC LIMIT ?"
        if len(statuses) <= 1:
            if statuses:
                where.append("status=?")
                args.append(statuses[0])
            sql = f"SELECT {cols} FROM instances WHERE {' AND '.join(where)}{order}"
            return [InstanceRow.from_db(r) for r in self._db.execute(sql, [*args, limit])]
        # One index range per status (hub, status, created_us, instance_id), merged newest first.
        sql = f"SELECT {cols} FROM instances WHERE {' AND '.join(where)} AND status=?{order}"
        merged: list[Sequence[object]] = []
        for status in dict.fromkeys(statuses):
            merged.extend(self._db.execute(sql, [*args, status, limit]))
        merged.sort(key=lambda r: (r[6], r[1]), reverse=True)
        return [InstanceRow.from_db(r) for r in merged[:limit]]

    def list_completed_ids(self, hub: str, *, statuses: Sequence[int], completed_from: int | None,
                           completed_to: int | None, after: tuple[int, str] | None,
                           limit: int) -> list[tuple[str, int]]:
        """(instance id, completed time) of terminal instances by (completed time, id)."""
        where = ["hub=?", "completed_us IS NOT NULL"]
        args: list[object] = [hub]
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        if completed_from is not None:
            where.append("completed_us>=?")
            args.append(completed_from)
        if completed_to is not None:
            where.append("completed_us<?")
            args.append(completed_to)
        if after is not None:
            where.append("(completed_us>? OR (completed_us=? AND instance_id>?))")
            args.extend([after[0], after[0], after[1]])
        sql = (f"SELECT instance_id, completed_us FROM instances WHERE {' AND '.join(where)} "
               "ORDER BY completed_us, instance_id LIMIT ?")
        args.append(limit)
        return [(r[0], r[1]) for r in self._db.execute(sql, args)]

    def purge_candidates(self, hub: str, *, statuses: Sequence[int], created_from: int | None,
                         created_to: int | None, limit: int) -> list[str]:
        """Ids of terminal instances matching a purge filter."""
        where = ["hub=?", f"status IN ({','.join('?' * len(statuses))})"]
        args: list[object] = [hub, *statuses]
        if created_from is not None:
            where.append("created_us>=?")
            args.append(created_from)
        if created_to is not None:
            where.append("created_us<?")
            args.append(created_to)
        sql = f"SELECT instance_id FROM instances WHERE {' AND '.join(where)} LIMIT ?"
        args.append(limit)
        return [r[0] for r in self._db.execute(sql, args)]

    def count_instances(self, hub: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM instances WHERE hub=?", (hub,)).fetchone()[0])

    def analyze(self) -> None:
        """Refresh the query planner's statistics (cheap with an analysis limit)."""
        self._db.execute("PRAGMA analysis_limit=400")
        self._db.execute("PRAGMA optimize")

    def clear_all(self) -> None:
        """Delete every row of every table (the test backend's reset)."""
        for table in ("instances", "history", "inbox", "activities", "hubs"):
            self._db.execute(f"DELETE FROM {table}")
