"""The README's set-up commands stay true: CI runs the test command word for word."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def setup_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Set up"):]
    return re.findall(r"```sh\n(.+?)\n```", section)[:2]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    install, test = setup_commands()
    ci_lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test in ci_lines
    assert "pytest" in test and "ccm-tui" in install


def test_setup_needs_no_root() -> None:
    for command in setup_commands():
        assert "sudo" not in command and "npm install -g" not in command and "--global" not in command
        assert command.startswith("python3 -m venv .venv && "), "ccm-tui goes into a virtualenv, never system pip"
