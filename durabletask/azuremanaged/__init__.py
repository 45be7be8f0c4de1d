"""Azure Durable Task Scheduler (DTS) support: clients (``durabletask.azuremanaged.client``) and the
worker (``durabletask.azuremanaged.worker``), which add the task hub, user agent and bearer-token
metadata to every call. The main classes are also reachable from this package (imported lazily).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AsyncDurableTaskSchedulerClient",
    "DurableTaskSchedulerClient",
    "DurableTaskSchedulerWorker",
    "DurableTaskSchedulerWorkerOptions",
]

_HOMES = {
    "AsyncDurableTaskSchedulerClient": "durabletask.azuremanaged.client",
    "DurableTaskSchedulerClient": "durabletask.azuremanaged.client",
    "DurableTaskSchedulerWorker": "durabletask.azuremanaged.worker",
    "DurableTaskSchedulerWorkerOptions": "durabletask.azuremanaged.worker",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'durabletask.azuremanaged' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
