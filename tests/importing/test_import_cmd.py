"""`ccm-tui config import` as a user runs it: a subprocess, real files, exit codes, stdout/stderr."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ccm_tui.config import load_config

CONFIGS = Path(__file__).parent / "configs"
CANARY = "sk-canary-import-DO-NOT-WRITE"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "CCM_CONFIG"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ccm_tui", "config", "import", *args],
        capture_output=True, text=True, timeout=60, env=full_env,
    )


def test_import_writes_a_private_loadable_file_and_reports(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "config.toml"
    result = run(str(CONFIGS / "ccr_full.json"), "--output", str(dest), env={"OPENROUTER_API_KEY": CANARY})
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    text = dest.read_text()
    assert CANARY not in text, "environment values are never written"
    assert f"wrote {dest}" in result.stdout
    assert "providers.openrouter: type=openai preset=openrouter https://openrouter.ai/api/v1" in result.stdout
    assert "router.default = deepseek,deepseek-chat" in result.stdout
    assert "$OPENROUTER_API_KEY" in result.stdout, "stdout says which variables to set"
    assert "not carried over: providers.deepseek transformer 'tooluse'" in result.stderr
    assert "not carried over: providers.modelscope transformer 'enhancetool'" in result.stderr
    assert "warning: providers.ollama.api_key" in result.stderr
    assert "not carried over" not in result.stdout
    env = {"CCR_APIKEY": "t", "OPENROUTER_API_KEY": "a", "DEEPSEEK_API_KEY": "b", "GEMINI_API_KEY": "c",
           "MODELSCOPE_API_KEY": "d"}
    cfg = load_config(dest, env=env)
    assert cfg.router.target("think") == "deepseek,deepseek-reasoner"
    check = subprocess.run([sys.executable, "-m", "ccm_tui", "config", "check", "--config", str(dest)],
                           capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert check.returncode == 0, check.stdout + check.stderr


def test_existing_destination_is_left_alone_without_force(tmp_path: Path) -> None:
    dest = tmp_path / "config.toml"
    dest.write_text("# mine\n")
    before = dest.stat()
    result = run(str(CONFIGS / "ccr_full.json"), "--output", str(dest))
    assert result.returncode == 1
    assert "exists" in result.stderr and "--force" in result.stderr
    assert dest.read_text() == "# mine\n" and dest.stat().st_mtime_ns == before.st_mtime_ns
    forced = run(str(CONFIGS / "ccr_full.json"), "--output", str(dest), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "[providers.openrouter]" in dest.read_text()


def test_destination_defaults_to_the_config_path(tmp_path: Path) -> None:
    dest = tmp_path / "xdg" / "config.toml"
    result = run(str(CONFIGS / "ccm_litellm.toml"), env={"CCM_CONFIG": str(dest)})
    assert result.returncode == 0, result.stderr
    cfg = load_config(dest, env={"LITELLM_MASTER_KEY": "k", "ANTHROPIC_API_KEY": "a", "CCM_TOKEN": "t"})
    assert cfg.providers["litellm"].type == "litellm"
    assert "not carried over: litellm.colour: unknown key" in result.stderr


def test_jsonc_with_comments_and_no_router(tmp_path: Path) -> None:
    dest = tmp_path / "c.toml"
    result = run(str(CONFIGS / "ccr_minimal.jsonc"), "--output", str(dest))
    assert result.returncode == 0, result.stderr
    assert "Router.default is missing: chose groq,llama-3.3-70b-versatile" in result.stderr


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", '{"Providers": [ {"name": "x",, } ]', "invalid JSON"),
        ("list.json", "[1, 2]", "expected a JSON object"),
        ("other.json", '{"Router": {"default": "a,b"}}', "no Providers list"),
        ("bad.toml", "[litellm\nbase_url = 1\n", "invalid TOML"),
        ("plain.toml", '[server]\nport = 1\n', "no [litellm] table"),
        ("binary.json", None, "cannot read"),
    ],
)
def test_unusable_source_exits_2_and_writes_nothing(tmp_path: Path, name: str, content: str | None,
                                                     message: str) -> None:
    source = tmp_path / name
    if content is None:
        source.write_bytes(b"\xff\xfe\x00garbage")
    else:
        source.write_text(content)
    dest = tmp_path / "out.toml"
    result = run(str(source), "--output", str(dest))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not dest.exists()


def test_missing_source_exits_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope.json"), "--output", str(tmp_path / "out.toml"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr and "nope.json" in result.stderr


def test_source_that_cannot_make_a_valid_config_exits_2(tmp_path: Path) -> None:
    source = tmp_path / "ccm.toml"
    shutil.copy(CONFIGS / "ccm_litellm.toml", source)
    source.write_text(source.read_text() + '\n[providers.broken]\ntype = "smoke-signals"\n')
    dest = tmp_path / "out.toml"
    result = run(str(source), "--output", str(dest))
    assert result.returncode == 2
    assert "providers.broken.type" in result.stderr
    assert not dest.exists()


def test_import_never_prints_url_passwords_query_keys_or_a_swapped_key(tmp_path: Path) -> None:
    import json

    ccr = tmp_path / "config.json"
    ccr.write_text(json.dumps({"Providers": [
        {"name": "a", "api_base_url": "https://alice:hunter2-PASS@api.example.com/v1/chat/completions?key=QUERYKEY1",
         "api_key": "$A_KEY", "models": ["m"]},
        {"name": "b", "api_base_url": "sk-swapped-KEY-123456", "api_key": "https://api.openai.com/v1",
         "models": ["m"]},
    ], "Router": {"default": "a,m"}}))
    ccm = tmp_path / "ccm.toml"
    ccm.write_text('[litellm]\nbase_url = "http://bob:PASSWORD99@127.0.0.1:4000/?key=QUERYKEY2"\n'
                   'api_key = "$LITELLM_KEY"\ndefault = "claude-x"\n')
    for source in (ccr, ccm):
        dest = tmp_path / f"{source.name}.toml"
        result = run(str(source), "--output", str(dest))
        assert result.returncode == 0, result.stderr
        shown = result.stdout + result.stderr
        comments = "".join(line for line in dest.read_text().splitlines() if line.lstrip().startswith("#"))
        for secret in ("hunter2-PASS", "QUERYKEY1", "sk-swapped-KEY-123456", "PASSWORD99", "QUERYKEY2"):
            assert secret not in shown and secret not in comments, secret
    assert "api.example.com" in shown or "127.0.0.1:4000" in shown, "the URL is still shown, minus its secrets"
