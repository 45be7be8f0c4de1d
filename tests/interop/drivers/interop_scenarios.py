"""The interop scenarios: client-side steps that observe and report, never judge.

Each scenario is ``fn(client, namespace) -> JSON data`` using only the client API common to the published
SDK and ours, so the same scenario runs with the published client (inside the interop venv, through
``published_driver.py``) and with our client (in the test process). Workers are somebody else's business:
whichever worker serves the task hub must have ``interop_workflows`` registered.
The tests in ``tests/interop`` hold the expectations.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import interop_workflows as wf

from durabletask import client as dt_client

__all__ = ["PHASE_ONE", "PHASE_TWO", "async_client_scenario", "describe", "run_scenarios"]

Status = dt_client.OrchestrationStatus
WAIT_S = 30.0


# ---------------------------------------------------------------------------------------------- helpers


def describe(state: Any) -> dict[str, Any] | None:
    """An OrchestrationState as plain JSON data."""
    if state is None:
        return None
    failure = state.failure_details
    return {
        "instance_id": state.instance_id,
        "name": state.name,
        "status": state.runtime_status.name,
        "output": state.serialized_output,
        "input": state.serialized_input,
        "custom_status": state.serialized_custom_status,
        "created_at": state.created_at.timestamp() if state.created_at else None,
        "failure": None if failure is None else {
            "error_type": failure.error_type,
            "message": failure.message,
            "has_stack": bool(failure.stack_trace),
        },
    }


def finish(client: Any, instance_id: str, timeout: float = WAIT_S) -> dict[str, Any] | None:
    """Wait for an instance to end and describe it."""
    return describe(client.wait_for_orchestration_completion(instance_id, timeout=timeout))


def poll(fetch: Callable[[], Any], accept: Callable[[Any], bool], timeout: float = WAIT_S) -> Any:
    """Call ``fetch`` until ``accept(value)`` or the timeout; return the last value either way."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not accept(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = fetch()
    return value


def status_of(client: Any, instance_id: str) -> str | None:
    state = client.get_orchestration_state(instance_id)
    return None if state is None else state.runtime_status.name


def wait_status(client: Any, instance_id: str, wanted: str, timeout: float = WAIT_S) -> str | None:
    return poll(lambda: status_of(client, instance_id), lambda s: s == wanted, timeout)


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    """Run ``call``; report its result or the error it raised (gRPC code included)."""
    try:
        return {"result": repr(call())}
    except Exception as error:  # noqa: BLE001 - reported, not handled
        code = getattr(error, "code", None)
        return {"error": type(error).__name__, "code": code().name if callable(code) else None}


# -------------------------------------------------------------------------------------------- scenarios


def sc_chaining(c: Any, ns: str) -> Any:
    iid = c.schedule_new_orchestration(wf.chain, input=5, instance_id=f"{ns}-chain")
    return {"returned_id": iid, "state": finish(c, iid)}


def sc_fan_out(c: Any, ns: str) -> Any:
    iid = c.schedule_new_orchestration(wf.fan_out, input=25)
    return {"state": finish(c, iid)}


def sc_sub_orchestration(c: Any, ns: str) -> Any:
    iid = c.schedule_new_orchestration(wf.parent_of_child, input=4, instance_id=f"{ns}-parent")
    parent = finish(c, iid)
    return {"parent": parent, "child": describe(c.get_orchestration_state(f"{iid}-child"))}


def sc_sub_orchestration_failure(c: Any, ns: str) -> Any:
    caught = c.schedule_new_orchestration(wf.parent_catches_child_failure, input="child broke",
                                          instance_id=f"{ns}-catch")
    uncaught = c.schedule_new_orchestration(wf.parent_lets_child_failure_through, input="child broke",
                                            instance_id=f"{ns}-uncaught")
    direct = c.schedule_new_orchestration(wf.activity_fails, input="activity broke")
    return {
        "caught": finish(c, caught),
        "caught_child": finish(c, f"{caught}-child"),
        "uncaught": finish(c, uncaught),
        "activity_failure": finish(c, direct),
    }


def sc_timer(c: Any, ns: str) -> Any:
    started = time.monotonic()
    iid = c.schedule_new_orchestration(wf.timer, input=1.5)
    state = finish(c, iid)
    return {"state": state, "wall_seconds": time.monotonic() - started}


def sc_external_events(c: Any, ns: str) -> Any:
    iid = c.schedule_new_orchestration(wf.wait_events, input=["early", "late"])
    c.raise_orchestration_event(iid, "early", data={"n": 1})  # most likely before the first episode
    c.wait_for_orchestration_start(iid, timeout=WAIT_S)
    c.raise_orchestration_event(iid, "LATE", data="x")  # event names are case-insensitive
    approved = c.schedule_new_orchestration(wf.event_or_timeout, input=20)
    c.wait_for_orchestration_start(approved, timeout=WAIT_S)
    c.raise_orchestration_event(approved, "approval", data=True)
    timed_out = c.schedule_new_orchestration(wf.event_or_timeout, input=1)
    return {
        "sequence": finish(c, iid),
        "approved": finish(c, approved),
        "timed_out": finish(c, timed_out),
        "unknown_instance": error_of(lambda: c.raise_orchestration_event(f"{ns}-missing", "x")),
    }


def sc_suspend_resume(c: Any, ns: str) -> Any:
    iid = c.schedule_new_orchestration(wf.wait_events, input=["go"])
    c.wait_for_orchestration_start(iid, timeout=WAIT_S)
    c.suspend_orchestration(iid, reason="hold on")
    after_suspend = wait_status(c, iid, "SUSPENDED")
    c.raise_orchestration_event(iid, "go", data="went")
    try:
        early = describe(c.wait_for_orchestration_completion(iid, timeout=1.5))
    except TimeoutError:
        early = "timeout"
    still = status_of(c, iid)
    c.resume_orchestration(iid, reason="carry on")
    return {"after_suspend": after_suspend, "completion_while_suspended": early, "still": still,
            "final": finish(c, iid)}


def sc_terminate_recursive(c: Any, ns: str) -> Any:
    iid = c.schedule_new_orchestration(wf.parent_of_waiter, instance_id=f"{ns}-term")
    child_running = wait_status(c, f"{iid}-child", "RUNNING")
    c.terminate_orchestration(iid, output={"why": "enough"})
    return {"child_running_before": child_running, "parent": finish(c, iid), "child": finish(c, f"{iid}-child")}


def sc_terminate_non_recursive(c: Any, ns: str) -> Any:
    iid = c.schedule_new_orchestration(wf.parent_of_waiter, instance_id=f"{ns}-term1")
    wait_status(c, f"{iid}-child", "RUNNING")
    c.terminate_orchestration(iid, output="parent only", recursive=False)
    parent = finish(c, iid)
    try:  # a wrongly propagated terminate would end the child within this wait
        child = describe(c.wait_for_orchestration_completion(f"{iid}-child", timeout=1.0))["status"]
    except TimeoutError:
        child = status_of(c, f"{iid}-child")
    c.terminate_orchestration(f"{iid}-child")
    return {"parent": parent, "child_after_parent": child, "child_cleanup": finish(c, f"{iid}-child")}


def sc_restart(c: Any, ns: str) -> Any:
    iid = c.schedule_new_orchestration(wf.counted_echo, input={"x": 21}, instance_id=f"{ns}-restart")
    first = finish(c, iid)
    same = c.restart_orchestration(iid)
    same_state = finish(c, same)
    new = c.restart_orchestration(iid, restart_with_new_instance_id=True)
    new_state = finish(c, new)
    return {
        "first": first, "same_id": same, "same_state": same_state, "new_id": new, "new_state": new_state,
        "running_instance": error_of(lambda: c.restart_orchestration(
            c.schedule_new_orchestration(wf.waits_forever, instance_id=f"{ns}-restart-running"))),
        "unknown_instance": error_of(lambda: c.restart_orchestration(f"{ns}-missing")),
    }


def sc_rewind(c: Any, ns: str) -> Any:
    iid = c.schedule_new_orchestration(wf.rewindable, input=f"{ns}-rewind", instance_id=f"{ns}-rewind")
    failed = finish(c, iid)
    c.rewind_orchestration(iid, reason="try again")
    return {"failed": failed, "rewound": finish(c, iid)}


def sc_continue_as_new(c: Any, ns: str) -> Any:
    iid = c.schedule_new_orchestration(wf.collect_with_continue_as_new, input=[])
    for n in range(1, 6):
        c.raise_orchestration_event(iid, "item", data=n)
    return {"state": finish(c, iid)}


def sc_retries(c: Any, ns: str) -> Any:
    ok = c.schedule_new_orchestration(
        wf.with_retries, input={"key": f"{ns}-ok", "fail_times": 2, "max_attempts": 3})
    exhausted = c.schedule_new_orchestration(
        wf.with_retries, input={"key": f"{ns}-bad", "fail_times": 9, "max_attempts": 2})
    return {"recovers": finish(c, ok), "exhausted": finish(c, exhausted)}


def sc_custom_status(c: Any, ns: str) -> Any:
    iid = c.schedule_new_orchestration(wf.custom_status)
    c.wait_for_orchestration_start(iid, timeout=WAIT_S)
    running = poll(lambda: c.get_orchestration_state(iid), lambda s: s.serialized_custom_status is not None)
    c.raise_orchestration_event(iid, "proceed", data=7)
    return {"while_running": describe(running), "final": finish(c, iid)}


def sc_query_paging(c: Any, ns: str) -> Any:
    prefix = f"{ns}-q-"
    ids = [c.schedule_new_orchestration(wf.chain, input=i, instance_id=f"{prefix}{i:02d}") for i in range(7)]
    running = c.schedule_new_orchestration(wf.waits_forever, instance_id=f"{prefix}running")
    finals = [finish(c, i)["status"] for i in ids]
    wait_status(c, running, "RUNNING")
    paged = c.get_all_orchestration_states(dt_client.OrchestrationQuery(
        instance_id_prefix=prefix, max_instance_count=3))
    with_payloads = c.get_all_orchestration_states(dt_client.OrchestrationQuery(
        instance_id_prefix=prefix, max_instance_count=2, fetch_inputs_and_outputs=True,
        runtime_status=[Status.COMPLETED]))
    only_running = c.get_all_orchestration_states(dt_client.OrchestrationQuery(
        instance_id_prefix=prefix, runtime_status=[Status.RUNNING]))
    pages: list[list[str]] = []
    token: str | None = None
    for _ in range(1000):
        page = c.list_instance_ids(runtime_status=[Status.COMPLETED], page_size=3, continuation_token=token)
        pages.append(list(page.items))
        token = page.continuation_token
        if not token:
            break
    c.terminate_orchestration(running)
    finish(c, running)
    return {
        "created": ids, "final_statuses": finals,
        "paged_ids": [s.instance_id for s in paged],
        "with_payloads": [[s.instance_id, s.serialized_output, s.runtime_status.name] for s in with_payloads],
        "only_running": [s.instance_id for s in only_running],
        "list_pages": pages,
        "list_last_token": token,
    }


def sc_purge(c: Any, ns: str) -> Any:
    done = c.schedule_new_orchestration(wf.chain, input=1, instance_id=f"{ns}-purge-one")
    finish(c, done)
    single = c.purge_orchestration(done)
    running = c.schedule_new_orchestration(wf.waits_forever, instance_id=f"{ns}-purge-running")
    wait_status(c, running, "RUNNING")
    purge_running = error_of(lambda: c.purge_orchestration(running).deleted_instance_count)
    running_after = status_of(c, running)
    c.terminate_orchestration(running)
    finish(c, running)
    tree = c.schedule_new_orchestration(wf.parent_of_child, input=3, instance_id=f"{ns}-purge-tree")
    finish(c, tree)
    recursive = c.purge_orchestration(tree)
    return {
        "single_count": single.deleted_instance_count,
        "single_after": describe(c.get_orchestration_state(done)),
        "single_history_after": error_of(lambda: len(c.get_orchestration_history(done))),
        "purge_running": purge_running,
        "running_after_purge_attempt": running_after,
        "recursive_count": recursive.deleted_instance_count,
        "tree_parent_after": describe(c.get_orchestration_state(tree)),
        "tree_child_after": describe(c.get_orchestration_state(f"{tree}-child")),
    }


def sc_purge_by_filter(c: Any, ns: str) -> Any:
    """Runs alone (after the others): a filter purge is hub-wide."""
    before = c.schedule_new_orchestration(wf.chain, input=0, instance_id=f"{ns}-pf-before")
    finish(c, before)  # created (and completed) before the window opens
    window_start = datetime.now(timezone.utc)
    inside = [c.schedule_new_orchestration(wf.chain, input=i, instance_id=f"{ns}-pf-{i}") for i in range(3)]
    failed = c.schedule_new_orchestration(wf.activity_fails, input="x", instance_id=f"{ns}-pf-failed")
    running = c.schedule_new_orchestration(wf.waits_forever, instance_id=f"{ns}-pf-running")
    for iid in [*inside, failed]:
        finish(c, iid)
    wait_status(c, running, "RUNNING")
    window_end = datetime.now(timezone.utc)
    result = c.purge_orchestrations_by(created_time_from=window_start, created_time_to=window_end,
                                       runtime_status=[Status.COMPLETED])
    after = {iid: status_of(c, iid) for iid in [before, *inside, failed, running]}
    c.terminate_orchestration(running)
    finish(c, running)
    return {"count": result.deleted_instance_count, "is_complete": result.is_complete,
            "inside": inside, "before": before, "failed": failed, "running": running, "after": after}


def async_client_scenario(address: str) -> Callable[[Any, str], Any]:
    """The asyncio client (``AsyncTaskHubGrpcClient``) against ``address``; the sync client is unused."""

    async def steps(ns: str) -> dict[str, Any]:
        async with dt_client.AsyncTaskHubGrpcClient(host_address=address) as ac:
            chained = await ac.schedule_new_orchestration(wf.chain, input=3, instance_id=f"{ns}-async-chain")
            waiter = await ac.schedule_new_orchestration(wf.wait_events, input=["async"])
            started = await ac.wait_for_orchestration_start(waiter, timeout=WAIT_S)
            await ac.raise_orchestration_event(waiter, "async", data={"via": "asyncio"})
            chain_state = await ac.wait_for_orchestration_completion(chained, timeout=WAIT_S)
            waiter_state = await ac.wait_for_orchestration_completion(waiter, timeout=WAIT_S)
            listed = await ac.get_all_orchestration_states(
                dt_client.OrchestrationQuery(instance_id_prefix=f"{ns}-async-", max_instance_count=1))
            missing = await ac.get_orchestration_state(f"{ns}-async-missing")
            return {
                "started_status": None if started is None else started.runtime_status.name,
                "chain": describe(chain_state), "events": describe(waiter_state),
                "listed": [st.instance_id for st in listed], "missing": describe(missing),
            }

    def run(client: Any, ns: str) -> Any:
        import asyncio

        return asyncio.run(steps(ns))

    return run


PHASE_ONE: dict[str, Callable[[Any, str], Any]] = {
    "chaining": sc_chaining,
    "fan_out": sc_fan_out,
    "sub_orchestration": sc_sub_orchestration,
    "sub_orchestration_failure": sc_sub_orchestration_failure,
    "timer": sc_timer,
    "external_events": sc_external_events,
    "suspend_resume": sc_suspend_resume,
    "terminate_recursive": sc_terminate_recursive,
    "terminate_non_recursive": sc_terminate_non_recursive,
    "restart": sc_restart,
    "rewind": sc_rewind,
    "continue_as_new": sc_continue_as_new,
    "retries": sc_retries,
    "custom_status": sc_custom_status,
    "query_paging": sc_query_paging,
    "purge": sc_purge,
}
PHASE_TWO: dict[str, Callable[[Any, str], Any]] = {"purge_by_filter": sc_purge_by_filter}


def run_one(name: str, scenario: Callable[[Any, str], Any], client: Any, ns: str) -> dict[str, Any]:
    started = time.monotonic()
    try:
        result = scenario(client, f"{ns}-{name}")
        outcome: dict[str, Any] = {"ok": True, "result": result}
    except Exception:  # noqa: BLE001 - reported to the test, which fails with it
        outcome = {"ok": False, "error": traceback.format_exc()}
    outcome["seconds"] = round(time.monotonic() - started, 3)
    return outcome


def run_scenarios(client: Any, scenarios: dict[str, Callable[[Any, str], Any]], ns: str,
                  parallel: int = 6) -> dict[str, Any]:
    """Run ``scenarios`` (at most ``parallel`` at once) and collect their outcomes by name."""
    results: dict[str, Any] = {}
    if not scenarios:
        return results
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(scenarios)))) as pool:
        futures = {name: pool.submit(run_one, name, fn, client, ns) for name, fn in scenarios.items()}
        for name, future in futures.items():
            results[name] = future.result()
    return results
