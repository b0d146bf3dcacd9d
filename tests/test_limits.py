"""Model limits: config entries over built-ins, name matching, and the max_tokens clamp."""

from __future__ import annotations

import copy

import pytest

from ccm_tui.config import ModelLimits, parse_config
from ccm_tui.limits import (
    IMAGE_PLACEHOLDER,
    builtin_limits,
    clamp_max_tokens,
    limits_for,
    output_reserve,
    replace_images,
)

CONFIG = """
[providers.or]
type = "openai"
preset = "openrouter"
api_key = "k"
[providers.or.limits]
"openai/gpt-4o" = { max_output_tokens = 4096 }
"Local-Model" = { context_window = 32768, max_output_tokens = 8192, vision = false }
"deepseek-chat" = { context_window = 64000 }

[providers.capped]
type = "openai"
base_url = "http://127.0.0.1:9"
max_tokens_cap = 2048

[router]
default = "or,openai/gpt-4o"
"""


@pytest.fixture
def config():  # noqa: ANN201
    return parse_config(CONFIG, env={})


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-5-20250929", (200_000, 64_000, True)),
        ("anthropic/claude-haiku-4-5", (200_000, 64_000, True)),
        ("claude-opus-4-1-20250805", (200_000, 32_000, True)),
        ("claude-opus-4-20250514", (200_000, 32_000, True)),
        ("claude-opus-4-5", (200_000, 64_000, True)),
        ("gpt-4o-2024-08-06", (128_000, 16_384, True)),
        ("openai/gpt-4o-mini", (128_000, 16_384, True)),
        ("gpt-4.1-mini", (1_047_576, 32_768, True)),
        ("GPT-5", (400_000, 128_000, True)),
        ("o4-mini", (200_000, 100_000, True)),
        ("o3", (200_000, 100_000, True)),
        ("deepseek-chat", (128_000, 8_192, False)),
        ("deepseek/deepseek-reasoner", (128_000, 65_536, False)),
        ("models/gemini-2.5-pro", (1_048_576, 65_536, True)),
        ("gemini-2.5-flash-lite", (1_048_576, 65_536, True)),
        ("meta-llama/llama-3.3-70b-instruct", (131_072, None, False)),
        ("qwen/qwen3-coder", (262_144, 65_536, False)),
    ],
)
def test_builtin_table(model: str, expected: tuple) -> None:
    limits = builtin_limits(model)
    assert limits is not None
    assert (limits.context_window, limits.max_output_tokens, limits.vision) == expected


@pytest.mark.parametrize("model", ["claude-opus-5-5", "my-finetune", "gpt-3.5-turbo", "o2"])
def test_unknown_models_have_no_limits(model: str, config) -> None:  # noqa: ANN001
    assert builtin_limits(model) is None
    assert limits_for(config, "or", model) == ModelLimits()


def test_config_entry_overrides_and_merges_with_builtin(config) -> None:  # noqa: ANN001
    assert limits_for(config, "or", "openai/gpt-4o") == ModelLimits(128_000, 4096, True)
    assert limits_for(config, "or", "deepseek-chat") == ModelLimits(64_000, 8_192, True)  # entry states vision
    assert limits_for(config, "or", "local-model") == ModelLimits(32_768, 8192, False)  # case-insensitive key


def test_provider_cap_lowers_the_output_limit(config) -> None:  # noqa: ANN001
    assert limits_for(config, "capped", "gpt-4o") == ModelLimits(128_000, 2048, True)
    assert limits_for(config, "capped", "unknown") == ModelLimits(None, 2048, True)
    assert limits_for(config, "nope", "gpt-4o") == ModelLimits(128_000, 16_384, True)


def test_clamp_lowers_max_tokens_and_notes_it() -> None:
    body = {"model": "m", "max_tokens": 64_000, "messages": []}
    out, note = clamp_max_tokens(body, ModelLimits(128_000, 16_384))
    assert out["max_tokens"] == 16_384 and body["max_tokens"] == 64_000
    assert note == "max_tokens 64000 clamped to 16384 (model output limit)"


@pytest.mark.parametrize(
    "limits_and_tokens",
    [(ModelLimits(128_000, 16_384), 16_384), (ModelLimits(128_000, 16_384), 1000), (ModelLimits(), 64_000),
     (ModelLimits(128_000, 16_384), True), (ModelLimits(128_000, 16_384), None)],
)
def test_clamp_leaves_fitting_or_odd_bodies_alone(limits_and_tokens: tuple) -> None:
    limits, tokens = limits_and_tokens
    body = {"model": "m", "max_tokens": tokens, "messages": []}
    out, note = clamp_max_tokens(body, limits)
    assert out is body and note is None


def test_clamp_keeps_the_thinking_budget_below_max_tokens() -> None:
    body = {"max_tokens": 32_000, "thinking": {"type": "enabled", "budget_tokens": 31_999}, "messages": []}
    before = copy.deepcopy(body)
    out, note = clamp_max_tokens(body, ModelLimits(128_000, 8_192))
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 8_191}
    assert body == before
    assert note and "thinking budget 31999 lowered to 8191" in note
    small = {"max_tokens": 32_000, "thinking": {"type": "enabled", "budget_tokens": 4_000}}
    assert clamp_max_tokens(small, ModelLimits(None, 8_192))[0]["thinking"]["budget_tokens"] == 4_000


def test_output_reserve() -> None:
    assert output_reserve({"max_tokens": 64_000}, ModelLimits(128_000, 16_384)) == 16_384
    assert output_reserve({"max_tokens": 1000}, ModelLimits(128_000, 16_384)) == 1000
    assert output_reserve({"max_tokens": 64_000}, ModelLimits()) == 64_000
    assert output_reserve({}, ModelLimits(None, 100)) == 0


IMG = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}


def test_text_only_models_get_placeholders_instead_of_images() -> None:
    body = {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "look"}, IMG]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [IMG, IMG]}]},
    ]}
    before = copy.deepcopy(body)
    out, note = replace_images(body, ModelLimits(128_000, 8_192, vision=False))
    assert body == before and note == "3 image(s) replaced by a placeholder (text-only model)"
    placeholder = {"type": "text", "text": IMAGE_PLACEHOLDER}
    assert out["messages"][0]["content"] == [{"type": "text", "text": "look"}, placeholder]
    assert out["messages"][1] is body["messages"][1]
    assert out["messages"][2]["content"][0]["content"] == [placeholder, placeholder]
    assert out["messages"][2]["content"][0]["tool_use_id"] == "t"


def test_vision_models_and_imageless_bodies_are_untouched() -> None:
    body = {"messages": [{"role": "user", "content": [IMG]}]}
    assert replace_images(body, ModelLimits()) == (body, None)
    plain = {"messages": [{"role": "user", "content": "hi"}]}
    assert replace_images(plain, ModelLimits(vision=False)) == (plain, None)
