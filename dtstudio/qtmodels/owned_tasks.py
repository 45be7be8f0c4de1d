"""Asyncio tasks that do not outlive the QObject that started them.

A model or a view that awaits the network on the qasync loop must not be touched by that await's
continuation once Qt has deleted it (its window closed): the widgets are gone, and touching them raises
``RuntimeError: Internal C++ object already deleted`` inside the task, logged as an unretrieved task
exception. :func:`tasks_owned_by` gives a set whose tasks are cancelled when Qt deletes the owner, and
:func:`own` puts a task in it until the task ends. The code after each ``await`` still checks
``shiboken6.isValid(owner)``: a task that ignores the cancellation must not reach the deleted object either.

QtCore only, so both the Qt models and the views use it.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, TypeVar

from PySide6.QtCore import QObject

__all__ = ["own", "tasks_owned_by"]

F = TypeVar("F", bound="asyncio.Future[Any]")


def _cancel_all(tasks: set[asyncio.Future[Any]], *_destroyed: Any) -> None:
    """Cancel the tasks of an object Qt is deleting (connected to its ``destroyed`` signal).

    Holds the task set, not the object: the object's C++ side is already half gone when this runs."""
    for task in list(tasks):
        task.cancel()


def tasks_owned_by(owner: QObject) -> set[asyncio.Future[Any]]:
    """An empty set of tasks that Qt's deletion of ``owner`` cancels (fill it with :func:`own`)."""
    tasks: set[asyncio.Future[Any]] = set()
    owner.destroyed.connect(partial(_cancel_all, tasks))
    return tasks


def own(tasks: set[asyncio.Future[Any]], task: F) -> F:
    """Keep ``task`` in ``tasks`` until it ends; returns it."""
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task
