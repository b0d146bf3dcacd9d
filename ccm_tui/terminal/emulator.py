"""A small VT emulator interface around pyte, with the gaps that matter for claude filled in.

Feed bytes, read back styled line runs, the cursor and the input-relevant modes. What pyte lacks:
unknown CSI forms (kitty keyboard, XTMODKEYS, XTVERSION) are filtered before pyte sees them, even
when split across reads; device reports are answered through ``reply``; SGR is handled (screen.py) so dim,
256-colour indices and true colour survive as-is; 1049 swaps to an alternate buffer.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import Callable, Mapping
from itertools import groupby
from operator import itemgetter
from typing import NamedTuple

import pyte

from .screen import (
    ALT_MODES,
    ALT_SCREEN,
    BRACKETED_PASTE,
    DECCKM,
    FOCUS_EVENTS,
    MOUSE_ANY,
    MOUSE_BUTTON,
    MOUSE_NORMAL,
    MOUSE_SGR,
    MOUSE_X10,
    SYNC_OUTPUT,
    Attrs,
    Cell,
    Color,
    Screen,
    colon_sgr,
)

__all__ = ["Attrs", "Cell", "Color", "Emulator", "Run", "outer_color_system", "with_terminal_env"]


class Run(NamedTuple):
    x: int  # first cell
    text: str
    attrs: Attrs


# Sequences handled before pyte. Prefixed CSI (< = >), kitty `CSI ? u`, DECRQM, colon SGR, and
# string sequences (DCS/SOS/PM/APC) that pyte would otherwise print as text.
_SPECIAL = re.compile(
    r"\x1b\[([<=>])([0-9;:]*)([\x20-\x2f]*)([\x40-\x7e])"
    r"|\x1b\[\?([0-9;:]*)u"
    r"|\x1b\[(\??)([0-9;]*)\$p"
    r"|\x1b\[([0-9;]*:[0-9;:]*)m"
    r"|\x1b[P_^X][^\x1b\x07]*(?:\x1b\\|\x07)"
)
# An escape sequence cut off at the end of a read: hold it back until the rest arrives.
_INCOMPLETE_TAIL = re.compile(
    r"\x1b(?:\[[\x30-\x3f]*[\x20-\x2f]*|[\]P_^X][^\x07\x1b]*\x1b?|[\x20-\x2f]*)\Z"
)
_MAX_HELD = 65536
_STYLE = itemgetter(1, 2, 3, 4, 5, 6, 7, 8, 9)  # a cell's Attrs fields
_DATA = itemgetter(0)

XTVERSION = "ccm-tui(0.1)"


def with_terminal_env(env: Mapping[str, str], color_system: str | None) -> dict[str, str]:
    """``env`` with ``TERM``/``COLORTERM`` for a child shown on a terminal with ``color_system`` (Rich's
    names: "truecolor", "256", "standard", "windows", None).

    The child then picks its own palette for that depth, as it would run directly, instead of
    sending true colour that gets rounded down (claude's dark green diff background became black).
    """
    out = {name: value for name, value in env.items() if name != "COLORTERM"}
    out["TERM"] = "xterm-256color" if color_system in ("truecolor", "256") else "xterm"
    if color_system == "truecolor":
        out["COLORTERM"] = "truecolor"
    return out


def outer_color_system(environ: Mapping[str, str] | None = None) -> str | None:
    """The colour depth Textual will render with, known before Textual is imported: Rich's detection
    from ``environ`` (default ``os.environ``), with Textual's ``TEXTUAL_COLOR_SYSTEM`` override."""
    from rich.console import Console

    env = dict(os.environ if environ is None else environ)
    env.pop("NO_COLOR", None)
    system = env.get("TEXTUAL_COLOR_SYSTEM", "auto")
    console = Console(color_system=system, force_terminal=True, file=io.StringIO(), _environ=env)  # type: ignore[arg-type]
    return console.color_system


class Emulator:
    """Feed bytes from a PTY; read styled lines, cursor and modes. ``reply`` gets bytes for the PTY."""

    def __init__(self, columns: int = 80, lines: int = 24,
                 reply: Callable[[bytes], None] | None = None) -> None:
        self._reply_cb = reply
        self._screen = Screen(columns, lines, self._reply)
        self._stream = pyte.Stream(self._screen)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held = ""

    # -- input -----------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        text = self._held + self._decoder.decode(data)
        self._held = ""
        if "\x1b" in text[-_MAX_HELD:]:
            tail = _INCOMPLETE_TAIL.search(text, max(0, len(text) - _MAX_HELD))
            if tail:  # (a runaway string sequence longer than that goes to pyte as it is)
                text, self._held = text[:tail.start()], text[tail.start():]
        pos = 0
        if "\x1b" in text:
            # In order, so replies keep the order of the queries (DA1 is the usual sentinel).
            for m in _SPECIAL.finditer(text):
                if m.start() > pos:
                    self._stream.feed(text[pos:m.start()])
                replacement = self._special(m)
                if replacement:
                    self._stream.feed(replacement)
                pos = m.end()
        if pos < len(text):
            self._stream.feed(text[pos:] if pos else text)

    def _special(self, m: re.Match[str]) -> str:
        prefix = m.group(1)
        if prefix is not None:
            params, final = m.group(2), m.group(4)
            if prefix == ">" and final == "q" and params in ("", "0"):
                self._reply(f"\x1bP>|{XTVERSION}\x1b\\")
            elif prefix == ">" and final == "c" and params in ("", "0"):
                self._reply("\x1b[>1;10;0c")  # DA2
            return ""
        if m.group(6) is not None:  # DECRQM: answer for the modes we track
            private, num = m.group(6), m.group(7) or "0"
            mode = int(num) if num.isdigit() else 0
            if private:
                state = 1 if self._private(mode) else 2
                if mode not in (DECCKM, 7, 25, MOUSE_NORMAL, MOUSE_BUTTON, MOUSE_ANY, FOCUS_EVENTS,
                                MOUSE_SGR, ALT_SCREEN, BRACKETED_PASTE, SYNC_OUTPUT):
                    state = 0
                self._reply(f"\x1b[?{mode};{state}$y")
            else:
                self._reply(f"\x1b[{mode};0$y")
            return ""
        if m.group(8) is not None:
            return f"\x1b[{colon_sgr(m.group(8))}m"
        return ""  # kitty keyboard query/push/pop, DCS/APC/PM/SOS strings

    def _reply(self, text: str) -> None:
        if self._reply_cb is not None:
            self._reply_cb(text.encode())

    # -- screen ----------------------------------------------------------------------------
    @property
    def columns(self) -> int:
        return self._screen.columns

    @property
    def lines(self) -> int:
        return self._screen.lines

    def resize(self, columns: int, lines: int) -> None:
        columns, lines = max(1, columns), max(1, lines)
        if (columns, lines) != (self.columns, self.lines):
            self._screen.resize(lines, columns)
            cur = self._screen.cursor
            cur.x, cur.y = min(cur.x, columns), min(cur.y, lines - 1)
            self._screen.dirty.update(range(lines))

    def take_dirty(self) -> set[int]:
        """Lines changed since the last call (and forget them)."""
        dirty = {y for y in self._screen.dirty if 0 <= y < self.lines}
        self._screen.dirty.clear()
        return dirty

    def line_runs(self, y: int, split_at: int | None = None) -> list[Run]:
        """Runs of equally styled cells in line ``y``; a run also starts at cell ``split_at``.

        A wide character's right half (``data == ""``) adds no text and starts no run.
        """
        line = self._screen.buffer[y]
        runs: list[Run] = []
        x = 0
        for style, group in groupby(map(line.__getitem__, range(self.columns)), _STYLE):
            cells = list(group)
            end = x + len(cells)
            cut = split_at - x if split_at is not None and x < split_at < end and cells[split_at - x][0] else 0
            attrs = Attrs(*style)
            for first, part in ((x, cells[:cut]), (x + cut, cells[cut:])) if cut else ((x, cells),):
                text = "".join(map(_DATA, part))
                if text:
                    skip = next(i for i, cell in enumerate(part) if cell[0])  # right halves left of the first char
                    runs.append(Run(first + skip, text, attrs))
            x = end
        return runs

    def cell(self, x: int, y: int) -> Cell:
        return self._screen.buffer[y][x]  # type: ignore[return-value]

    @property
    def display(self) -> list[str]:
        """Plain text of every line (wide chars once, right halves dropped)."""
        return ["".join(r.text for r in self.line_runs(y)) for y in range(self.lines)]

    @property
    def cursor(self) -> tuple[int, int]:
        c = self._screen.cursor
        return min(c.x, self.columns - 1), c.y

    @property
    def cursor_visible(self) -> bool:
        return not self._screen.cursor.hidden

    @property
    def title(self) -> str:
        return self._screen.title

    # -- modes -----------------------------------------------------------------------------
    def _private(self, mode: int) -> bool:
        if mode in ALT_MODES:
            return self._screen.in_alt
        return (mode << 5) in self._screen.mode

    @property
    def application_cursor(self) -> bool:
        return self._private(DECCKM)

    @property
    def bracketed_paste(self) -> bool:
        return self._private(BRACKETED_PASTE)

    @property
    def mouse_tracking(self) -> int:
        """0 when off, else the most inclusive of 1000/1002/1003 (9 for X10)."""
        for mode in (MOUSE_ANY, MOUSE_BUTTON, MOUSE_NORMAL, MOUSE_X10):
            if self._private(mode):
                return mode
        return 0

    @property
    def mouse_sgr(self) -> bool:
        return self._private(MOUSE_SGR)

    @property
    def focus_events(self) -> bool:
        return self._private(FOCUS_EVENTS)

    @property
    def alternate_screen(self) -> bool:
        return self._screen.in_alt

    @property
    def synchronized(self) -> bool:
        """Synchronized output (DEC 2026) is on: hold repaints until it ends."""
        return self._private(SYNC_OUTPUT)
