"""The pyte screen under :class:`~ccm_tui.terminal.emulator.Emulator`: cells that keep ``dim`` and
colours as sent (palette index or ``#rrggbb``), SGR parsed here, an alternate buffer for 1049,
device attribute replies, and a fast path for printable ASCII.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from typing import Any, NamedTuple

import pyte
from pyte.charsets import LAT1_MAP
from pyte.modes import DECAWM, IRM
from pyte.screens import StaticDefaultDict
from wcwidth import wcwidth

#: Colour values in a cell: "default", a palette index 0-255, or "#rrggbb".
Color = str | int


class Cell(NamedTuple):
    """One screen cell (pyte's Char plus ``dim``); a wide char's right half has ``data == ""``."""

    data: str
    fg: Color = "default"
    bg: Color = "default"
    bold: bool = False
    italics: bool = False
    underscore: bool = False
    strikethrough: bool = False
    reverse: bool = False
    blink: bool = False
    dim: bool = False


class Attrs(NamedTuple):
    """The style part of a cell: hashable, so renderers can cache one style per value."""

    fg: Color
    bg: Color
    bold: bool
    italics: bool
    underscore: bool
    strikethrough: bool
    reverse: bool
    blink: bool
    dim: bool


# Private (DEC) mode numbers as the caller sees them.
DECCKM, MOUSE_X10, MOUSE_NORMAL, MOUSE_BUTTON, MOUSE_ANY = 1, 9, 1000, 1002, 1003
FOCUS_EVENTS, MOUSE_SGR, ALT_SCREEN, BRACKETED_PASTE, SYNC_OUTPUT = 1004, 1006, 1049, 2004, 2026
ALT_MODES = (47, 1047, 1049)

_BLANK = Cell(" ")


def _narrow_class() -> str:
    """A regex class of the characters one cell wide by pyte's own measure (``wcwidth``), from the
    blocks terminal output mostly uses: Latin, Greek, Cyrillic, punctuation, arrows, maths,
    technical symbols, box drawing, blocks, shapes, dingbats."""
    blocks = ((0x20, 0x7E), (0xA0, 0x2FF), (0x370, 0x482), (0x2010, 0x205E), (0x2190, 0x27BF))
    ranges: list[list[int]] = []
    for lo, hi in blocks:
        for code in range(lo, hi + 1):
            ch = chr(code)
            if wcwidth(ch) == 1 and ch.isprintable() and not unicodedata.combining(ch):
                if ranges and ranges[-1][1] == code - 1:
                    ranges[-1][1] = code
                else:
                    ranges.append([code, code])
    return "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)


#: Runs of characters that pyte's own draw must handle (wide, combining, unprintable, or rare).
_NOT_NARROW = re.compile(f"[^{_narrow_class()}]+")
_BASIC_FG = {30 + i: i for i in range(8)} | {90 + i: 8 + i for i in range(8)}
_BASIC_BG = {40 + i: i for i in range(8)} | {100 + i: 8 + i for i in range(8)}
_FLAGS = {
    1: ("bold", True), 3: ("italics", True), 4: ("underscore", True), 5: ("blink", True),
    6: ("blink", True), 7: ("reverse", True), 9: ("strikethrough", True), 21: ("underscore", True),
    23: ("italics", False), 24: ("underscore", False), 25: ("blink", False),
    27: ("reverse", False), 29: ("strikethrough", False),
}


class _Cells(dict[str, Cell]):
    """The cells of one style, made once per character: drawing a run is then a lookup per cell."""

    def __init__(self, style: tuple[Any, ...]) -> None:
        super().__init__()
        self.style = style

    def __missing__(self, ch: str) -> Cell:
        cell = self[ch] = tuple.__new__(Cell, (ch, *self.style))
        return cell


_MAX_STYLES = 64  # styles whose cells are kept (a few thousand characters each at most)


class Screen(pyte.Screen):
    """pyte.Screen with Cell attributes, our SGR, an alternate buffer and device replies."""

    def __init__(self, columns: int, lines: int, reply: Callable[[str], None]) -> None:
        self._reply = reply
        self._saved_main: Any = None
        self._cells: dict[tuple[Any, ...], _Cells] = {}
        super().__init__(columns, lines)

    @property
    def default_char(self) -> Cell:  # type: ignore[override]
        return _BLANK

    def reset(self) -> None:
        super().reset()
        self.cursor.attrs = _BLANK  # type: ignore[assignment]

    def write_process_input(self, data: str) -> None:
        self._reply(data)

    def report_device_attributes(self, mode: int = 0, **kwargs: bool) -> None:
        if mode == 0 and not kwargs.get("private"):
            self._reply("\x1b[?62;22c")  # VT220 with ANSI colour

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private") and any(m in ALT_MODES for m in modes):
            self._enter_alt(1049 in modes)
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        super().reset_mode(*modes, **kwargs)
        if kwargs.get("private") and any(m in ALT_MODES for m in modes):
            self._leave_alt(1049 in modes)

    def _new_buffer(self) -> defaultdict[int, StaticDefaultDict[int, Any]]:
        return defaultdict(lambda: StaticDefaultDict(self.default_char))

    def _enter_alt(self, save_cursor: bool) -> None:
        if self._saved_main is not None:
            return
        if save_cursor:
            self.save_cursor()
        self._saved_main = self.buffer
        self.buffer = self._new_buffer()
        self.dirty.update(range(self.lines))

    def _leave_alt(self, restore_cursor: bool) -> None:
        if self._saved_main is None:
            return
        main, self._saved_main = self._saved_main, None
        for y in [y for y in main if y >= self.lines]:
            del main[y]
        for line in main.values():
            for x in [x for x in line if x >= self.columns]:
                del line[x]
        self.buffer = main
        if restore_cursor:
            self.restore_cursor()
        self.dirty.update(range(self.lines))

    def draw(self, data: str) -> None:
        # Fast path for runs of one-cell characters (most of claude's output, box drawing and
        # punctuation included): pyte's draw costs a wcwidth call and a namedtuple _replace per
        # character. Wide, combining and unprintable characters still go through pyte's.
        if self.charset or IRM in self.mode or self.g0_charset is not LAT1_MAP:
            super().draw(data)
            return
        if data.isascii() and data.isprintable():
            self._draw_narrow(data)
            return
        pos = 0
        for m in _NOT_NARROW.finditer(data):
            if m.start() > pos:
                self._draw_narrow(data[pos:m.start()])
            super().draw(m.group())
            pos = m.end()
        if pos < len(data):
            self._draw_narrow(data[pos:])

    def _draw_narrow(self, text: str) -> None:
        """Draw characters that are each one cell wide, a line's worth of cells at a time."""
        cur, cols = self.cursor, self.columns
        style = tuple(cur.attrs)[1:]
        cells = self._cells.get(style)
        if cells is None:
            if len(self._cells) >= _MAX_STYLES:
                self._cells.clear()
            cells = self._cells[style] = _Cells(style)
        wrap = DECAWM in self.mode
        i, n = 0, len(text)
        while i < n:
            if cur.x >= cols:
                if wrap:
                    self.dirty.add(cur.y)
                    self.carriage_return()
                    self.linefeed()
                else:  # each further character overwrites the last column
                    cur.x, i = cols - 1, n - 1
            k = min(n - i, cols - cur.x)
            x = cur.x
            self.buffer[cur.y].update(zip(range(x, x + k), map(cells.__getitem__, text[i:i + k]), strict=True))
            cur.x = x + k
            i += k
        self.dirty.add(cur.y)

    @property
    def in_alt(self) -> bool:
        return self._saved_main is not None

    def select_graphic_rendition(self, *attrs: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            return
        if not attrs:
            attrs = (0,)
        cur: Cell = self.cursor.attrs  # type: ignore[assignment]
        upd: dict[str, Any] = {}
        params = list(attrs)
        i, n = 0, len(params)
        while i < n:
            a = params[i]
            i += 1
            if a == 0:
                cur, upd = _BLANK, {}
            elif a in _FLAGS:
                name, value = _FLAGS[a]
                upd[name] = value
            elif a == 2:
                upd["dim"] = True
            elif a == 22:
                upd["bold"] = upd["dim"] = False
            elif a in _BASIC_FG:
                upd["fg"] = _BASIC_FG[a]
            elif a in _BASIC_BG:
                upd["bg"] = _BASIC_BG[a]
            elif a == 39:
                upd["fg"] = "default"
            elif a == 49:
                upd["bg"] = "default"
            elif a in (38, 48, 58):
                color: Color | None = None
                if i < n and params[i] == 5 and i + 1 < n:
                    color, i = min(params[i + 1], 255), i + 2
                elif i < n and params[i] == 2 and i + 3 < n:
                    r, g, b = (min(v, 255) for v in params[i + 1:i + 4])
                    color, i = f"#{r:02x}{g:02x}{b:02x}", i + 4
                else:
                    i = n  # malformed: ignore the rest
                if color is not None and a != 58:  # 58 = underline colour: not rendered
                    upd["fg" if a == 38 else "bg"] = color
        if upd:
            cur = cur._replace(**upd)
        self.cursor.attrs = cur  # type: ignore[assignment]


def colon_sgr(params: str) -> str:
    """Rewrite ISO 8613-6 colon sub-parameters (``38:2::r:g:b``, ``4:3``) to what pyte parses."""
    out: list[str] = []
    for part in params.split(";"):
        if ":" not in part:
            out.append(part)
            continue
        sub = part.split(":")
        head = sub[0]
        if head in ("38", "48", "58") and len(sub) > 1:
            if sub[1] == "5" and len(sub) >= 3:
                out.append(f"{head};5;{sub[2] or 0}")
            elif sub[1] == "2":
                rgb = sub[-3:] if len(sub) >= 5 else sub[2:]
                if len(rgb) == 3:
                    out.append(f"{head};2;" + ";".join(v or "0" for v in rgb))
        elif head == "4":
            out.append("24" if sub[1:2] == ["0"] else "4")
        elif head:
            out.append(head)
    return ";".join(out)

