"""Inline ``<think>…</think>`` reasoning in content (servers without a reasoning parser), split
into (kind, text) pieces; enabled per provider with ``options = { think_tags = true }``."""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


class ThinkTagSplitter:
    """Incremental: tags may be split across chunks; at most one tag's length is held back."""

    __slots__ = ("_thinking", "_held", "_strip")

    def __init__(self) -> None:
        self._thinking = False
        self._held = ""
        self._strip = False  # drop the newline(s) models put after </think>, however they are split

    def feed(self, text: str) -> list[tuple[str, str]]:
        buf, out = self._held + text, []
        self._held = ""
        while buf:
            if self._strip:
                buf = buf.lstrip("\n")
                self._strip = not buf
                if not buf:
                    break
            tag = CLOSE if self._thinking else OPEN
            kind = "thinking" if self._thinking else "text"
            at = buf.find(tag)
            if at >= 0:
                if at:
                    out.append((kind, buf[:at]))
                buf = buf[at + len(tag):]
                self._thinking = not self._thinking
                self._strip = not self._thinking
                continue
            keep = _partial_tag_suffix(buf, tag)
            if len(buf) > keep:
                out.append((kind, buf[: len(buf) - keep]))
            self._held = buf[len(buf) - keep:]
            break
        return out

    def flush(self) -> list[tuple[str, str]]:
        held, self._held = self._held, ""
        return [("thinking" if self._thinking else "text", held)] if held else []


def _partial_tag_suffix(text: str, tag: str) -> int:
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


def split_think_tags(text: str) -> tuple[str, str]:
    """Whole content → (reasoning, text)."""
    splitter = ThinkTagSplitter()
    pieces = splitter.feed(text) + splitter.flush()
    return ("".join(t for k, t in pieces if k == "thinking"), "".join(t for k, t in pieces if k == "text"))
