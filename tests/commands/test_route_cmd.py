"""`ccm-tui route`: the dry run, as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[1] / "fixtures" / "claude-code"
CONFIG = """
[providers.anthropic]
type = "anthropic"
api_key = "k"
[providers.openrouter]
type = "openai"
preset = "openrouter"
api_key = "k"
[router]
default = "anthropic,m-default"
background = "anthropic,m-background"
think = "anthropic,m-think"
long_context = "openrouter,m-long"
web_search = "openrouter,m-websearch"
subagent = "openrouter,m-subagent"
"""


def route(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ccm_tui", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=cwd, env={"PATH": "/usr/bin:/bin", "HOME": str(cwd or "/nonexistent")})


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def test_fixture_file_prints_one_decision(config: Path) -> None:
    result = route("route", "--config", str(config), str(FIXTURES / "websearch_server_tool.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "route": "websearch", "provider": "openrouter", "model": "m-websearch",
        "reason": "server tool web_search_20250305 present",
    }
    assert result.stdout.count("\n") == 1


def test_fixture_headers_are_used_and_global_config_flag_works(config: Path) -> None:
    result = route("--config", str(config), "route", str(FIXTURES / "v2330_subagent_no_haiku.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"] == "m-subagent"


def test_plain_body_on_stdin(config: Path) -> None:
    body = json.loads((FIXTURES / "sonnet_thinking_budget.json").read_text())["body"]
    result = route("route", "--config", str(config), "-", stdin=json.dumps(body))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["route"] == "think"


def test_no_config_file_routes_as_passthrough(tmp_path: Path) -> None:
    body = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    result = route("route", "-", stdin=json.dumps(body), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) | {"reason": ""} == {"route": "default", "provider": "anthropic",
                                                          "model": "claude-x", "reason": ""}


@pytest.mark.parametrize(
    ("stdin", "message"),
    [("{not json", "not JSON"), ("[1, 2]", "expected a JSON object"), ('{"model": "x"}', "no `messages`"),
     ('{"body": [1]}', "`body` must be a JSON object"), ("", "not JSON")],
)
def test_invalid_input_exits_2(config: Path, stdin: str, message: str) -> None:
    result = route("route", "--config", str(config), "-", stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr and result.stdout == ""


def test_missing_file_exits_2(config: Path, tmp_path: Path) -> None:
    result = route("route", "--config", str(config), str(tmp_path / "nope.json"))
    assert result.returncode == 2 and "cannot read" in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [("[router]\ndefault = 3\n", "providers"), (CONFIG + "bogus = 1\n", "router.bogus: unknown key"), (None, "no such")],
)
def test_config_errors_exit_2(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "c.toml"
    if text is not None:
        path.write_text(text)
    result = route("route", "--config", str(path), str(FIXTURES / "session_title.json"))
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""


def test_request_nothing_can_hold_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.replace("m-default", "gpt-4o").replace("m-long", "openai/gpt-4o"))
    body = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "word " * 700_000}]}
    result = route("route", "--config", str(path), "-", stdin=json.dumps(body))
    assert result.returncode == 1 and result.stdout == ""
    assert "prompt is too long" in result.stderr and "128000 maximum for openrouter,openai/gpt-4o" in result.stderr
