"""claude-code-router config.json → ccm-tui TOML: mapping table, and the written file loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccm_tui.config import load_config
from ccm_tui.importing import SourceError, convert_text
from ccm_tui.importing.ccr import classify

CONFIGS = Path(__file__).parent / "configs"
ENV = {
    "CCR_APIKEY": "tok-ccr", "OPENROUTER_API_KEY": "k-or", "DEEPSEEK_API_KEY": "k-ds",
    "GEMINI_API_KEY": "k-gem", "MODELSCOPE_API_KEY": "k-ms",
}


@pytest.mark.parametrize(
    ("url", "use", "expected"),
    [
        ("https://openrouter.ai/api/v1/chat/completions", [], ("openai", "https://openrouter.ai/api/v1", "openrouter")),
        ("https://api.deepseek.com/chat/completions", [], ("openai", "https://api.deepseek.com", "deepseek")),
        ("https://api.groq.com/openai/v1/chat/completions", [], ("openai", "https://api.groq.com/openai/v1", "groq")),
        ("https://api.together.xyz/v1/chat/completions", [], ("openai", "https://api.together.xyz/v1", "together")),
        ("https://api.openai.com/v1/chat/completions", [], ("openai", "https://api.openai.com/v1", "openai")),
        ("http://localhost:11434/v1/chat/completions", [], ("openai", "http://localhost:11434/v1", "ollama")),
        ("http://127.0.0.1:1234/v1/chat/completions/", [], ("openai", "http://127.0.0.1:1234/v1", "lmstudio")),
        ("http://10.0.0.5:1234/v1/chat/completions", [], ("openai", "http://10.0.0.5:1234/v1", None)),
        ("https://ark.cn-beijing.volces.com/api/v3/chat/completions", [],
         ("openai", "https://ark.cn-beijing.volces.com/api/v3", None)),
        # a host with no preset, but a transformer that names the dialect
        ("https://llm.example.com/v1/chat/completions", ["deepseek"], ("openai", "https://llm.example.com/v1", "deepseek")),
        ("https://api.example.com/v1", [], ("openai", "https://api.example.com/v1", None)),
        ("https://generativelanguage.googleapis.com/v1beta/models/", ["gemini"],
         ("gemini", "https://generativelanguage.googleapis.com", None)),
        ("https://generativelanguage.googleapis.com/v1beta/models/", [],
         ("gemini", "https://generativelanguage.googleapis.com", None)),
        # Gemini's own OpenAI-compatible endpoint is Chat Completions
        ("https://generativelanguage.googleapis.com/v1beta/openai/chat/completions", [],
         ("openai", "https://generativelanguage.googleapis.com/v1beta/openai", None)),
        ("https://api.anthropic.com/v1/messages", [], ("anthropic", "https://api.anthropic.com", None)),
        ("https://api.anthropic.com/v1/messages", ["anthropic"], ("anthropic", "https://api.anthropic.com", None)),
        ("https://api.moonshot.ai/anthropic/v1/messages", ["anthropic"],
         ("anthropic", "https://api.moonshot.ai/anthropic", None)),
        ("$MY_BASE/chat/completions", [], ("openai", "$MY_BASE", None)),
    ],
)
def test_classify_base_url(url: str, use: list[str], expected: tuple) -> None:
    assert classify(url, use) == expected


def _import(tmp_path: Path, name: str = "ccr_full.json") -> tuple[object, str, Path]:
    source = CONFIGS / name
    draft, text = convert_text(source.read_text(), str(source))
    out = tmp_path / "config.toml"
    out.write_text(text)
    return draft, text, out


def test_full_config_imports_into_a_loadable_config(tmp_path: Path) -> None:
    _, text, out = _import(tmp_path)
    cfg = load_config(out, env=ENV)
    p = cfg.providers
    assert list(p) == ["openrouter", "deepseek", "ollama", "gemini", "modelscope"]
    assert (p["openrouter"].type, p["openrouter"].preset, p["openrouter"].base_url) == (
        "openai", "openrouter", "https://openrouter.ai/api/v1")
    assert p["openrouter"].api_key.reveal() == "k-or"
    assert p["openrouter"].models == ["google/gemini-2.5-pro-preview", "anthropic/claude-sonnet-4"]
    assert (p["deepseek"].preset, p["deepseek"].api_key.reveal()) == ("deepseek", "k-ds")
    assert (p["ollama"].preset, p["ollama"].base_url, p["ollama"].api_key.reveal()) == (
        "ollama", "http://localhost:11434/v1", "ollama")
    assert (p["gemini"].type, p["gemini"].base_url) == ("gemini", "https://generativelanguage.googleapis.com")
    assert (p["modelscope"].preset, p["modelscope"].max_tokens_cap) == (None, 65536)
    assert {x.timeout for x in p.values()} == {120.0}, "API_TIMEOUT_MS is carried as seconds"
    assert cfg.router.routes == {
        "default": "deepseek,deepseek-chat",
        "background": "ollama,qwen2.5-coder:latest",
        "think": "deepseek,deepseek-reasoner",
        "long_context": "openrouter,google/gemini-2.5-pro-preview",
        "web_search": "gemini,gemini-2.5-flash",
    }
    assert cfg.router.long_context_threshold == 80000
    assert (cfg.server.host, cfg.server.port, cfg.server.auth_token.reveal()) == ("127.0.0.1", 3456, "tok-ccr")


def test_keys_stay_references_even_when_the_environment_has_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-canary-should-not-appear")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-canary-should-not-appear")
    _, text, _ = _import(tmp_path)
    assert "sk-canary" not in text
    assert 'api_key = "$OPENROUTER_API_KEY"' in text
    assert 'api_key = "${DEEPSEEK_API_KEY}"' in text
    assert 'auth_token = "$CCR_APIKEY"' in text


def test_uncarried_items_are_listed_and_commented(tmp_path: Path) -> None:
    draft, text, _ = _import(tmp_path)
    dropped = "\n".join(draft.dropped)
    assert "transformer 'tooluse' for model deepseek-chat" in dropped
    assert "transformer 'enhancetool'" in dropped
    assert "transformer 'openrouter' options" in dropped and "only" in dropped
    assert "PROXY_URL" in dropped and "LOG" in dropped and "transformers" in dropped
    assert "CUSTOM_ROUTER_PATH" not in dropped and "image" not in dropped, "empty values are not losses"
    assert "maxtoken" not in dropped
    assert "#   - providers.modelscope transformer 'enhancetool'" in text
    assert text.startswith("# ccm-tui configuration, written by `ccm-tui config import`\n")
    assert "# openrouter: from https://openrouter.ai/api/v1/chat/completions" in text
    assert "maxtoken → max_tokens_cap = 65536" in text


def test_literal_key_is_copied_with_a_warning(tmp_path: Path) -> None:
    draft, text, _ = _import(tmp_path)
    assert 'api_key = "ollama"' in text
    assert draft.literal_keys == ["providers.ollama.api_key"]
    assert any("providers.ollama.api_key" in w and "OLLAMA_API_KEY" in w for w in draft.warnings)


def test_json5_and_missing_router_default_to_first_model(tmp_path: Path) -> None:
    draft, text, out = _import(tmp_path, "ccr_minimal.jsonc")
    cfg = load_config(out, env={"GROQ_API_KEY": "g"})
    assert cfg.providers["groq"].preset == "groq"
    assert cfg.router.routes == {"default": "groq,llama-3.3-70b-versatile"}
    assert any("Router.default is missing" in w for w in draft.warnings)
    assert "not in the source" in text


def _convert(data: dict) -> tuple[object, str]:
    return convert_text(json.dumps(data), "x.json")


def test_router_gaps_and_unknown_targets() -> None:
    provider = {"name": "ds", "api_base_url": "https://api.deepseek.com/chat/completions", "models": ["deepseek-chat"]}
    draft, text = _convert({
        "Providers": [provider],
        "Router": {"default": "ds,deepseek-chat", "think": "nowhere,model", "background": "no-comma",
                   "longContextThreshold": "lots", "fancy": "ds,x"},
    })
    assert draft.router == {"default": "ds,deepseek-chat"}
    dropped = "\n".join(draft.dropped)
    for item in ("Router.think", "Router.background", "Router.longContextThreshold", "Router.fancy: unknown route"):
        assert item in dropped


def test_bad_providers_are_skipped_and_targets_to_them_dropped() -> None:
    good = {"name": "ok", "api_base_url": "https://api.openai.com/v1/chat/completions", "models": ["gpt-4o"]}
    draft, _ = _convert({
        "Providers": [good, {"name": "nourl", "models": ["m"]}, "junk", dict(good, models=["other"]),
                      {"name": "a,b", "api_base_url": "https://x.example/v1"}],
        "Router": {"default": "ok,gpt-4o", "think": "nourl,m"},
    })
    assert list(draft.providers) == ["ok"]
    assert draft.providers["ok"].fields["models"] == ["gpt-4o"], "the first of two same-named providers wins"
    dropped = "\n".join(draft.dropped)
    assert "providers.nourl: api_base_url" in dropped
    assert "Providers[2]: expected an object" in dropped
    assert "a second provider named 'ok'" in dropped
    assert "Providers[4]" in dropped
    assert "Router.think" in dropped


@pytest.mark.parametrize(
    "data",
    [{"Router": {"default": "a,b"}}, {"Providers": []}, {"Providers": [{"name": "x", "api_base_url": "ftp://x"}]}],
)
def test_unusable_sources_raise(data: dict) -> None:
    with pytest.raises(SourceError):
        _convert(data)


def test_malformed_json_names_the_line() -> None:
    with pytest.raises(SourceError, match=r"x.json:3:\d+: invalid JSON"):
        convert_text('{\n  "Providers": [\n    {"name": "a" "oops"}\n  ]\n}', "x.json")


def test_json5_comment_markers_inside_strings_are_kept() -> None:
    from ccm_tui.importing import _strip_json5

    text = '{"a": "x // y, }", // note\n "b": [1, 2, /* z */ ],\n "c": "q\\"/*", }'
    assert json.loads(_strip_json5(text)) == {"a": "x // y, }", "b": [1, 2], "c": 'q"/*'}


def test_a_key_in_the_url_query_is_not_echoed() -> None:
    url = "https://llm.example.com/v1/chat/completions?key=sk-in-query-canary"
    draft, text = _convert({"Providers": [{"name": "q", "api_base_url": url, "models": ["m"]}],
                            "Router": {"default": "q,m"}})
    assert "sk-in-query-canary" not in text + "\n".join(draft.dropped + draft.warnings)
    assert "the query string of https://llm.example.com/v1/chat/completions is not carried" in draft.dropped[0]
    assert draft.providers["q"].fields["base_url"] == "https://llm.example.com/v1"
