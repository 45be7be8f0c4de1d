"""Compatibility alias of :mod:`durabletask._proto.orchestrator_service_pb2_grpc`."""

from durabletask._proto.orchestrator_service_pb2_grpc import *  # noqa: F401,F403
