"""Test doubles for the client tests: a metadata-recording servicer and a small in-memory fake backend.

The fake backend stores instances as proto OrchestrationState messages, records every request and its metadata,
and lets a test complete instances by hand (``complete``).
"""

from __future__ import annotations

import threading
from concurrent import futures

import grpc
from google.protobuf import empty_pb2, timestamp_pb2, wrappers_pb2

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc

TERMINAL = {
    pb.ORCHESTRATION_STATUS_COMPLETED,
    pb.ORCHESTRATION_STATUS_FAILED,
    pb.ORCHESTRATION_STATUS_TERMINATED,
}


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


class FakeBackend(pb_grpc.TaskHubSidecarServiceServicer):
    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.instances: dict[str, pb.OrchestrationState] = {}
        self.order: list[str] = []
        self.requests: list[tuple[str, object, dict[str, str]]] = []
        self.history: dict[str, list[pb.HistoryEvent]] = {}
        self.entities: dict[str, pb.EntityMetadata] = {}
        self.query_token_override: str | None = None

    # -- helpers ---------------------------------------------------------------------------------
    def _rec(self, name, request, context):
        with self.lock:
            self.requests.append((name, request, dict(context.invocation_metadata())))

    def last(self, name):
        with self.lock:
            return [r for n, r, _ in self.requests if n == name][-1]

    def metadata(self, name):
        with self.lock:
            return [md for n, _, md in self.requests if n == name]

    def complete(self, iid, status=pb.ORCHESTRATION_STATUS_COMPLETED, output=None, failure=None):
        with self.lock:
            st = self.instances[iid]
            st.orchestrationStatus = status
            if output is not None:
                st.output.value = output
            if failure is not None:
                st.failureDetails.CopyFrom(failure)
            st.lastUpdatedTimestamp.CopyFrom(_now())
            st.completedTimestamp.CopyFrom(_now())
            self.lock.notify_all()

    def _get(self, iid, context):
        st = self.instances.get(iid)
        if st is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"instance '{iid}' not found")
        return st

    # -- RPCs ------------------------------------------------------------------------------------
    def Hello(self, request, context):
        self._rec("Hello", request, context)
        return empty_pb2.Empty()

    def StartInstance(self, request, context):
        self._rec("StartInstance", request, context)
        with self.lock:
            if request.instanceId in self.instances:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, "exists")
            st = pb.OrchestrationState(
                instanceId=request.instanceId,
                name=request.name,
                orchestrationStatus=pb.ORCHESTRATION_STATUS_PENDING,
                createdTimestamp=_now(),
                lastUpdatedTimestamp=_now(),
                executionId=wrappers_pb2.StringValue(value="exec-1"),
                tags=dict(request.tags),
            )
            if request.HasField("input"):
                st.input.CopyFrom(request.input)
            if request.HasField("version"):
                st.version.CopyFrom(request.version)
            if request.HasField("scheduledStartTimestamp"):
                st.scheduledStartTimestamp.CopyFrom(request.scheduledStartTimestamp)
            self.instances[request.instanceId] = st
            self.order.append(request.instanceId)
            self.history[request.instanceId] = [
                pb.HistoryEvent(
                    eventId=-1, timestamp=_now(), orchestratorStarted=pb.OrchestratorStartedEvent()
                ),
                pb.HistoryEvent(
                    eventId=-1,
                    timestamp=_now(),
                    executionStarted=pb.ExecutionStartedEvent(name=request.name, input=st.input),
                ),
            ]
        return pb.CreateInstanceResponse(instanceId=request.instanceId)

    def _state_response(self, iid, payloads):
        st = self.instances.get(iid)
        if st is None:
            return pb.GetInstanceResponse(exists=False)
        copy = pb.OrchestrationState()
        copy.CopyFrom(st)
        if not payloads:
            copy.ClearField("input")
            copy.ClearField("output")
        return pb.GetInstanceResponse(exists=True, orchestrationState=copy)

    def GetInstance(self, request, context):
        self._rec("GetInstance", request, context)
        with self.lock:
            return self._state_response(request.instanceId, request.getInputsAndOutputs)

    def _wait(self, request, context, done):
        with self.lock:
            while True:
                st = self.instances.get(request.instanceId)
                if st is None or done(st):
                    return self._state_response(request.instanceId, request.getInputsAndOutputs)
                remaining = context.time_remaining()
                if remaining is not None and remaining <= 0:
                    context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline")
                self.lock.wait(min(remaining or 1.0, 1.0))
                if not context.is_active():
                    context.abort(grpc.StatusCode.CANCELLED, "gone")

    def WaitForInstanceStart(self, request, context):
        self._rec("WaitForInstanceStart", request, context)
        return self._wait(
            request, context, lambda st: st.orchestrationStatus != pb.ORCHESTRATION_STATUS_PENDING
        )

    def WaitForInstanceCompletion(self, request, context):
        self._rec("WaitForInstanceCompletion", request, context)
        return self._wait(request, context, lambda st: st.orchestrationStatus in TERMINAL)

    def RaiseEvent(self, request, context):
        self._rec("RaiseEvent", request, context)
        with self.lock:
            self._get(request.instanceId, context)
        return pb.RaiseEventResponse()

    def TerminateInstance(self, request, context):
        self._rec("TerminateInstance", request, context)
        with self.lock:
            self._get(request.instanceId, context)
        self.complete(
            request.instanceId, pb.ORCHESTRATION_STATUS_TERMINATED, output=request.output.value or None
        )
        return pb.TerminateResponse()

    def SuspendInstance(self, request, context):
        self._rec("SuspendInstance", request, context)
        with self.lock:
            self._get(request.instanceId, context).orchestrationStatus = pb.ORCHESTRATION_STATUS_SUSPENDED
        return pb.SuspendResponse()

    def ResumeInstance(self, request, context):
        self._rec("ResumeInstance", request, context)
        with self.lock:
            self._get(request.instanceId, context).orchestrationStatus = pb.ORCHESTRATION_STATUS_RUNNING
        return pb.ResumeResponse()

    def RewindInstance(self, request, context):
        self._rec("RewindInstance", request, context)
        with self.lock:
            st = self._get(request.instanceId, context)
            if st.orchestrationStatus != pb.ORCHESTRATION_STATUS_FAILED:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, "instance is not failed")
            st.orchestrationStatus = pb.ORCHESTRATION_STATUS_RUNNING
        return pb.RewindInstanceResponse()

    def RestartInstance(self, request, context):
        self._rec("RestartInstance", request, context)
        with self.lock:
            self._get(request.instanceId, context)
        new_id = "restarted-" + request.instanceId if request.restartWithNewInstanceId else request.instanceId
        return pb.RestartInstanceResponse(instanceId=new_id)

    def QueryInstances(self, request, context):
        self._rec("QueryInstances", request, context)
        q = request.query
        with self.lock:
            ids = [
                i
                for i in self.order
                if (not q.runtimeStatus or self.instances[i].orchestrationStatus in q.runtimeStatus)
                and (not q.HasField("instanceIdPrefix") or i.startswith(q.instanceIdPrefix.value))
            ]
            start = int(q.continuationToken.value) if q.HasField("continuationToken") else 0
            page = ids[start : start + q.maxInstanceCount]
            states = [self._state_response(i, q.fetchInputsAndOutputs).orchestrationState for i in page]
        res = pb.QueryInstancesResponse(orchestrationState=states)
        if self.query_token_override is not None:
            res.continuationToken.value = self.query_token_override
        elif start + q.maxInstanceCount < len(ids):
            res.continuationToken.value = str(start + q.maxInstanceCount)
        return res

    def ListInstanceIds(self, request, context):
        self._rec("ListInstanceIds", request, context)
        with self.lock:
            ids = [i for i in self.order if self.instances[i].orchestrationStatus in TERMINAL]
        start = ids.index(request.lastInstanceKey.value) + 1 if request.HasField("lastInstanceKey") else 0
        size = request.pageSize or 100
        page = ids[start : start + size]
        res = pb.ListInstanceIdsResponse(instanceIds=page)
        if start + size < len(ids):
            res.lastInstanceKey.value = page[-1]
        return res

    def PurgeInstances(self, request, context):
        self._rec("PurgeInstances", request, context)
        with self.lock:
            if request.instanceId:
                ids = [request.instanceId] if request.instanceId in self.instances else []
            else:
                ids = list(self.order)
            ids = [i for i in ids if self.instances[i].orchestrationStatus in TERMINAL]
            for i in ids:
                del self.instances[i]
                self.order.remove(i)
        res = pb.PurgeInstancesResponse(deletedInstanceCount=len(ids))
        if not request.instanceId:
            res.isComplete.value = True
        return res

    def StreamInstanceHistory(self, request, context):
        self._rec("StreamInstanceHistory", request, context)
        with self.lock:
            if request.instanceId not in self.instances:
                context.abort(grpc.StatusCode.NOT_FOUND, f"instance '{request.instanceId}' not found")
            events = list(self.history[request.instanceId])
        for i in range(0, len(events), 1):
            yield pb.HistoryChunk(events=events[i : i + 1])

    def SignalEntity(self, request, context):
        self._rec("SignalEntity", request, context)
        with self.lock:
            meta = self.entities.setdefault(
                request.instanceId, pb.EntityMetadata(instanceId=request.instanceId)
            )
            meta.lastModifiedTime.CopyFrom(_now())
            meta.serializedState.value = request.input.value
        return pb.SignalEntityResponse()

    def GetEntity(self, request, context):
        self._rec("GetEntity", request, context)
        with self.lock:
            meta = self.entities.get(request.instanceId)
            if meta is None:
                return pb.GetEntityResponse(exists=False)
            return pb.GetEntityResponse(exists=True, entity=meta)

    def QueryEntities(self, request, context):
        self._rec("QueryEntities", request, context)
        with self.lock:
            metas = list(self.entities.values())
        start = (
            int(request.query.continuationToken.value) if request.query.HasField("continuationToken") else 0
        )
        res = pb.QueryEntitiesResponse(entities=metas[start : start + 1])
        if start + 1 < len(metas):
            res.continuationToken.value = str(start + 1)
        return res

    def CleanEntityStorage(self, request, context):
        self._rec("CleanEntityStorage", request, context)
        if not request.HasField("continuationToken"):
            return pb.CleanEntityStorageResponse(
                continuationToken=wrappers_pb2.StringValue(value="next"), emptyEntitiesRemoved=2
            )
        return pb.CleanEntityStorageResponse(emptyEntitiesRemoved=1, orphanedLocksReleased=3)


class FakeServer:
    def __init__(self) -> None:
        self.backend = FakeBackend()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        pb_grpc.add_TaskHubSidecarServiceServicer_to_server(self.backend, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"


class RecordingServicer(pb_grpc.TaskHubSidecarServiceServicer):
    """Answers Hello, GetInstance and StreamInstanceHistory; records every call's metadata."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()

    def _record(self, method: str, context: grpc.ServicerContext) -> None:
        md = {k: v for k, v in context.invocation_metadata()}
        with self.lock:
            self.calls.append((method, md))

    def Hello(self, request, context):
        self._record("Hello", context)
        return empty_pb2.Empty()

    def GetInstance(self, request, context):
        self._record("GetInstance", context)
        return pb.GetInstanceResponse(exists=False)

    def StreamInstanceHistory(self, request, context):
        self._record("StreamInstanceHistory", context)
        for i in range(3):
            yield pb.HistoryChunk(events=[pb.HistoryEvent(eventId=i)])


class RecordingServer:
    def __init__(self) -> None:
        self.servicer = RecordingServicer()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_TaskHubSidecarServiceServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"

    def metadata_of(self, method: str) -> list[dict[str, str]]:
        with self.servicer.lock:
            return [md for m, md in self.servicer.calls if m == method]
