"""Config: contract keys, $VAR resolution, validation with line numbers, comment-preserving write-back."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ccm_tui.config import ConfigError, load_config, parse_config, template
from ccm_tui.config_file import write_route

GOOD = """# my config
[server]
port = 0

[providers.anthropic]  # the real one
type = "anthropic"
base_url = "https://api.anthropic.com"
api_key = "$ANTHROPIC_API_KEY"
models = ["claude-sonnet-4-5", "claude-haiku-4-5"]

[providers.local]
type = "openai"
base_url = "http://127.0.0.1:11434/v1"
api_key = "${LOCAL_KEY}-suffix"
models = ["qwen3"]

[router]
default = "anthropic,claude-sonnet-4-5"   # keep this comment
background = "local,qwen3"
"""


def test_contract_parses_and_resolves_vars() -> None:
    cfg = parse_config(GOOD, env={"ANTHROPIC_API_KEY": "sk-a", "LOCAL_KEY": "abc"})
    assert cfg.server.host == "127.0.0.1" and cfg.server.port == 0
    assert cfg.providers["anthropic"].api_key.reveal() == "sk-a"
    assert cfg.providers["local"].api_key.reveal() == "abc-suffix"
    assert cfg.router.target("background") == "local,qwen3"
    assert cfg.router.target("think") == "anthropic,claude-sonnet-4-5", "missing routes fall back to default"
    assert "sk-a" not in repr(cfg), "keys never show in a repr"


def test_missing_variable_names_the_key_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(GOOD, env={"ANTHROPIC_API_KEY": "sk-a"}, source="c.toml")
    assert info.value.problems == ["c.toml:14: providers.local.api_key: environment variable $LOCAL_KEY is not set"]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('[providers.x]\ntype = "nope"\nbase_url = "http://a"\n[router]\ndefault = "x,m"\n', "providers.x.type"),
        ('[providers.x]\ntype = "openai"\nbase_url = "ftp://a"\n[router]\ndefault = "x,m"\n', "http(s) URL"),
        ('[providers.x]\ntype = "openai"\nbase_url = "http://a"\n[router]\ndefault = "y,m"\n', "unknown provider 'y'"),
        ('[providers.x]\ntype = "openai"\nbase_url = "http://a"\n[router]\ndefault = "x"\n', "provider,model"),
        ('[providers.x]\ntype = "openai"\nbase_url = "http://a"\n[router]\nthink = "x,m"\n', "router.default"),
        ('[providers.x]\ntype = "openai"\nbase_url = "http://a"\nmodels = "m"\n[router]\ndefault = "x,m"\n',
         "list of model names"),
        ('[server]\nport = "80"\n[providers.x]\ntype = "openai"\nbase_url = "http://a"\n[router]\ndefault = "x,m"\n',
         "server.port"),
        ('[providers.x]\ntype = "openai"\nbase_url = "http://a"\n[router]\ndefault = "x,m"\nlong_contxt = "x,m"\n',
         "router.long_contxt: unknown key"),
        ("[providers\n", "TOML syntax error"),
        ('[server]\nport = 70000\n[providers.x]\ntype = "openai"\nbase_url = "http://a"\n[router]\ndefault = "x,m"\n',
         "server.port: must be at most 65535"),
        ('budget = 5\n[providers.x]\ntype = "openai"\nbase_url = "http://a"\n[router]\ndefault = "x,m"\n',
         "config:1: budget: expected a table, got int"),
        ('[providers.x]\ntype = "openai"\nbase_url = "http://a"\noptions = "fast"\n[router]\ndefault = "x,m"\n',
         "config:4: providers.x.options: expected a table, got str"),
    ],
)
def test_validation_problems(snippet: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(snippet, env={})
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_set_route_writes_back_keeping_comments_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(GOOD)
    path.chmod(0o640)
    env = {"ANTHROPIC_API_KEY": "sk-a", "LOCAL_KEY": "abc"}
    cfg = load_config(path, env=env)
    cfg = write_route(cfg, "think", "local,qwen3", env=env)
    cfg = write_route(cfg, "default", "local,qwen3", env=env)
    assert cfg.router.target("think") == "local,qwen3", "the snapshot of the written file"
    text = path.read_text()
    assert "# my config" in text and "# the real one" in text and "# keep this comment" in text
    assert 'default = "local,qwen3"   # keep this comment' in text
    assert 'think = "local,qwen3"' in text
    assert "$ANTHROPIC_API_KEY" in text and "sk-a" not in text, "keys stay references"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640, "the file keeps its mode"
    again = load_config(path, env={"ANTHROPIC_API_KEY": "sk-a", "LOCAL_KEY": "abc"})
    assert again.router.target("think") == "local,qwen3"
    with pytest.raises(ConfigError):
        write_route(cfg, "default", "nope,model", env=env)


def test_no_file_means_embedded_passthrough(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CCM_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env")
    cfg = load_config()
    assert cfg.embedded_default and cfg.providers["anthropic"].api_key.reveal() == "sk-env"
    assert cfg.router.target("default") is None
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.toml")


def test_template_is_valid() -> None:
    cfg = parse_config(template(), env={"ANTHROPIC_API_KEY": "k"})
    assert cfg.router.target("default") == "anthropic,claude-sonnet-4-5"


def ccm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccm_tui", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_config_init_and_check_commands(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    done = ccm("config", "init", "--config", str(path))
    assert done.returncode == 0 and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ccm("config", "init", "--config", str(path)).returncode == 1, "never overwrites without --force"
    ok = ccm("config", "check", "--config", str(path), env={"ANTHROPIC_API_KEY": "k"})
    assert ok.returncode == 0 and "OK" in ok.stdout
    path.write_text(path.read_text().replace('type = "anthropic"', 'type = "antropic"'))
    bad = ccm("config", "check", "--config", str(path), env={"ANTHROPIC_API_KEY": "k"})
    assert bad.returncode == 1
    assert f"{path}:11: providers.anthropic.type" in bad.stdout


def test_validation_messages_never_print_a_resolved_secret() -> None:
    """A swapped base_url/api_key would print the key; a variable's value is never shown, only its name."""
    text = """
[providers.openai]
type = "openai"
base_url = "$OPENAI_API_KEY"
api_key = "$OPENAI_BASE"
models = ["gpt-x"]

[server]
port = "$PORT_SECRET"

[router]
default = "$ROUTE_SECRET"
"""
    env = {"OPENAI_API_KEY": "sk-live-SECRET-1234567", "OPENAI_BASE": "https://api.openai.com/v1",
           "PORT_SECRET": "x", "ROUTE_SECRET": "sk-route-SECRET-7654321"}
    with pytest.raises(ConfigError) as info:
        parse_config(text, env=env, source="c.toml")
    shown = "\n".join(info.value.problems) + str(info.value)
    assert "base_url" in shown and "default" in shown
    assert "sk-live-SECRET-1234567" not in shown and "sk-route-SECRET-7654321" not in shown
    assert "$OPENAI_API_KEY" in shown, "it says which variable holds the bad value"


def test_write_back_refuses_when_the_file_on_disk_no_longer_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(GOOD)
    env = {"ANTHROPIC_API_KEY": "sk-a", "LOCAL_KEY": "abc"}
    cfg = load_config(path, env=env)
    broken = GOOD.replace('type = "openai"', 'type = "opena1"')
    path.write_text(broken)  # edited since start, now invalid
    with pytest.raises(ConfigError) as info:
        write_route(cfg, "think", "local,qwen3", env=env)
    assert any(f"{path}:12: providers.local.type" in p for p in info.value.problems), info.value.problems
    assert path.read_text() == broken, "nothing written"


def test_write_back_without_a_file_is_for_this_session(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CCM_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    cfg = load_config()
    changed = write_route(cfg, "default", "anthropic,claude-opus-4-1")
    assert changed.router.target("default") == "anthropic,claude-opus-4-1" and cfg.router.target("default") is None
    assert not any(tmp_path.rglob("*.toml")), "no file is created behind the user's back"


def provider(kind: str, options: str) -> str:
    return (f'[providers.x]\ntype = "{kind}"\nbase_url = "http://a"\noptions = {{ {options} }}\n'
            '[router]\ndefault = "x,m"\n')


@pytest.mark.parametrize(("kind", "options", "expected"), [
    ("openai", 'effort_levels = "high"', "config:4: providers.x.options.effort_levels: expected a list of strings"),
    ("openai", 'reasoning_models = "(gpt"', "providers.x.options.reasoning_models: not a valid regular expression"),
    ("openai", 'web_search = "yes"', "providers.x.options.web_search: one of 'plugin', 'options', 'none'"),
    ("openai", "stream_usage = 1", "providers.x.options.stream_usage: expected true or false"),
    ("openai", "max_thinking_budget = 100", "providers.x.options.max_thinking_budget: unknown option"),
    ("gemini", 'max_thinking_budget = "lots"', "providers.x.options.max_thinking_budget: expected an integer"),
    ("gemini", 'schema_mode = "json"', "providers.x.options.schema_mode: one of 'json_schema', 'openapi'"),
    ("anthropic", "thinking = true", 'providers.x.options.thinking: unknown option for type = "anthropic" (known: none)'),
])
def test_provider_options_are_checked_at_load(kind: str, options: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(provider(kind, options), env={})
    assert any(expected in p for p in info.value.problems), info.value.problems


@pytest.mark.parametrize(("kind", "options"), [
    ("openai", 'effort_levels = ["low", "high"], echo_reasoning = false, think_tags = true, mid_system = "merge"'),
    ("openai", 'extra_headers = { "X-Title" = "me" }, reasoning_models = "^o\\\\d", web_search = "plugin"'),
    ("gemini", 'thinking = false, max_thinking_budget = 4096, schema_mode = "json_schema", safety_settings = []'),
])
def test_valid_provider_options_load(kind: str, options: str) -> None:
    parse_config(provider(kind, options), env={})


def test_every_openai_preset_field_is_an_option_with_a_check() -> None:
    import dataclasses

    from ccm_tui.provider_options import openai_options
    from ccm_tui.providers.openai.presets import PRESETS, Preset

    checks = openai_options()
    assert set(checks) == {f.name for f in dataclasses.fields(Preset)} - {"name"}
    for preset in PRESETS.values():  # the presets' own values pass their checks
        for name, check in checks.items():
            value = getattr(preset, name)
            value = list(value) if name == "effort_levels" else dict(value) if name == "extra_headers" else value
            assert check(value if value is not None else False) is None, (preset.name, name, value)
