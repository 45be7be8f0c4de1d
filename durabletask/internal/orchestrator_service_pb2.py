"""Compatibility alias of :mod:`durabletask._proto.orchestrator_service_pb2`."""

from durabletask._proto.orchestrator_service_pb2 import *  # noqa: F401,F403
