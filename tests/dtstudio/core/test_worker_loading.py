"""The worker-file loader: three registration styles, fresh namespaces, sibling imports, clear errors."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dtstudio.core.worker_loading import WorkerLoadError, load_worker_file, register_into
from durabletask.worker import TaskHubGrpcWorker


def write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def registered(path: Path) -> tuple[list[str], list[str], list[str]]:
    loaded = load_worker_file(path)
    try:
        reg = register_into(TaskHubGrpcWorker(host_address="localhost:1"), loaded)
    finally:
        loaded.forget()
    return sorted(reg.orchestrators), sorted(reg.activities), reg.notices


def test_decorated_functions_are_found(tmp_path: Path) -> None:
    p = write(tmp_path, "decorated.py", """
        from durabletask import task

        @task.activity
        def hello(ctx, name):
            return "hi " + name

        @task.activity(name="Shout")
        def shout(ctx, text):
            return text.upper()

        @task.orchestrator
        def greet(ctx, _):
            return (yield ctx.call_activity(hello, input="x"))

        def helper():  # not marked: not registered
            pass
    """)
    orchestrators, activities, notices = registered(p)
    assert orchestrators == ["greet"]
    assert activities == ["Shout", "hello"]
    assert notices == []


def test_module_level_lists_for_published_sdk_files(tmp_path: Path) -> None:
    p = write(tmp_path, "listed.py", """
        def step(ctx, x):
            return x + 1

        def flow(ctx, x):
            return (yield ctx.call_activity(step, input=x))

        def other_flow(ctx, x):
            return x

        orchestrators = [flow, other_flow]
        activities = [step]
    """)
    assert registered(p)[:2] == (["flow", "other_flow"], ["step"])


def test_register_function_gets_the_worker(tmp_path: Path) -> None:
    p = write(tmp_path, "with_register.py", """
        from durabletask import task

        def step(ctx, x):
            return x

        def flow(ctx, x):
            return (yield ctx.call_activity(step, input=x))

        @task.orchestrator
        def marked(ctx, x):  # also decorated and also added by register(): registered once
            return x

        def register(worker):
            worker.add_orchestrator(flow)
            worker.add_orchestrator(marked)
            worker.add_activity(step)
            assert worker.is_running is False  # other attributes reach the real worker
    """)
    assert registered(p)[:2] == (["flow", "marked"], ["step"])


def test_the_sample_file_registers_everything() -> None:
    sample = Path(__file__).resolve().parents[3] / "resources" / "samples" / "sample_orchestrations.py"
    orchestrators, activities, _ = registered(sample)
    assert "hello_sequence" in orchestrators and "order_workflow" in orchestrators
    assert "say_hello" in activities


def test_fresh_namespace_and_sibling_imports(tmp_path: Path) -> None:
    write(tmp_path, "helpers_for_worker_test.py", "GREETING = 'hey'\n")
    p = write(tmp_path, "json.py", """
        import helpers_for_worker_test
        from durabletask import task

        @task.activity
        def greet(ctx, name):
            return helpers_for_worker_test.GREETING + name
    """)
    import json

    loaded = load_worker_file(p)
    try:
        assert sys.modules["json"] is json  # a file called json.py does not replace the real one
        assert loaded.module.__name__ != "json" and loaded.module.__name__ in sys.modules
        assert "helpers_for_worker_test" in loaded.added_modules
        assert str(tmp_path) not in sys.path  # only on sys.path while importing
        assert loaded.module.greet(None, "x") == "heyx"
    finally:
        loaded.forget()
    assert loaded.module.__name__ not in sys.modules
    assert "helpers_for_worker_test" not in sys.modules


def test_reload_sees_edits_immediately(tmp_path: Path) -> None:
    body = "from durabletask import task\n\n@task.orchestrator\ndef {name}(ctx, _):\n    return 1\n"
    p = tmp_path / "edited.py"
    p.write_text(body.format(name="first"), encoding="utf-8")
    assert registered(p)[0] == ["first"]
    p.write_text(body.format(name="secnd"), encoding="utf-8")  # same size, same second
    assert registered(p)[0] == ["secnd"]


def test_syntax_error_names_file_line_and_message(tmp_path: Path) -> None:
    p = write(tmp_path, "broken.py", """
        from durabletask import task

        @task.orchestrator
        def flow(ctx, _)
            return 1
    """)
    with pytest.raises(WorkerLoadError) as err:
        load_worker_file(p)
    e = err.value
    assert e.kind == "syntax" and e.line == 5 and e.filename == str(p)
    assert str(e).startswith("Syntax error in broken.py, line 5: ")
    assert "expected ':'" in str(e)
    assert "def flow(ctx, _)" in e.details()
    assert not [m for m in sys.modules if m.endswith("_broken")]


def test_import_error_is_a_message(tmp_path: Path) -> None:
    p = write(tmp_path, "needs_missing.py", """
        import os

        import no_such_module_for_dtstudio_tests
    """)
    with pytest.raises(WorkerLoadError) as err:
        load_worker_file(p)
    assert err.value.kind == "import" and err.value.line == 4
    assert str(err.value) == (
        "Import failed (needs_missing.py, line 4): ModuleNotFoundError: No module named 'no_such_module_for_dtstudio_tests'"
    )


def test_sys_exit_while_importing_does_not_end_the_app(tmp_path: Path) -> None:
    p = write(tmp_path, "exits.py", "import sys\nsys.exit(3)\n")
    with pytest.raises(WorkerLoadError, match=r"sys.exit\(3\)"):
        load_worker_file(p)


def test_register_failure_and_empty_file(tmp_path: Path) -> None:
    p = write(tmp_path, "bad_register.py", """
        def register(worker):
            raise RuntimeError("no database configured")
    """)
    with pytest.raises(WorkerLoadError, match=r"register\(worker\) failed \(bad_register.py, line 3\): "
                       r"RuntimeError: no database configured"):
        registered(p)
    empty = write(tmp_path, "empty.py", "X = 1\n")
    with pytest.raises(WorkerLoadError) as err:
        registered(empty)
    assert err.value.kind == "empty" and "no orchestrators" in str(err.value)


def test_activities_only_is_loaded_with_a_notice(tmp_path: Path) -> None:
    p = write(tmp_path, "acts.py", "def a(ctx, x):\n    return x\n\nactivities = [a]\n")
    orchestrators, activities, notices = registered(p)
    assert (orchestrators, activities) == ([], ["a"])
    assert notices == ["acts.py has no orchestrators (only activities)."]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("missing.py", None, "does not exist"),
        ("notes.txt", "hello", "not a Python file"),
        ("bad_list.py", "orchestrators = 'flow'\n", "'orchestrators' must be a list of functions"),
        ("bad_item.py", "activities = [1]\n", "'activities' contains 1, which is not a function"),
    ],
)
def test_bad_input_gets_a_clear_error(tmp_path: Path, name: str, text: Any, expected: str) -> None:
    p = tmp_path / name
    if text is not None:
        p.write_text(text, encoding="utf-8")
    with pytest.raises(WorkerLoadError, match=expected):
        load_worker_file(p)


def test_errors_in_a_sibling_module_point_at_the_sibling(tmp_path: Path) -> None:
    write(tmp_path, "sibling_with_typo.py", "def f(:\n    pass\n")
    p = write(tmp_path, "uses_sibling.py", "import sibling_with_typo\n")
    with pytest.raises(WorkerLoadError) as err:
        load_worker_file(p)
    assert err.value.kind == "syntax" and str(err.value).startswith("Syntax error in sibling_with_typo.py, line 1: ")
    assert "sibling_with_typo" not in sys.modules

    write(tmp_path, "sibling_raises.py", "X = 1\nraise KeyError('missing setting')\n")
    p2 = write(tmp_path, "uses_raising.py", "import os\nimport sibling_raises\n")
    with pytest.raises(WorkerLoadError) as err2:
        load_worker_file(p2)
    assert str(err2.value) == "Import failed (sibling_raises.py, line 2): KeyError: 'missing setting'"
