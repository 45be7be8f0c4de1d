"""The published SDK's module path for the test backend: ``durabletask.testing.in_memory_backend``.

Code written for the published SDK imports ``create_test_backend`` (and ``InMemoryOrchestrationBackend``)
from here; both are this package's in-memory emulator backend from :mod:`durabletask.testing`.
"""

from __future__ import annotations

from durabletask.testing import InMemoryOrchestrationBackend, TestBackend, create_test_backend

__all__ = ["InMemoryOrchestrationBackend", "TestBackend", "create_test_backend"]
