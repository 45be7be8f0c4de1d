"""README.md's SDK example runs as written and prints what it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- readme-example -->\s*```python\n(.*?)```\s*<!-- /readme-example -->", text, re.S)
    assert match, "README.md lost its marked SDK example"
    return match.group(1)


def test_readme_sdk_example_runs(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(_example(), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == 'COMPLETED ["Hello Tokyo!", "Hello Seattle!"]'


def test_readme_keeps_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for marker in ("run-command", "test-command"):
        block = re.search(rf"<!-- {marker} -->\s*```\n(.+?)\n```\s*<!-- /{marker} -->", text, re.S)
        assert block, f"README.md lost its {marker}"
        command = block.group(1).strip().split()[0]
        assert (ROOT / command).is_file(), f"{command} named in README does not exist"
