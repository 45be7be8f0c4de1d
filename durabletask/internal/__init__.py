"""Compatibility: the published SDK exposes its generated stubs under ``durabletask.internal``.

Code written for it (for example ``pb.OrchestrationIdReusePolicy`` for ``reuse_id_policy=``)
imports them from here; they are our own stubs from ``durabletask._proto``.
"""
