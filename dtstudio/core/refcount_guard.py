"""A guard against a reference-counting bug of PySide6 6.12 on Python 3.11.

PySide6-Essentials 6.12.0 (an ``abi3`` wheel) returns ``None`` from void methods without taking a
reference, as if ``None`` were immortal (true only from Python 3.12). On Python 3.10/3.11 every call
such as ``label.setText(...)`` or ``QCoreApplication.processEvents()`` therefore steals one reference
to ``None``; after a few thousand calls the interpreter aborts with
``Fatal Python error: none_dealloc``. The guard gives ``None`` a huge reference count once, making it
effectively immortal, as it is on newer interpreters. It is a no-op on Python 3.12+.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["protect_none_refcount"]

_BOOST = 1 << 40
_done = False


def protect_none_refcount() -> None:
    """Make ``None`` effectively immortal on interpreters older than 3.12 (idempotent)."""
    global _done
    if _done or sys.version_info >= (3, 12):
        return
    _done = True
    ctypes.c_ssize_t.from_address(id(None)).value += _BOOST
