"""A small VT emulator interface around pyte, with the gaps that matter for claude filled in.

Feed bytes, read back styled line runs, the cursor and the input-relevant modes. What pyte lacks:
unknown CSI forms (kitty keyboard, XTMODKEYS, XTVERSION) are filtered before pyte sees them, even
when split across reads; device reports are answered through ``reply``; SGR is handled here so dim,
256-colour indices and true colour survive as-is; 1049 swaps to an alternate buffer.
"""

from __future__ import annotations

import codecs
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any, NamedTuple

import pyte
from pyte.charsets import LAT1_MAP
from pyte.modes import DECAWM, IRM
from pyte.screens import StaticDefaultDict

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


class Run(NamedTuple):
    x: int  # first cell
    text: str
    attrs: Attrs


# Private (DEC) mode numbers as the caller sees them.
DECCKM, MOUSE_X10, MOUSE_NORMAL, MOUSE_BUTTON, MOUSE_ANY = 1, 9, 1000, 1002, 1003
FOCUS_EVENTS, MOUSE_SGR, ALT_SCREEN, BRACKETED_PASTE, SYNC_OUTPUT = 1004, 1006, 1049, 2004, 2026
_ALT_MODES = (47, 1047, 1049)

_BLANK = Cell(" ")
_BASIC_FG = {30 + i: i for i in range(8)} | {90 + i: 8 + i for i in range(8)}
_BASIC_BG = {40 + i: i for i in range(8)} | {100 + i: 8 + i for i in range(8)}
_FLAGS = {
    1: ("bold", True), 3: ("italics", True), 4: ("underscore", True), 5: ("blink", True),
    6: ("blink", True), 7: ("reverse", True), 9: ("strikethrough", True), 21: ("underscore", True),
    23: ("italics", False), 24: ("underscore", False), 25: ("blink", False),
    27: ("reverse", False), 29: ("strikethrough", False),
}

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

XTVERSION = "ccm-tui(0.1)"


class _Screen(pyte.Screen):
    """pyte.Screen with Cell attributes, our SGR, an alternate buffer and device replies."""

    def __init__(self, columns: int, lines: int, reply: Callable[[str], None]) -> None:
        self._reply = reply
        self._saved_main: Any = None
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
        if kwargs.get("private") and any(m in _ALT_MODES for m in modes):
            self._enter_alt(1049 in modes)
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        super().reset_mode(*modes, **kwargs)
        if kwargs.get("private") and any(m in _ALT_MODES for m in modes):
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
        # Fast path for printable ASCII (most of claude's output): pyte's draw costs a
        # wcwidth call and a namedtuple _replace per character.
        if not (data.isascii() and data.isprintable()) or self.charset or IRM in self.mode \
                or self.g0_charset is not LAT1_MAP:
            super().draw(data)
            return
        cur, cols, new = self.cursor, self.columns, tuple.__new__
        rest = tuple(cur.attrs)[1:]
        wrap = DECAWM in self.mode
        line = self.buffer[cur.y]
        for ch in data:
            if cur.x >= cols:
                if wrap:
                    self.dirty.add(cur.y)
                    self.carriage_return()
                    self.linefeed()
                    line = self.buffer[cur.y]
                else:
                    cur.x = cols - 1
            line[cur.x] = new(Cell, (ch, *rest))
            cur.x += 1
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


def _colon_sgr(params: str) -> str:
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


class Emulator:
    """Feed bytes from a PTY; read styled lines, cursor and modes. ``reply`` gets bytes for the PTY."""

    def __init__(self, columns: int = 80, lines: int = 24,
                 reply: Callable[[bytes], None] | None = None) -> None:
        self._reply_cb = reply
        self._screen = _Screen(columns, lines, self._reply)
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
            return f"\x1b[{_colon_sgr(m.group(8))}m"
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
        """Runs of equally styled cells in line ``y``; a run also starts at cell ``split_at``."""
        line = self._screen.buffer[y]
        runs: list[Run] = []
        start, chars, attrs = 0, [], None
        for x in range(self.columns):
            cell = line[x]
            if cell.data == "":  # right half of a wide char
                continue
            a = Attrs(*cell[1:])
            if a != attrs or x == split_at:
                if chars:
                    runs.append(Run(start, "".join(chars), attrs))  # type: ignore[arg-type]
                start, chars, attrs = x, [], a
            chars.append(cell.data)
        if chars:
            runs.append(Run(start, "".join(chars), attrs))  # type: ignore[arg-type]
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
        if mode in _ALT_MODES:
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
