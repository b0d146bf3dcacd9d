"""CCM-style TOML with a [litellm] table → a litellm provider; the written file loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccm_tui.config import load_config
from ccm_tui.importing import SourceError, convert_text

CONFIGS = Path(__file__).parent / "configs"
ENV = {"LITELLM_MASTER_KEY": "sk-master", "ANTHROPIC_API_KEY": "sk-ant", "CCM_TOKEN": "tok"}


def _convert(text: str) -> tuple[object, str]:
    return convert_text(text, "ccm.toml")


def test_representative_file_imports_into_a_loadable_config(tmp_path: Path) -> None:
    source = CONFIGS / "ccm_litellm.toml"
    draft, text = convert_text(source.read_text(), str(source))
    out = tmp_path / "config.toml"
    out.write_text(text)
    cfg = load_config(out, env=ENV)
    lit = cfg.providers["litellm"]
    assert (lit.type, lit.base_url, lit.api_key.reveal(), lit.timeout) == (
        "litellm", "http://127.0.0.1:4000", "sk-master", 300.0)
    # model_list first, then models only routes name, in route order
    assert lit.models == ["gpt-4o", "claude-haiku", "o3", "gemini-2.5-pro"]
    assert cfg.providers["anthropic"].type == "anthropic", "a [providers.X] table in ccm-tui shape is copied"
    assert cfg.router.routes == {
        "default": "litellm,gpt-4o",
        "background": "litellm,claude-haiku",
        "think": "litellm,o3",
        "long_context": "litellm,gemini-2.5-pro",
        "subagent": "litellm,claude-haiku",
        "web_search": "anthropic,claude-sonnet-4-5",
    }
    assert cfg.router.long_context_threshold == 100000
    assert (cfg.server.port, cfg.server.auth_token.reveal()) == (8082, "tok")
    assert 'api_key = "$LITELLM_MASTER_KEY"' in text and "sk-master" not in text
    dropped = "\n".join(draft.dropped)
    assert "litellm.colour: unknown key" in dropped
    assert "litellm.routes.best_of: unknown route" in dropped
    assert "ui: unknown section" in dropped
    assert "router.think: think is already 'litellm,o3'" in dropped, "the [litellm] table wins over [router]"
    assert text.startswith("# ccm-tui configuration, written by `ccm-tui config import`\n# from the CCM-style")


def test_minimal_section_defaults() -> None:
    draft, text = _convert('[litellm]\nmodels = ["m1", "m2"]\n')
    assert draft.providers["litellm"].fields == {"type": "litellm", "base_url": "http://127.0.0.1:4000",
                                                 "models": ["m1", "m2"]}
    assert draft.router == {"default": "litellm,m1"}
    assert any("no base_url" in w for w in draft.warnings)
    assert any("no default route" in w for w in draft.warnings)


def test_literal_key_and_custom_name() -> None:
    draft, text = _convert('[LiteLLM]\nname = "corp"\nurl = "https://llm.corp.example"\nkey = "sk-literal"\n'
                           'ANTHROPIC_MODEL = "claude-sonnet"\n')
    assert draft.router == {"default": "corp,claude-sonnet"}
    assert 'api_key = "sk-literal"' in text
    assert draft.literal_keys == ["providers.corp.api_key"]
    assert any("LITELLM_MASTER_KEY" in w for w in draft.warnings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[router]\ndefault = "x"\n', "no \\[litellm\\] table"),
        ("[litellm]\n", "no default route and no models"),
        ("[litellm\nbase_url = 1\n", "invalid TOML"),
    ],
)
def test_unusable_sources_raise(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        _convert(text)
