"""Importing a user's worker file and finding its orchestrators and activities (no Qt, no network).

A worker file is any Python file. Three ways of declaring what it runs are understood, and may be
mixed:

1. functions marked with ``@task.orchestrator`` / ``@task.activity`` anywhere in the module;
2. module-level lists ``orchestrators = [...]`` / ``activities = [...]`` (files written for the
   published SDK, which has no decorators);
3. a ``register(worker)`` function, called with the worker (``worker.add_orchestrator(...)``).

The file is executed in a fresh module under a unique name (``dtstudio_hosted_<n>_<stem>``), so it
never clashes with a module of the same name in ``sys.modules``; its directory is on ``sys.path``
while it runs, so ``import helpers`` next to it works. Sibling modules imported that way are
forgotten again by :meth:`LoadedWorkerFile.forget`, so a reload picks up their edits too.

Every failure is a :class:`WorkerLoadError` whose text says file, line and message; never a
traceback.
"""

from __future__ import annotations

import itertools
import logging
import re
import sys
import threading
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from durabletask import task

__all__ = ["LoadedWorkerFile", "Registration", "WorkerLoadError", "load_worker_file", "register_into"]

log = logging.getLogger("dtstudio.core.worker")

_counter = itertools.count(1)
#: ``sys.path`` is process-wide: one load at a time changes it.
_import_lock = threading.Lock()


class WorkerLoadError(Exception):
    """A worker file could not be loaded; ``str()`` is the sentence to show.

    ``kind`` is one of ``"missing"``, ``"syntax"``, ``"import"``, ``"register"``, ``"empty"``;
    ``filename``/``line`` point at the offending place when known.
    """

    def __init__(
        self, kind: str, message: str, *, filename: str | None = None, line: int | None = None,
        source_line: str | None = None, column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.filename = filename
        self.line = line
        self.source_line = source_line
        self.column = column

    def details(self) -> str:
        """The offending source line (``4 | code``) with a caret under the column, if known (else '')."""
        if not self.source_line:
            return ""
        text = self.source_line.rstrip("\n")
        stripped = text.lstrip()
        gutter = f"{self.line} | " if self.line else ""
        out = gutter + stripped
        if self.column is not None and self.column > 0:
            col = max(0, self.column - 1 - (len(text) - len(stripped)))
            out += "\n" + " " * (len(gutter) + min(col, len(stripped))) + "^"
        return out


@dataclass
class LoadedWorkerFile:
    """A worker file after import: the module and what it declares."""

    path: Path
    module: types.ModuleType
    orchestrators: list[Callable[..., Any]] = field(default_factory=list)
    activities: list[Callable[..., Any]] = field(default_factory=list)
    register: Callable[..., Any] | None = None
    #: Names in ``sys.modules`` this load added (the module itself and its sibling imports).
    added_modules: list[str] = field(default_factory=list)

    @property
    def module_name(self) -> str:
        return self.module.__name__

    def logger_names(self) -> list[str]:
        """Loggers the file logs to: its module's name and module-level ``logging.Logger`` objects."""
        names = [self.module.__name__]
        for value in vars(self.module).values():
            if isinstance(value, logging.Logger) and value.name not in names and value.name != "root":
                names.append(value.name)
        return names

    def forget(self) -> None:
        """Drop the module and its sibling imports from ``sys.modules`` (before a reload or unload)."""
        for name in self.added_modules:
            sys.modules.pop(name, None)


@dataclass
class Registration:
    """What :func:`register_into` put into a worker."""

    orchestrators: list[str] = field(default_factory=list)
    activities: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _module_name_for(path: Path) -> str:
    stem = re.sub(r"\W", "_", path.stem) or "worker"
    return f"dtstudio_hosted_{next(_counter)}_{stem}"


def _inside(filename: str | None, folder: Path) -> bool:
    if not filename:
        return False
    try:
        return Path(filename).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def _where(exc: BaseException, path: Path) -> tuple[str | None, int | None]:
    """The deepest traceback frame in the user's file or a sibling module: (file, line)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == str(path) or _inside(frame.filename, path.parent):
            return frame.filename, frame.lineno
    return None, None


def _short(filename: str | None) -> str:
    return Path(filename).name if filename else "?"


def _syntax_error(exc: SyntaxError, path: Path) -> WorkerLoadError:
    filename = exc.filename or str(path)
    kind = type(exc).__name__.replace("Error", " error").lower().capitalize()  # "Syntax error", ...
    where = f"{_short(filename)}, line {exc.lineno}" if exc.lineno else _short(filename)
    return WorkerLoadError(
        "syntax", f"{kind} in {where}: {exc.msg}", filename=filename, line=exc.lineno,
        source_line=exc.text, column=exc.offset,
    )


def _execution_error(exc: BaseException, path: Path, what: str) -> WorkerLoadError:
    filename, line = _where(exc, path)
    text = str(exc) if not isinstance(exc, SystemExit) else f"the file called sys.exit({exc.code!r})"
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    where = f" ({_short(filename)}, line {line})" if line else ""
    return WorkerLoadError("import" if what == "import" else "register",
                           f"{what[:1].upper() + what[1:] if what == 'import' else what} failed{where}: {message}", filename=filename, line=line)


def load_worker_file(path: str | Path) -> LoadedWorkerFile:
    """Import ``path`` in a fresh module and collect its orchestrators, activities and ``register``.

    Raises :class:`WorkerLoadError` for a missing file, a syntax error or an exception while
    importing. Finding nothing is not an error here (see :func:`register_into`).
    """
    p = Path(path).expanduser()
    try:
        p = p.resolve(strict=True)
    except (OSError, RuntimeError):
        raise WorkerLoadError("missing", f"The file {str(path)!r} does not exist.") from None
    if not p.is_file():
        raise WorkerLoadError("missing", f"{p} is not a file.")
    if p.suffix.lower() not in (".py", ".pyw"):
        raise WorkerLoadError("missing", f"{p.name} is not a Python file (.py).")
    try:
        source = p.read_bytes()
    except OSError as exc:
        raise WorkerLoadError("missing", f"Cannot read {p.name}: {exc.strerror or exc}") from None
    try:
        # Compiled from the text on disk each time: a reload never sees stale cached bytecode.
        code = compile(source, str(p), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise _syntax_error(exc, p) from None
    except ValueError as exc:  # e.g. null bytes
        raise WorkerLoadError("syntax", f"{p.name} is not valid Python source: {exc}", filename=str(p)) from None

    name = _module_name_for(p)
    module = types.ModuleType(name, f"dtstudio hosted worker file {p}")
    module.__file__ = str(p)
    folder = str(p.parent)
    with _import_lock:
        before = set(sys.modules)
        sys.modules[name] = module
        added_path = folder not in sys.path
        if added_path:
            sys.path.insert(0, folder)
        try:
            exec(code, module.__dict__)  # noqa: S102 - running the user's worker file is the point
        except SyntaxError as exc:  # in a sibling module it imports
            _drop_new_modules(before, p.parent, name)
            raise _syntax_error(exc, p) from None
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of user code becomes a message
            _drop_new_modules(before, p.parent, name)
            raise _execution_error(exc, p, "import") from None
        finally:
            if added_path:
                try:
                    sys.path.remove(folder)
                except ValueError:
                    pass
        added = [m for m in set(sys.modules) - before if _is_own_module(m, name, before, p.parent)]

    loaded = LoadedWorkerFile(path=p, module=module, added_modules=sorted(added))
    seen: set[int] = set()
    for value in list(vars(module).values()):
        if task.is_orchestrator(value) and id(value) not in seen:
            seen.add(id(value))
            loaded.orchestrators.append(value)
        elif task.is_activity(value) and id(value) not in seen:
            seen.add(id(value))
            loaded.activities.append(value)
    for attr, target in (("orchestrators", loaded.orchestrators), ("activities", loaded.activities)):
        declared = getattr(module, attr, None)
        if declared is None:
            continue
        if isinstance(declared, (str, bytes)) or not hasattr(declared, "__iter__"):
            loaded.forget()
            raise WorkerLoadError("import", f"{p.name}: '{attr}' must be a list of functions, "
                                  f"not {type(declared).__name__}.", filename=str(p))
        for fn in declared:
            if not callable(fn):
                loaded.forget()
                raise WorkerLoadError("import", f"{p.name}: '{attr}' contains {fn!r}, which is not a function.",
                                      filename=str(p))
            if id(fn) not in seen:
                seen.add(id(fn))
                target.append(fn)
    register = getattr(module, "register", None)
    if callable(register) and not task.is_orchestrator(register) and not task.is_activity(register):
        loaded.register = register
    return loaded


def _is_own_module(m: str, name: str, before: set[str], folder: Path) -> bool:
    """Whether a module new since ``before`` is the file itself or a sibling it imported.

    Submodules of packages imported earlier (e.g. ``durabletask.x`` when the file sits in a
    checkout of durabletask) are left alone: dropping them would split their package.
    """
    if m == name:
        return True
    if m.split(".")[0] in before:
        return False
    return _inside(getattr(sys.modules.get(m), "__file__", None), folder)


def _drop_new_modules(before: set[str], folder: Path, name: str) -> None:
    for m in set(sys.modules) - before:
        if _is_own_module(m, name, before, folder):
            sys.modules.pop(m, None)


class _RecordingWorker:
    """Passed to the file's ``register(worker)``: forwards to the real worker and notes the names."""

    def __init__(self, worker: Any, reg: Registration, added: set[int]) -> None:
        self._worker = worker
        self._reg = reg
        self._added = added

    def add_orchestrator(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        name = self._worker.add_orchestrator(fn, *args, **kwargs)
        self._reg.orchestrators.append(str(name if name is not None else task.get_name(fn)))
        self._added.add(id(fn))
        return name

    def add_activity(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        name = self._worker.add_activity(fn, *args, **kwargs)
        self._reg.activities.append(str(name if name is not None else task.get_name(fn)))
        self._added.add(id(fn))
        return name

    def add_entity(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._worker.add_entity(fn, *args, **kwargs)
        except NotImplementedError as exc:
            self._reg.notices.append(f"Entity {getattr(fn, '__name__', fn)!s} skipped: {exc}.")
            return None

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._worker, attr)


def register_into(worker: Any, loaded: LoadedWorkerFile) -> Registration:
    """Register everything ``loaded`` declares with ``worker`` (not started yet).

    ``register(worker)`` runs first; decorated and listed functions it did not add already follow.
    Raises :class:`WorkerLoadError` if ``register`` fails, a name is registered twice, or the
    file declares no orchestrator and no activity at all.
    """
    reg = Registration()
    added: set[int] = set()
    p = loaded.path
    if loaded.register is not None:
        try:
            loaded.register(_RecordingWorker(worker, reg, added))
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code
            raise _execution_error(exc, p, "register(worker)") from None
    for fn in loaded.orchestrators:
        if id(fn) in added:
            continue
        try:
            reg.orchestrators.append(str(worker.add_orchestrator(fn)))
        except (ValueError, TypeError) as exc:
            raise WorkerLoadError("register", f"{p.name}: orchestrator {getattr(fn, '__name__', fn)!s}: {exc}",
                                  filename=str(p)) from None
    for fn in loaded.activities:
        if id(fn) in added:
            continue
        try:
            reg.activities.append(str(worker.add_activity(fn)))
        except (ValueError, TypeError) as exc:
            raise WorkerLoadError("register", f"{p.name}: activity {getattr(fn, '__name__', fn)!s}: {exc}",
                                  filename=str(p)) from None
    if not reg.orchestrators and not reg.activities:
        raise WorkerLoadError(
            "empty",
            f"{p.name} has no orchestrators and no activities. Mark functions with @task.orchestrator / "
            "@task.activity, list them in module-level 'orchestrators = [...]' / 'activities = [...]', "
            "or define register(worker).",
            filename=str(p),
        )
    if not reg.orchestrators:
        reg.notices.append(f"{p.name} has no orchestrators (only activities).")
    return reg
