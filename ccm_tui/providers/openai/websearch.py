"""Claude Code's web search sub-request on OpenAI-compatible routes (pure).

The sub-request's only tool is the Anthropic server tool ``web_search_*``, forced by
``tool_choice``. The provider's own search stands in for it, per preset quirk ``web_search``
(overridable in ``[providers.X.options]``):

- ``"plugin"`` (OpenRouter): ``plugins: [{"id": "web", "max_results": N}]``. Chosen over the
  ``:online`` model suffix, which is documented as a shorthand for the same plugin: the plugin
  carries ``max_results`` and leaves the model id alone, so limits, prices and the flow record
  still see the configured model.
- ``"options"`` (OpenAI): ``web_search_options`` (with ``user_location``); only search models take
  it (``search_models``), and they reject sampling parameters, which are dropped.
- ``"none"``: a typed 400 that names the ``[router] web_search`` key.

Both searches always run before the model answers, and both report their sources as
``url_citation`` annotations with character spans over the answer text; those become the
Anthropic blocks built by :mod:`ccm_tui.providers.websearch`. In a stream the annotations come
late (usually with the last content chunks), so the text of a search answer is held until the
end and then sent as whole blocks: memory is bounded by the answer itself (``max_tokens``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import InvalidRequest
from ..websearch import Span, answer_blocks, citation, is_web_search_tool, source, user_query
from .presets import Preset

MODES = ("plugin", "options", "none")
DEFAULT_RESULTS = 5  # OpenRouter's own default
MAX_RESULTS = 10  # OpenRouter accepts 1-10


@dataclass(frozen=True, slots=True)
class SearchPlan:
    mode: str  # "plugin" | "options"
    query: str
    tool: Mapping[str, Any]


def search_tool(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``web_search_*`` tool when this request is a web search: forced by ``tool_choice``, or
    the only kind of tool offered (and not switched off with ``tool_choice: none``)."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    found = next((t for t in tools if is_web_search_tool(t)), None)
    if found is None:
        return None
    choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else {}
    if choice.get("type") == "none":
        return None
    forced = choice.get("type") == "tool" and choice.get("name") == found.get("name")
    return found if forced or all(is_web_search_tool(t) for t in tools) else None


def plan_web_search(body: Mapping[str, Any], preset: Preset, provider: str, model: str) -> SearchPlan | None:
    """None for an ordinary request; raises the typed 400 when this route cannot search."""
    tool = search_tool(body)
    if tool is None:
        return None
    mode = preset.web_search
    if mode not in ("plugin", "options"):
        why = "this provider has no web search" if mode == "none" else f"unknown web_search mode {mode!r}"
    elif mode == "options" and preset.search_models and not re.search(preset.search_models, model):
        why = "this model cannot search (only search models, e.g. gpt-4o-search-preview, take web_search_options)"
    else:
        return SearchPlan(mode, user_query(dict(body)), tool)
    raise InvalidRequest(
        f"web search is unavailable on {provider},{model}: {why}. Set [router] web_search to an anthropic, "
        f"gemini or openrouter model (or a search model), or set [providers.{provider}.options] "
        f"web_search = \"plugin\" or \"options\" if this server can search"
    )


def apply_search(payload: dict[str, Any], plan: SearchPlan, note: Callable[[str], None]) -> None:
    """Add the provider's search switch to a translated payload."""
    tool = plan.tool
    if plan.mode == "plugin":
        uses = tool.get("max_uses")
        results = min(max(uses, 1), MAX_RESULTS) if isinstance(uses, int) else DEFAULT_RESULTS
        payload["plugins"] = [{"id": "web", "max_results": results}]
    else:
        options: dict[str, Any] = {}
        where = tool.get("user_location")
        if isinstance(where, dict):
            approx = {k: where[k] for k in ("country", "city", "region", "timezone") if isinstance(where.get(k), str)}
            if approx:
                options["user_location"] = {"type": "approximate", "approximate": approx}
        payload["web_search_options"] = options
        for key in ("temperature", "top_p"):
            if payload.pop(key, None) is not None:
                note(f"{key} dropped: search models take only the default")
    if tool.get("allowed_domains") or tool.get("blocked_domains"):
        note("web search allowed_domains/blocked_domains not enforced: the provider's search has no such filter")
    note(f"web search via {'web plugin' if plan.mode == 'plugin' else 'web_search_options'}: {plan.query[:80]!r}")


# -- answer --------------------------------------------------------------------------------------
def url_citations(holder: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``url_citation`` payloads of a message or a stream delta."""
    out = []
    for item in holder.get("annotations") or []:
        if isinstance(item, dict) and item.get("type") == "url_citation":
            cited = item.get("url_citation")
            if isinstance(cited, dict) and isinstance(cited.get("url"), str) and cited["url"]:
                out.append(cited)
    return out


def search_blocks_for(blocks: list[dict[str, Any]], query: str, cited: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answer blocks → server_tool_use, web_search_tool_result, cited text (thinking stays first)."""
    sources: dict[str, dict[str, str]] = {}
    for c in cited:
        sources.setdefault(c["url"], source(c["url"], c.get("title")))
    return answer_blocks(blocks, query, list(sources.values()), lambda text: _spans(text, cited, sources))


def _spans(text: str, cited: list[dict[str, Any]], sources: Mapping[str, dict[str, str]]) -> list[Span]:
    """One span per distinct (start, end); its citations in annotation order, one per URL. The
    cited text is the source snippet where the server gives one (OpenRouter ``content``), else the
    annotated span itself. Unusable indices leave the source listed but cite nothing."""
    by_span: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for c in cited:
        start, end = c.get("start_index"), c.get("end_index")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            continue
        snippet = c.get("content") if isinstance(c.get("content"), str) and c["content"].strip() else text[start:end]
        entries = by_span.setdefault((start, end), [])
        if all(e["url"] != c["url"] for e in entries):
            entries.append(citation(sources[c["url"]], snippet.strip()))
    return [(s, e, cites) for (s, e), cites in sorted(by_span.items())]


def search_message(message: dict[str, Any], cited: list[dict[str, Any]], query: str) -> dict[str, Any]:
    """A translated non-stream message → the same message as an Anthropic web search answer."""
    message["content"] = search_blocks_for(message["content"], query, cited)
    message["usage"] = {**message["usage"], "server_tool_use": {"web_search_requests": 1}}
    return message


@dataclass(slots=True)
class SearchStream:
    """What a stream translator holds back for a search answer: the text and the annotations."""

    query: str
    text: list[str] = field(default_factory=list)
    cited: list[dict[str, Any]] = field(default_factory=list)

    def feed(self, delta: Mapping[str, Any]) -> None:
        self.cited.extend(url_citations(delta))

    def blocks(self) -> list[dict[str, Any]]:
        text = "".join(self.text)
        return search_blocks_for([{"type": "text", "text": text}] if text else [], self.query, self.cited)
