"""What the interop scenarios must observe: one check per scenario in ``drivers/interop_scenarios.py``.

A check receives the scenario's JSON result and asserts. The same checks judge every pairing (published
client + published worker, published client + our worker, our client + published worker), since all of
them must behave like the published SDK on a faithful backend.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["CHECKS"]


def _out(state: dict[str, Any] | None) -> Any:
    assert state is not None, "instance not found"
    raw = state["output"]
    return None if raw is None else json.loads(raw)


def _completed(state: dict[str, Any] | None) -> Any:
    assert state is not None, "instance not found"
    assert state["status"] == "COMPLETED", f"expected COMPLETED, got {state['status']}: {state['failure']}"
    return _out(state)


def check_chaining(r: dict[str, Any]) -> None:
    assert r["returned_id"] == r["state"]["instance_id"]
    assert r["returned_id"].endswith("-chain")
    assert _completed(r["state"]) == [10, 20, 21]
    assert r["state"]["name"] == "chain"
    assert json.loads(r["state"]["input"]) == 5


def check_fan_out(r: dict[str, Any]) -> None:
    assert _completed(r["state"]) == [2 * i for i in range(25)]


def check_sub_orchestration(r: dict[str, Any]) -> None:
    parent_id = r["parent"]["instance_id"]
    result = _completed(r["parent"])
    assert result == {"parent": parent_id, "value": 8}, "child must see its parent's id (ctx.parent_instance_id)"
    assert _completed(r["child"]) == result
    assert r["child"]["instance_id"] == f"{parent_id}-child"


def check_sub_orchestration_failure(r: dict[str, Any]) -> None:
    caught = _completed(r["caught"])
    assert caught == {"error_type": "builtins.ValueError", "message": "child broke", "caused_by_value_error": True}
    child = r["caught_child"]
    assert child["status"] == "FAILED"
    assert child["failure"]["error_type"] == "builtins.ValueError"
    assert child["failure"]["message"] == "child broke"
    assert child["failure"]["has_stack"]
    uncaught = r["uncaught"]
    assert uncaught["status"] == "FAILED"
    assert uncaught["failure"]["error_type"] == "durabletask.task.TaskFailedError"
    assert "child broke" in uncaught["failure"]["message"]
    activity = r["activity_failure"]
    assert activity["status"] == "FAILED"
    assert "activity broke" in activity["failure"]["message"]


def check_timer(r: dict[str, Any]) -> None:
    elapsed = _completed(r["state"])
    assert 1.5 <= elapsed < 10, f"orchestration time across the timer: {elapsed}"
    assert r["wall_seconds"] >= 1.4


def check_external_events(r: dict[str, Any]) -> None:
    assert _completed(r["sequence"]) == [{"n": 1}, "x"]
    assert _completed(r["approved"]) == {"approved": True}
    assert _completed(r["timed_out"]) == "timeout"
    assert r["unknown_instance"].get("code") == "NOT_FOUND"


def check_suspend_resume(r: dict[str, Any]) -> None:
    assert r["after_suspend"] == "SUSPENDED"
    assert r["completion_while_suspended"] == "timeout", "a suspended instance must not complete"
    assert r["still"] == "SUSPENDED"
    assert _completed(r["final"]) == ["went"]


def check_terminate_recursive(r: dict[str, Any]) -> None:
    assert r["child_running_before"] == "RUNNING"
    assert r["parent"]["status"] == "TERMINATED"
    assert _out(r["parent"]) == {"why": "enough"}
    assert r["child"]["status"] == "TERMINATED", "recursive terminate must reach the child"


def check_terminate_non_recursive(r: dict[str, Any]) -> None:
    assert r["parent"]["status"] == "TERMINATED"
    assert _out(r["parent"]) == "parent only"
    assert r["child_after_parent"] == "RUNNING", "recursive=False must leave the child running"
    assert r["child_cleanup"]["status"] == "TERMINATED"


def check_restart(r: dict[str, Any]) -> None:
    first = _completed(r["first"])
    assert first == {"input": {"x": 21}, "run": 1}
    assert r["same_id"] == r["first"]["instance_id"]
    assert _completed(r["same_state"]) == {"input": {"x": 21}, "run": 2}, "restart must run the instance again"
    assert r["new_id"] != r["first"]["instance_id"]
    assert _completed(r["new_state"]) == {"input": {"x": 21}, "run": 1}
    assert r["running_instance"].get("code") == "FAILED_PRECONDITION"
    assert r["unknown_instance"].get("code") == "NOT_FOUND"


def check_rewind(r: dict[str, Any]) -> None:
    assert r["failed"]["status"] == "FAILED"
    assert "failed on purpose" in r["failed"]["failure"]["message"]
    assert _completed(r["rewound"]) == [4, 2]
    assert r["rewound"]["failure"] is None


def check_continue_as_new(r: dict[str, Any]) -> None:
    assert _completed(r["state"]) == [1, 2, 3, 4, 5], "save_events=True must carry unread events over"


def check_retries(r: dict[str, Any]) -> None:
    assert _completed(r["recovers"]) == {"succeeded_on_attempt": 3}
    assert _completed(r["exhausted"]) == {"failed": "builtins.RuntimeError", "message": "attempt 2 failed on purpose"}


def check_custom_status(r: dict[str, Any]) -> None:
    running = r["while_running"]
    assert running["status"] == "RUNNING"
    assert json.loads(running["custom_status"]) == {"stage": "waiting"}
    assert _completed(r["final"]) == 7
    assert json.loads(r["final"]["custom_status"]) == {"stage": "done", "value": 7}


def check_query_paging(r: dict[str, Any]) -> None:
    created = r["created"]
    running = created[0].rsplit("-", 1)[0] + "-running"
    assert r["final_statuses"] == ["COMPLETED"] * 7
    paged = r["paged_ids"]
    assert len(paged) == len(set(paged)), "a page was repeated"
    assert sorted(paged) == sorted([*created, running])
    payloads = {iid: (json.loads(out), status) for iid, out, status in r["with_payloads"]}
    assert set(payloads) == set(created)
    assert payloads[created[3]] == ([6, 12, 13], "COMPLETED")
    assert r["only_running"] == [running]
    pages = r["list_pages"]
    assert len(pages) >= 3, "7+ terminal instances with page_size=3 take at least three pages"
    assert all(len(page) <= 3 for page in pages)
    listed = [iid for page in pages for iid in page]
    assert len(listed) == len(set(listed)), "list_instance_ids repeated an id across pages"
    assert set(created) <= set(listed)
    assert running not in listed, "list_instance_ids lists terminal instances only"
    assert not r["list_last_token"]


def check_purge(r: dict[str, Any]) -> None:
    assert r["single_count"] == 1
    assert r["single_after"] is None
    assert r["single_history_after"].get("code") == "NOT_FOUND"
    attempt = r["purge_running"]
    assert attempt.get("result") == "0" or attempt.get("code") == "FAILED_PRECONDITION", attempt
    assert r["running_after_purge_attempt"] == "RUNNING", "purging must never delete a running instance"
    assert r["recursive_count"] == 2, "purge_orchestration is recursive by default"
    assert r["tree_parent_after"] is None
    assert r["tree_child_after"] is None


def check_purge_by_filter(r: dict[str, Any]) -> None:
    assert r["count"] == 3
    assert r["is_complete"] is True
    after = r["after"]
    assert all(after[iid] is None for iid in r["inside"])
    assert after[r["before"]] == "COMPLETED", "created before the window: kept"
    assert after[r["failed"]] == "FAILED", "not in the status filter: kept"
    assert after[r["running"]] == "RUNNING"


def check_dts(r: dict[str, Any]) -> None:
    assert _completed(r["chain"]) == [4, 8, 9]
    parent = r["parent"]["instance_id"]
    assert _completed(r["parent"]) == {"parent": parent, "value": 12}
    assert _completed(r["events"]) == ["pong"]
    assert r["query"] == sorted([r["chain"]["instance_id"], parent, f"{parent}-child"])
    assert r["seen_from_default_hub"] is None, "task hubs must be isolated"
    assert r["unknown_hub"].get("code") == "NOT_FOUND", "a hub the emulator does not serve: NOT_FOUND"


def check_async_client(r: dict[str, Any]) -> None:
    assert r["started_status"] in ("RUNNING", "SUSPENDED", "COMPLETED")
    assert _completed(r["chain"]) == [6, 12, 13]
    assert _completed(r["events"]) == [{"via": "asyncio"}]
    assert r["listed"] == [r["chain"]["instance_id"]]
    assert r["missing"] is None


CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "chaining": check_chaining,
    "fan_out": check_fan_out,
    "sub_orchestration": check_sub_orchestration,
    "sub_orchestration_failure": check_sub_orchestration_failure,
    "timer": check_timer,
    "external_events": check_external_events,
    "suspend_resume": check_suspend_resume,
    "terminate_recursive": check_terminate_recursive,
    "terminate_non_recursive": check_terminate_non_recursive,
    "restart": check_restart,
    "rewind": check_rewind,
    "continue_as_new": check_continue_as_new,
    "retries": check_retries,
    "custom_status": check_custom_status,
    "query_paging": check_query_paging,
    "purge": check_purge,
    "purge_by_filter": check_purge_by_filter,
    "dts": check_dts,
    "async_client": check_async_client,
}
