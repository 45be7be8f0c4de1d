"""new_uuid, is_replaying, the replay-safe logger and current_utc_datetime during replay."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from durabletask import task

from .conftest import T0


def uuids(ctx, _):
    first = [ctx.new_uuid(), ctx.new_uuid()]
    yield ctx.create_timer(timedelta(seconds=1))
    second = ctx.new_uuid()
    return first + [second]


def test_new_uuid_is_deterministic_across_replays(replayer):
    r1 = replayer(uuids, instance_id="same")
    r1.start("uuids")
    r1.fire_timer(1)
    r2 = replayer(uuids, instance_id="same")
    r2.start("uuids")
    r2.fire_timer(1)
    out1, out2 = r1.output(), r2.output()
    assert out1 == out2
    assert len(set(out1)) == 3
    assert all(uuid.UUID(u).version == 5 for u in out1)


def test_new_uuid_matches_the_published_formula(replayer):
    def orch(ctx, _):
        return ctx.new_uuid()

    r = replayer(orch, instance_id="inst-1")
    r.start("orch")
    namespace = uuid.uuid5(uuid.NAMESPACE_OID, "9e952958-5e33-4daf-827f-2fa12937b875")
    when = r.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert r.output() == str(uuid.uuid5(namespace, f"inst-1_{when}_0"))


def test_new_uuid_differs_per_instance(replayer):
    def orch(ctx, _):
        return ctx.new_uuid()

    a = replayer(orch, instance_id="a")
    a.start("orch")
    b = replayer(orch, instance_id="b")
    b.start("orch")
    assert a.output() != b.output()


def test_is_replaying_and_current_time(replayer):
    seen = []

    def orch(ctx, _):
        seen.append(("start", ctx.is_replaying, ctx.current_utc_datetime))
        yield ctx.call_activity("a")
        seen.append(("after a", ctx.is_replaying, ctx.current_utc_datetime))
        yield ctx.call_activity("b")
        return "ok"

    r = replayer(orch)
    r.start("orch")
    assert seen == [("start", False, T0 + timedelta(seconds=1))]
    seen.clear()
    r.complete_task(1)
    assert seen == [
        ("start", True, T0 + timedelta(seconds=1)),
        ("after a", False, T0 + timedelta(seconds=2)),
    ]
    seen.clear()
    r.complete_task(2)
    assert [s[1] for s in seen] == [True, True]


def test_replay_safe_logger_is_silent_during_replay(replayer, caplog):
    user_logger = logging.getLogger("tests.user_orchestrator")

    def orch(ctx, _):
        log = ctx.create_replay_safe_logger(user_logger)
        log.info("step one")
        yield ctx.call_activity("a")
        log.info("step two")
        return "ok"

    caplog.set_level(logging.INFO, logger="tests.user_orchestrator")
    r = replayer(orch)
    r.start("orch")
    assert [rec.getMessage() for rec in caplog.records if rec.name == user_logger.name] == ["step one"]
    caplog.clear()
    r.complete_task(1)
    assert [rec.getMessage() for rec in caplog.records if rec.name == user_logger.name] == ["step two"]


def test_replay_safe_logger_respects_levels():
    base = logging.getLogger("tests.levels")
    base.setLevel(logging.WARNING)
    replaying = {"value": False}
    log = task.ReplaySafeLogger(base, lambda: replaying["value"])
    assert log.isEnabledFor(logging.WARNING)
    assert not log.isEnabledFor(logging.INFO)
    replaying["value"] = True
    assert not log.isEnabledFor(logging.ERROR)
