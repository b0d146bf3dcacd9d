"""Gemini ``google_search`` grounding → Anthropic web search blocks (pure).

Claude Code's WebSearch tool sends a sub-request whose only tool is the server tool
``web_search_*`` and reads back ``server_tool_use`` + ``web_search_tool_result`` (the sources)
and text blocks (with ``web_search_result_location`` citations). Gemini answers with plain text
plus ``groundingMetadata``: the search queries, the sources (``groundingChunks``) and which
text segments each source supports (``groundingSupports``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any


def grounding_blocks(
    blocks: list[dict[str, Any]], metadata: Mapping[str, Any] | None
) -> tuple[list[dict[str, Any]], int]:
    """Rebuild the content of a grounded answer; returns (blocks, number of searches).

    Without grounding metadata the blocks come back unchanged (the model chose not to search).
    """
    if not isinstance(metadata, Mapping):
        return blocks, 0
    queries = [q for q in metadata.get("webSearchQueries") or [] if isinstance(q, str)]
    sources = []
    for chunk in metadata.get("groundingChunks") or []:
        web = chunk.get("web") if isinstance(chunk, dict) else None
        if isinstance(web, dict) and isinstance(web.get("uri"), str):
            sources.append({"url": web["uri"], "title": str(web.get("title") or web["uri"])})
    if not queries and not sources:
        return blocks, 0

    tool_id = "srvtoolu_" + secrets.token_hex(12)
    search = [
        {"type": "server_tool_use", "id": tool_id, "name": "web_search",
         "input": {"query": queries[0] if queries else ""}},
        {"type": "web_search_tool_result", "tool_use_id": tool_id,
         "content": [{"type": "web_search_result", "url": s["url"], "title": s["title"],
                      "encrypted_content": "", "page_age": None} for s in sources]},
    ]
    thinking = [b for b in blocks if b["type"] in ("thinking", "redacted_thinking")]
    text = "".join(b["text"] for b in blocks if b["type"] == "text")
    others = [b for b in blocks if b["type"] not in ("thinking", "redacted_thinking", "text")]
    cited = cite(text, metadata.get("groundingSupports") or [], sources)
    return thinking + search + cited + others, max(1, len(queries))


def cite(text: str, supports: list[Any], sources: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Split ``text`` at the supported segments; each supported piece carries its citations.

    Segments are located by their text (Gemini's indices are byte offsets whose base varies by
    API version), in order; a segment not found after the previous one is skipped.
    """
    out: list[dict[str, Any]] = []
    cursor = 0
    for support in supports:
        if not isinstance(support, dict):
            continue
        segment = (support.get("segment") or {}).get("text")
        indices = [i for i in support.get("groundingChunkIndices") or [] if isinstance(i, int)]
        citations = [
            {"type": "web_search_result_location", "url": sources[i]["url"], "title": sources[i]["title"],
             "encrypted_index": "", "cited_text": segment}
            for i in dict.fromkeys(indices) if 0 <= i < len(sources)
        ]
        if not isinstance(segment, str) or not segment or not citations:
            continue
        start = text.find(segment, cursor)
        if start < 0:
            continue
        if start > cursor:
            out.append({"type": "text", "text": text[cursor:start]})
        out.append({"type": "text", "text": segment, "citations": citations})
        cursor = start + len(segment)
    if cursor < len(text):
        out.append({"type": "text", "text": text[cursor:]})
    return out
