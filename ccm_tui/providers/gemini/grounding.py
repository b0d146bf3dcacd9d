"""Gemini ``google_search`` grounding → Anthropic web search blocks (pure).

Gemini answers with plain text plus ``groundingMetadata``: the search queries, the sources
(``groundingChunks``) and which text segments each source supports (``groundingSupports``).
The Anthropic blocks themselves are built by :mod:`ccm_tui.providers.websearch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..websearch import Span, answer_blocks, citation, source, split_cited


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
            sources.append(source(web["uri"], web.get("title")))
    if not queries and not sources:
        return blocks, 0
    supports = metadata.get("groundingSupports") or []
    out = answer_blocks(blocks, queries[0] if queries else "", sources,
                        lambda text: _spans(text, supports, sources))
    return out, max(1, len(queries))


def cite(text: str, supports: list[Any], sources: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Split ``text`` at the supported segments; each supported piece carries its citations."""
    return split_cited(text, _spans(text, supports, sources))


def _spans(text: str, supports: list[Any], sources: list[dict[str, str]]) -> list[Span]:
    """Segments are located by their text (Gemini's indices are byte offsets whose base varies by
    API version), in order; a segment not found after the previous one is skipped."""
    out: list[Span] = []
    cursor = 0
    for support in supports:
        if not isinstance(support, dict):
            continue
        segment = (support.get("segment") or {}).get("text")
        indices = [i for i in support.get("groundingChunkIndices") or [] if isinstance(i, int)]
        if not isinstance(segment, str) or not segment:
            continue
        citations = [citation(sources[i], segment) for i in dict.fromkeys(indices) if 0 <= i < len(sources)]
        start = text.find(segment, cursor)
        if not citations or start < 0:
            continue
        out.append((start, start + len(segment), citations))
        cursor = start + len(segment)
    return out
