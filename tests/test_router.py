"""Router: real Claude Code fixtures, one table per rule, priorities, overrides, tag stripping, sizes."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.config import Config, ConfigError, ProviderConfig, embedded_default, parse_config, route_key
from ccm_tui.errors import InvalidRequest
from ccm_tui.router import decide, strip_subagent_tag

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "claude-code").glob("*.json"))

PROVIDERS = """
[providers.anthropic]
type = "anthropic"
api_key = "k"
models = ["claude-sonnet-4-5", "claude-haiku-4-5"]
[providers.openrouter]
type = "openai"
preset = "openrouter"
api_key = "k"
[providers.gemini]
type = "gemini"
api_key = "k"
"""
ALL_ROUTES = """
[router]
default = "anthropic,m-default"
background = "anthropic,m-background"
think = "anthropic,m-think"
long_context = "gemini,m-long"
web_search = "openrouter,m-websearch"
subagent = "openrouter,m-subagent"
image = "gemini,m-image"
"""


def make_config(router: str = ALL_ROUTES, extra: str = "") -> Config:
    return parse_config(PROVIDERS + extra + router, env={})


def no_count(body: dict, model: str | None = None) -> int:
    raise AssertionError("the router counted tokens although the size bound decides")


def fixed(n: int):  # noqa: ANN201
    calls: list[str | None] = []

    def count(body: dict, model: str | None = None) -> int:
        calls.append(model)
        return n

    count.calls = calls  # type: ignore[attr-defined]
    return count


def billing(subagent: bool = False) -> dict[str, str]:
    extra = " cc_is_subagent=true;" if subagent else ""
    return {"type": "text", "text": f"x-anthropic-billing-header: cc_version=2.1.197.1; cc_entrypoint=cli;{extra}"}


TOOLS = [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo" * 4000}}


def req(content: Any = "hi", *, model: str = "claude-opus-4-8", system: Any = None, tools: Any = TOOLS,
        messages: list | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 1000,
        "messages": messages if messages is not None else [{"role": "user", "content": content}],
        "system": system if system is not None else [billing(), {"type": "text", "text": "You are Claude Code." * 300}],
        "tools": tools,
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
    }
    body.update(extra)
    return body


# -- real traffic ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_routes_as_labelled(path: Path) -> None:
    data = json.loads(path.read_text())
    config = make_config()
    decision = decide(data["body"], data["headers"], config, count_tokens=no_count)
    route = data["expected_route"]
    assert decision.route == route, "decisions use the fixtures' route names"
    assert f"{decision.provider},{decision.model}" == config.router.target(route)
    assert 0 < len(decision.reason) < 100 and "\n" not in decision.reason
    assert decision.estimated_tokens is None


def test_fixtures_cover_every_builtin_route_they_claim() -> None:
    labels = {json.loads(p.read_text())["expected_route"] for p in FIXTURES}
    assert {"default", "background", "think", "subagent", "websearch"} <= labels


# -- one table per rule ----------------------------------------------------------------------
WEB = {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}
NESTED_IMAGE = [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "shot"}, IMAGE]}]
CASES: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
    ("server web search", req(tools=[WEB]), {}, "websearch"),
    ("client WebSearch tool is not websearch", req(tools=[{"name": "WebSearch", "input_schema": {}}]), {}, "default"),
    ("image in latest user turn", req([{"type": "text", "text": "see"}, IMAGE]), {}, "image"),
    ("image nested in tool_result", req(NESTED_IMAGE), {}, "image"),
    ("image only in an older turn", req(messages=[
        {"role": "user", "content": [IMAGE]}, {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "and now?"}]), {}, "default"),
    ("image in latest user turn before a prefill", req(messages=[
        {"role": "user", "content": [IMAGE]}, {"role": "assistant", "content": "It shows"}]), {}, "image"),
    ("billing header subagent", req(system=[billing(True), {"type": "text", "text": "agent"}]), {}, "subagent"),
    ("agent id header", req(), {"X-Claude-Code-Agent-Id": "ab094cc7"}, "subagent"),
    ("haiku subagent is subagent", req(model="claude-haiku-4-5", system=[billing(True)]), {}, "subagent"),
    ("enabled thinking", req(thinking={"type": "enabled", "budget_tokens": 31999}), {}, "think"),
    ("adaptive thinking alone is not think", req(), {}, "default"),
    ("haiku outside a subagent", req(model="claude-haiku-4-5-20251001"), {}, "background"),
    ("title-style utility request", req(tools=[], thinking={"type": "disabled"},
                                        system=[billing(), {"type": "text", "text": "Generate a title"}]), {}, "background"),
    ("no tools but adaptive thinking", req(tools=[], system=[billing(), {"type": "text", "text": "x"}]), {}, "default"),
    ("no tools, no system: plain API call", req(tools=[], system=[], thinking={"type": "disabled"}), {}, "default"),
    ("no tools, long system prompt", req(tools=[], thinking={"type": "disabled"}), {}, "default"),
]


@pytest.mark.parametrize(("body", "headers", "route"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_builtin_rules(body: dict, headers: dict, route: str) -> None:
    config = make_config()
    decision = decide(body, headers, config, count_tokens=no_count)
    assert decision.route == route
    assert f"{decision.provider},{decision.model}" == config.router.routes[route_key(route)]


@pytest.mark.parametrize(
    ("minimum", "effort", "route"),
    [(None, "max", "default"), ("medium", "high", "think"), ("medium", "medium", "think"), ("medium", "low", "default"),
     ("max", "high", "default"), ("high", None, "think"),
     # claude --effort xhigh sends "xhigh", between high and max
     ("high", "xhigh", "think"), ("xhigh", "high", "default"), ("xhigh", "xhigh", "think"), ("xhigh", "max", "think"),
     ("max", "xhigh", "default")],
)
def test_adaptive_thinking_counts_only_from_the_configured_effort(minimum: str | None, effort: str | None,
                                                                  route: str) -> None:
    config = make_config(ALL_ROUTES + (f'think_min_effort = "{minimum}"\n' if minimum else ""))
    body = req(output_config={"effort": effort} if effort else {})
    assert decide(body, {}, config, count_tokens=no_count).route == route


# -- priorities ------------------------------------------------------------------------------
def test_subagent_doing_websearch_is_websearch() -> None:
    body = req(tools=[WEB], system=[billing(True)])
    assert decide(body, {"x-claude-code-agent-id": "a"}, make_config(), count_tokens=no_count).route == "websearch"


def test_image_beats_think_and_subagent() -> None:
    body = req([IMAGE], thinking={"type": "enabled", "budget_tokens": 2000}, system=[billing(True)])
    assert decide(body, {}, make_config(), count_tokens=no_count).route == "image"


def test_think_beats_haiku_background() -> None:
    body = req(model="claude-haiku-4-5", thinking={"type": "enabled", "budget_tokens": 2000})
    assert decide(body, {}, make_config(), count_tokens=no_count).route == "think"


def test_unconfigured_route_falls_back_to_default_and_says_so() -> None:
    decision = decide(req(tools=[WEB]), {}, make_config('[router]\ndefault = "anthropic,m-default"\n'))
    assert (decision.route, decision.model) == ("websearch", "m-default")
    assert "no web_search route: default" in decision.reason


# -- pin, override ---------------------------------------------------------------------------
def test_override_model_bypasses_routing() -> None:
    decision = decide(req(tools=[WEB], model="openrouter,openai/gpt-4o"), {}, make_config(), count_tokens=no_count)
    assert (decision.route, decision.provider, decision.model) == ("override", "openrouter", "openai/gpt-4o")


def test_override_with_unknown_provider_falls_through() -> None:
    decision = decide(req(tools=[WEB], model="nope,gpt-4o"), {}, make_config(), count_tokens=no_count)
    assert decision.route == "websearch" and "unknown provider" in decision.reason


def test_pin_beats_everything() -> None:
    config = dataclasses.replace(make_config(), pinned="gemini,gemini-2.5-flash")
    decision = decide(req(tools=[WEB], model="openrouter,gpt-4o"), {}, config, count_tokens=no_count)
    assert (decision.route, decision.provider, decision.model) == ("pinned", "gemini", "gemini-2.5-flash")


# -- the subagent tag ------------------------------------------------------------------------
TAG = "<CCR-SUBAGENT-MODEL>openrouter,qwen/qwen3-coder</CCR-SUBAGENT-MODEL>"


def test_tag_in_blocks_is_stripped_without_mutating_the_input() -> None:
    body = req(system=[billing(True), {"type": "text", "text": f"{TAG}\nYou are an agent.", "cache_control": {"x": 1}},
                       {"type": "text", "text": TAG}])
    before = copy.deepcopy(body)
    out, target = strip_subagent_tag(body)
    assert body == before
    assert target == "openrouter,qwen/qwen3-coder"
    assert out["system"] == [billing(True), {"type": "text", "text": "You are an agent.", "cache_control": {"x": 1}}]
    assert out["messages"] is body["messages"]


def test_tag_in_string_system_is_stripped() -> None:
    body = {"model": "m", "system": f"{TAG}You help.", "messages": []}
    out, target = strip_subagent_tag(body)
    assert (out["system"], target) == ("You help.", "openrouter,qwen/qwen3-coder")
    assert body["system"].startswith(TAG)
    only_tag, _ = strip_subagent_tag({"system": TAG, "messages": []})
    assert "system" not in only_tag


def test_no_tag_returns_the_same_body() -> None:
    body = req()
    assert strip_subagent_tag(body) == (body, None)


def test_tag_selects_the_subagent_target() -> None:
    config = make_config()
    decision = decide(req(system=[billing(True), {"type": "text", "text": TAG}]), {}, config, count_tokens=no_count)
    assert (decision.route, decision.provider, decision.model) == ("subagent", "openrouter", "qwen/qwen3-coder")
    bad = decide(req(system=[{"type": "text", "text": TAG.replace("openrouter", "nope")}]), {}, config,
                 count_tokens=no_count)
    assert (bad.route, bad.model) == ("subagent", "m-subagent") and "unknown provider" in bad.reason


# -- user rules ------------------------------------------------------------------------------
RULES = ALL_ROUTES + """
[[router.rules]]
name = "explorer"
target = "gemini,rule-system"
system = "FILE SEARCH specialist"
[[router.rules]]
target = "gemini,rule-model-tool"
model = "opus-5"
tool = "Bash"
[[router.rules]]
name = "mid-size"
target = "gemini,rule-tokens"
min_tokens = 50
max_tokens = 60
"""


def test_rule_on_system_text_beats_builtins() -> None:
    body = req(tools=[WEB], system=[billing(True), {"type": "text", "text": "You are a file search specialist."}])
    decision = decide(body, {}, make_config(RULES), count_tokens=no_count)
    assert (decision.route, decision.model) == ("rule", "rule-system")
    assert decision.reason.startswith("rule 'explorer' matched")


def test_rule_on_model_and_tool_needs_both() -> None:
    config = make_config(RULES)
    body = req(model="claude-opus-5-5", system=[billing(), {"type": "text", "text": "x" * 300}])
    assert decide(body, {}, config, count_tokens=fixed(1000)).model == "rule-model-tool"
    assert decide({**body, "tools": []}, {}, config, count_tokens=fixed(1000)).model != "rule-model-tool"


@pytest.mark.parametrize(("tokens", "model"), [(49, "m-default"), (50, "rule-tokens"), (60, "rule-tokens"),
                                               (61, "m-default")])
def test_rule_token_bounds_are_inclusive(tokens: int, model: str) -> None:
    body = req("why", system=[{"type": "text", "text": "short"}], tools=[])  # small: bounds 0..~500
    assert decide(body, {}, make_config(RULES), count_tokens=fixed(tokens)).model == model


def test_bad_rules_are_config_errors() -> None:
    with pytest.raises(ConfigError) as info:
        make_config(ALL_ROUTES + '[[router.rules]]\ntarget = "gemini,x"\nmodle = "opus"\n')
    assert any("modle: unknown key" in p for p in info.value.problems)
    with pytest.raises(ConfigError, match="at least one condition"):
        make_config(ALL_ROUTES + '[[router.rules]]\ntarget = "gemini,x"\n')


# -- long context: threshold, counting only when needed --------------------------------------
def threshold_config(n: int) -> Config:
    return make_config(ALL_ROUTES + f"long_context_threshold = {n}\n")


@pytest.mark.parametrize(("tokens", "route"), [(999, "default"), (1000, "default"), (1001, "long_context")])
def test_threshold_edge(tokens: int, route: str) -> None:
    body = req("w " * 2000)  # ~10 KB: the size bound cannot decide, so the counter is asked
    counter = fixed(tokens)
    decision = decide(body, {}, threshold_config(1000), count_tokens=counter)
    assert decision.route == route
    assert decision.estimated_tokens == tokens and len(counter.calls) == 1
    if route == "long_context":
        assert decision.reason == "≈1,001 input tokens, above the 1,000 threshold"


def test_far_below_and_far_above_skip_the_count() -> None:
    assert decide(req("small"), {}, threshold_config(60_000), count_tokens=no_count).route == "default"
    huge = req("word " * 250_000)  # 1.25 MB: over 16 bytes per token above 60k
    decision = decide(huge, {}, make_config(ALL_ROUTES.replace("m-long", "gemini-2.5-pro")), count_tokens=no_count)
    assert decision.route == "long_context" and decision.estimated_tokens is None
    assert decision.reason.startswith("over ")


def test_image_payload_does_not_look_like_text() -> None:
    body = req([IMAGE] * 20, tools=[WEB])  # ~900 KB of base64, a websearch: no count at all
    assert decide(body, {}, threshold_config(60_000), count_tokens=no_count).route == "websearch"


def test_default_counter_is_tokens_module() -> None:
    body = req("w " * 2000)
    decision = decide(body, {}, threshold_config(1000))
    assert decision.estimated_tokens and decision.estimated_tokens > 1000 and decision.route == "long_context"


# -- window-aware escalation -----------------------------------------------------------------
WINDOWS = """
[router]
default = "openrouter,openai/gpt-4o"
subagent = "openrouter,deepseek-chat"
long_context = "gemini,gemini-2.5-pro"
long_context_threshold = 2000000
"""
BIG = "w " * 150_000  # 300 KB: size bounds ~19k..150k tokens, so the (fake) count decides
HUGE = "w " * 1_500_000  # 3 MB: ~190k..1.5M tokens


@pytest.mark.parametrize(("tokens", "route"), [(111_616, "default"), (111_617, "long_context")])
def test_window_aware_escalation_edge(tokens: int, route: str) -> None:
    body = req(BIG, max_tokens=64_000)  # gpt-4o: 128,000 window, output clamped to 16,384
    decision = decide(body, {}, make_config(WINDOWS), count_tokens=fixed(tokens))
    assert decision.route == route
    if route == "long_context":
        assert (decision.provider, decision.model) == ("gemini", "gemini-2.5-pro")
        assert "exceed the 128,000-token window of openrouter,openai/gpt-4o" in decision.reason


def test_window_check_applies_to_higher_routes_too() -> None:
    body = req(BIG, system=[billing(True)], max_tokens=32_000)  # deepseek-chat: 128k, 8k output
    decision = decide(body, {}, make_config(WINDOWS), count_tokens=fixed(125_000))
    assert decision.route == "long_context" and "(subagent route)" in decision.reason


def test_nothing_fits_is_a_400_naming_the_sizes() -> None:
    body = req(HUGE, max_tokens=64_000)
    with pytest.raises(InvalidRequest) as info:
        decide(body, {}, make_config(WINDOWS), count_tokens=fixed(1_100_000))
    assert info.value.status == 400 and info.value.error_type == "invalid_request_error"
    assert info.value.message == "prompt is too long: 1100000 tokens > 1048576 maximum for gemini,gemini-2.5-pro"
    with pytest.raises(InvalidRequest, match=r"exceed context limit: 1000000 \+ 64000 > 1048576"):
        decide(body, {}, make_config(WINDOWS), count_tokens=fixed(1_000_000))


def test_no_long_context_route_and_too_big_for_default() -> None:
    config = make_config('[router]\ndefault = "openrouter,openai/gpt-4o"\n')
    with pytest.raises(InvalidRequest, match="prompt is too long: 130000 tokens > 128000 maximum for openrouter"):
        decide(req(BIG), {}, config, count_tokens=fixed(130_000))


def test_configured_limits_make_small_models_escalate() -> None:
    extra = '[providers.openrouter.limits]\n"tiny" = { context_window = 8000, max_output_tokens = 1000 }\n'
    config = make_config(WINDOWS.replace("openai/gpt-4o", "tiny"), extra=extra)
    assert decide(req("w " * 20_000), {}, config, count_tokens=fixed(7_500)).route == "long_context"
    assert decide(req("w " * 20_000), {}, config, count_tokens=fixed(6_999)).route == "default"


def test_one_m_context_beta_widens_claude_windows() -> None:
    config = make_config(WINDOWS.replace("openrouter,openai/gpt-4o", "anthropic,claude-sonnet-4-5"))
    body = req(HUGE)
    assert decide(body, {}, config, count_tokens=fixed(300_000)).route == "long_context"
    beta = {"anthropic-beta": "claude-code-20250219,context-1m-2025-08-07"}
    assert decide(body, beta, config, count_tokens=fixed(300_000)).route == "default"


def test_pin_and_override_are_never_escalated() -> None:
    config = make_config(WINDOWS)
    body = req(BIG, model="openrouter,openai/gpt-4o")
    assert decide(body, {}, config, count_tokens=fixed(500_000)).route == "override"
    pinned = dataclasses.replace(config, pinned="openrouter,openai/gpt-4o")
    assert decide(req(BIG), {}, pinned, count_tokens=fixed(500_000)).route == "pinned"


def test_unknown_models_are_not_escalated_on_a_guess() -> None:
    config = make_config(WINDOWS.replace("openai/gpt-4o", "some-new-model"))
    assert decide(req(HUGE), {}, config, count_tokens=no_count).route == "default"


# -- no config -------------------------------------------------------------------------------
def test_embedded_default_passes_the_requested_model_through() -> None:
    decision = decide(req(tools=[WEB], model="claude-opus-4-8"), {}, embedded_default(), count_tokens=no_count)
    assert (decision.route, decision.provider, decision.model) == ("websearch", "anthropic", "claude-opus-4-8")


def test_without_default_the_first_provider_listing_the_model_wins() -> None:
    config = Config(providers={
        "a": ProviderConfig(name="a", type="openai", base_url="http://a", models=["x"]),
        "b": ProviderConfig(name="b", type="openai", base_url="http://b", models=["y"]),
    })
    assert decide(req(model="y"), {}, config, count_tokens=no_count).provider == "b"
    assert decide(req(model="z"), {}, config, count_tokens=no_count).provider == "a"


def test_raw_request_size_bounds_tokens_without_reserialising() -> None:
    body = req()
    assert decide(body, {}, threshold_config(60_000), count_tokens=no_count, body_bytes=10_000_000).route == "long_context"
    assert decide(body, {}, threshold_config(60_000), count_tokens=no_count, body_bytes=2_000).route == "default"


@pytest.mark.parametrize("system", [
    "You help. <CCR-SUBAGENT-MODEL>openrouter,qwen",  # an opening tag without its end
    [{"type": "text", "text": "You help.\n<CCR-SUBAGENT-MODEL>openrouter,qwen\n"}],
])
def test_unclosed_tag_is_left_alone(system) -> None:  # type: ignore[no-untyped-def]
    body = {"model": "m", "system": system, "messages": []}
    assert strip_subagent_tag(body) == (body, None)


# -- claude's /model picker aliases (ccm_tui.model_ids) ---------------------------------------
def test_picker_alias_routes_as_an_override() -> None:
    decision = decide(req(model="claude-ccm/gemini,gemini-2.5-pro"), {}, make_config(), count_tokens=no_count)
    assert (decision.route, decision.provider, decision.model) == ("override", "gemini", "gemini-2.5-pro")


def test_picker_alias_of_the_route_target_keeps_the_route() -> None:
    # CLAUDE_CODE_SUBAGENT_MODEL names the subagent route's model: the flow stays a "subagent" one.
    body = req(model="claude-ccm/openrouter,m-subagent", system=[billing(True), {"type": "text", "text": "x"}])
    decision = decide(body, {}, make_config(), count_tokens=no_count)
    assert (decision.route, decision.provider, decision.model) == ("subagent", "openrouter", "m-subagent")
    main = decide(req(model="claude-ccm/openrouter,m-subagent"), {}, make_config(), count_tokens=no_count)
    assert main.route == "override"


def test_alias_of_an_unknown_provider_routes_normally() -> None:
    decision = decide(req(model="claude-ccm/nope,x"), {}, make_config(), count_tokens=no_count)
    assert decision.route == "default" and "unknown provider" in decision.reason
