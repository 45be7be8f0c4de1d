"""Durable Task SDK for Python: orchestrations, activities, clients and workers.

Import from the submodules: ``durabletask.task`` (authoring), ``durabletask.client``,
``durabletask.worker``, ``durabletask.azuremanaged`` and ``durabletask.testing``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
