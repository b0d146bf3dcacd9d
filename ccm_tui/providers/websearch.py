"""Anthropic web search answer blocks, for providers that run a search of their own (pure).

Claude Code's WebSearch tool sends a sub-request whose only tool is the server tool
``web_search_*`` and reads back ``server_tool_use`` + ``web_search_tool_result`` (the sources),
then text blocks carrying ``web_search_result_location`` citations. Providers translate their
own search metadata (Gemini grounding, OpenAI/OpenRouter ``url_citation`` annotations) into
sources and cited spans; this module builds the blocks.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

#: Anthropic documents ``cited_text`` as up to 150 characters of the cited content.
CITED_TEXT_MAX = 150

#: (start, end, citations) over the answer text, in code points.
Span = tuple[int, int, list[dict[str, Any]]]

_CLAUDE_CODE_PREFIX = re.compile(r"^\s*Perform a web search for the query:\s*", re.I)


def is_web_search_tool(tool: Any) -> bool:
    return isinstance(tool, dict) and str(tool.get("type") or "").startswith("web_search")


def user_query(body: dict[str, Any]) -> str:
    """The search query of a web search sub-request: the last user turn's text, without the
    ``Perform a web search for the query:`` lead-in Claude Code puts before it."""
    for message in reversed(body.get("messages") or []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            text = content
        else:
            text = "\n".join(b["text"] for b in content or []
                             if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str))
        return _CLAUDE_CODE_PREFIX.sub("", text).strip()
    return ""


def source(url: str, title: Any = None) -> dict[str, str]:
    return {"url": url, "title": str(title or url)}


def citation(src: dict[str, str], cited_text: str) -> dict[str, Any]:
    return {"type": "web_search_result_location", "url": src["url"], "title": src["title"],
            "cited_text": cited_text[:CITED_TEXT_MAX], "encrypted_index": ""}


def search_blocks(query: str, sources: list[dict[str, str]]) -> list[dict[str, Any]]:
    """``server_tool_use`` (the query) and ``web_search_tool_result`` (the sources)."""
    tool_id = "srvtoolu_" + secrets.token_hex(12)
    return [
        {"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {"query": query}},
        {"type": "web_search_tool_result", "tool_use_id": tool_id,
         "content": [{"type": "web_search_result", "url": s["url"], "title": s["title"],
                      "encrypted_content": "", "page_age": None} for s in sources]},
    ]


def split_cited(text: str, spans: Iterable[Span]) -> list[dict[str, Any]]:
    """Cut ``text`` into text blocks; each span becomes a block with its citations. Spans are
    taken in order; one that is empty, out of range or overlaps the previous one is skipped."""
    out: list[dict[str, Any]] = []
    cursor = 0
    for start, end, citations in spans:
        if not citations or start < cursor or end <= start or end > len(text):
            continue
        if start > cursor:
            out.append({"type": "text", "text": text[cursor:start]})
        out.append({"type": "text", "text": text[start:end], "citations": citations})
        cursor = end
    if cursor < len(text):
        out.append({"type": "text", "text": text[cursor:]})
    return out


def answer_blocks(
    blocks: list[dict[str, Any]], query: str, sources: list[dict[str, str]],
    spans: Callable[[str], Iterable[Span]],
) -> list[dict[str, Any]]:
    """Thinking first, then the search blocks, then the text (joined, cut at ``spans(text)``),
    then anything else (tool calls), which is the order Anthropic answers in."""
    thinking = [b for b in blocks if b["type"] in ("thinking", "redacted_thinking")]
    text = "".join(b["text"] for b in blocks if b["type"] == "text")
    others = [b for b in blocks if b["type"] not in ("thinking", "redacted_thinking", "text")]
    return thinking + search_blocks(query, sources) + split_cited(text, spans(text)) + others
