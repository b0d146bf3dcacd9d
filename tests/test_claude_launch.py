"""What ccm-tui tells claude at launch: compaction window, model discovery, subagent model, statusline."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from ccm_tui.claude_launch import (
    compact_env,
    launch_args,
    launch_env,
    model_env,
    statusline_command,
    with_continue,
)
from ccm_tui.config import ConfigError, embedded_default, parse_config

BASE = """
[providers.deepseek]
type = "openai"
preset = "deepseek"
api_key = "k"
models = ["deepseek-chat", "deepseek-reasoner"]

[providers.local]
type = "openai"
base_url = "http://127.0.0.1:1/v1"
models = ["qwen2.5-coder-7b", "mystery-model"]

[providers.local.limits]
"mystery-model" = { context_window = 64000 }

[router]
default = "deepseek,deepseek-chat"
"""


def config(extra: str = "", default: str | None = None):  # type: ignore[no-untyped-def]
    text = BASE if default is None else BASE.replace('"deepseek,deepseek-chat"', f'"{default}"')
    return parse_config(text + extra, env={})


def test_window_of_the_default_route_model() -> None:
    assert compact_env(config()) == {"CLAUDE_CODE_AUTO_COMPACT_WINDOW": "128000"}


def test_window_from_the_limits_table_and_the_pin() -> None:
    cfg = config(default="local,mystery-model")
    env = compact_env(cfg)
    # 64k is below claude's 100k minimum: the threshold moves through the percentage instead.
    assert env["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "100000"
    threshold = 80_000 * float(env["CLAUDE_AUTOCOMPACT_PCT_OVERRIDE"]) / 100
    assert 30_000 < threshold < 64_000 - 13_000
    cfg = dataclasses.replace(cfg, pinned="deepseek,deepseek-reasoner")
    assert compact_env(cfg) == {"CLAUDE_CODE_AUTO_COMPACT_WINDOW": "128000"}


def test_no_window_told_on_a_guess_or_when_off() -> None:
    assert compact_env(config(default="local,unknown-thing")) == {}
    assert compact_env(config("[claude]\ncompact_window = false\n")) == {}
    assert compact_env(embedded_default()) == {}


def test_discovery_and_subagent_model_follow_the_routes() -> None:
    env = model_env(config())
    assert env == {"CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1"}
    cfg = parse_config(BASE + 'subagent = "local,qwen2.5-coder-7b"\n', env={})
    assert model_env(cfg)["CLAUDE_CODE_SUBAGENT_MODEL"] == "claude-ccm/local,qwen2.5-coder-7b"
    assert "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY" not in model_env(config("[claude]\nmodel_discovery = false\n"))
    assert model_env(embedded_default()) == {}


def test_launch_env_leaves_what_the_user_set() -> None:
    env = launch_env(config(), {"CLAUDE_CODE_AUTO_COMPACT_WINDOW": "150000"})
    assert "CLAUDE_CODE_AUTO_COMPACT_WINDOW" not in env and env["CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY"] == "1"


def _settings(args: list[str]) -> dict | None:
    return json.loads(args[args.index("--settings") + 1]) if "--settings" in args else None


def test_statusline_through_settings_unless_the_user_has_one(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    env = {"HOME": str(home)}
    args = launch_args(config(), ["--model", "opus"], project, env)
    settings = _settings(args)
    assert settings is not None and settings["statusLine"]["command"] == statusline_command()
    assert args[-2:] == ["--model", "opus"]
    # The user's own statusline (user or project settings, or their own --settings) is kept...
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "settings.local.json").write_text(json.dumps({"statusLine": {"command": "mine"}}))
    assert launch_args(config(), [], project, env) == []
    assert launch_args(config(), ["--settings", "x.json"], tmp_path, env) == ["--settings", "x.json"]
    # ...unless statusline = "ccm"; "off" never adds one. The user's files are never written.
    assert _settings(launch_args(config('[claude]\nstatusline = "ccm"\n'), [], project, env)) is not None
    assert launch_args(config('[claude]\nstatusline = "off"\n'), [], tmp_path, env) == []
    assert not home.exists()


def test_restart_continues_the_conversation() -> None:
    assert with_continue(["claude", "--model", "x"]) == ["claude", "--model", "x", "--continue"]
    assert with_continue(["claude", "-c"]) == ["claude", "-c"]


def test_claude_section_is_validated_with_lines() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + '\n[claude]\nstatusline = "fancy"\ncolour = true\nmodel_discovery = "yes"\n', env={},
                     source="c.toml")
    problems = "\n".join(err.value.problems)
    assert re.search(r"c\.toml:\d+: claude\.colour: unknown key", problems), problems
    assert "claude.statusline" in problems and "fancy" in problems and "claude.model_discovery" in problems


def test_restart_env_follows_the_routes_as_they_are_now() -> None:
    from ccm_tui.claude_launch import relaunch_env

    cfg = config(default="local,mystery-model")
    env = {"PATH": "/bin", **launch_env(cfg, {})}
    assert "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE" in env
    cfg = dataclasses.replace(cfg, pinned="local,unknown-thing")  # no window known: nothing told, nothing stale left
    again = relaunch_env(env, cfg, {})
    assert again["PATH"] == "/bin" and "CLAUDE_CODE_AUTO_COMPACT_WINDOW" not in again
    assert "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE" not in again
    # A variable the user set in ccm-tui's own environment stays theirs.
    mine = relaunch_env({**env, "CLAUDE_CODE_AUTO_COMPACT_WINDOW": "150000"}, cfg,
                        {"CLAUDE_CODE_AUTO_COMPACT_WINDOW": "150000"})
    assert mine["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "150000"
