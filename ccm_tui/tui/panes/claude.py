"""The claude pane: a child process on a PTY, rendered through the emulator with the Line API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from functools import lru_cache

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.filter import ANSIToTruecolor, LineFilter
from textual.geometry import Offset, Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from ccm_tui.terminal.emulator import Attrs, Color, Emulator, with_terminal_env
from ccm_tui.terminal.keys import encode_key, encode_mouse, encode_paste
from ccm_tui.terminal.pty_session import PtySession

FRAME = 1 / 60  # repaints are coalesced to at most this rate
BUSY_FRAME = 1 / 20  # ... and to this one after a repaint of most of the screen (claude floods or scrolls)
# While claude floods, parsing may take at most this share of each window; then the pane stops
# reading the PTY until the window ends (claude's writes wait: back-pressure, nothing lost). The
# UI and the proxy's thread get the interpreter for the rest.
PARSE_WINDOW = 0.05
PARSE_SHARE = 0.3
SYNC_HOLD_MAX = 0.25  # never hold a repaint longer than this for synchronized output


def _rich_color(c: Color) -> RichColor | None:
    if c == "default":
        return None  # the outer terminal's own default, as claude run directly would get
    if isinstance(c, int):
        return RichColor.from_ansi(c)  # a palette index stays one: the outer terminal maps it
    return RichColor.parse(c)


@lru_cache(maxsize=4096)
def cell_style(attrs: Attrs, cursor: bool = False) -> Style:
    """Rich style for a cell's attributes, passed to the outer terminal as claude sent them
    (Rich only rounds colours down where the outer terminal has fewer)."""
    return Style(color=_rich_color(attrs.fg), bgcolor=_rich_color(attrs.bg), bold=attrs.bold or None,
                 dim=attrs.dim or None, italic=attrs.italics or None, underline=attrs.underscore or None,
                 strike=attrs.strikethrough or None, blink=attrs.blink or None,
                 reverse=(attrs.reverse != cursor) or None)


_PLAIN = Style()


class ClaudePane(Widget, can_focus=True):
    """Runs ``argv`` in a pseudo-terminal and shows it. Starts the child on mount.

    ``env`` is the child's whole environment (:func:`ccm_tui.claude_env.claude_env` builds claude's).
    Keys in ``passthrough_keys`` are not sent to the child: they bubble to the app's bindings.
    Once the child exited, its last screen stays and the bottom line says so (plus ``exit_hint``).
    ``session``: the child already spawned (:meth:`PtySession.spawn`) with ``argv`` and ``env``; the pane
    attaches to it instead of spawning.
    """

    COMPONENT_CLASSES = {"claude-pane--exited"}
    DEFAULT_CSS = """
    ClaudePane {
        width: 1fr;
        height: 1fr;
        background: $background;
        color: $foreground;
    }
    ClaudePane > .claude-pane--exited { background: $warning; color: $text; text-style: bold; }
    """

    class Exited(Message):
        """The child exited with ``code`` (128+N when killed by signal N)."""

        def __init__(self, pane: ClaudePane, code: int) -> None:
            super().__init__()
            self.pane = pane
            self.code = code

        @property
        def control(self) -> ClaudePane:
            return self.pane

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None, *,
                 passthrough_keys: Iterable[str] = (), exit_hint: str = "", session: PtySession | None = None,
                 name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.exit_hint = exit_hint
        self.argv = list(argv)
        self.env = dict(env or {})
        self.cwd = cwd
        self.passthrough_keys = set(passthrough_keys)
        self.exit_code: int | None = None
        self.emulator = Emulator(80, 24, reply=self._write)
        self.session: PtySession | None = session
        self._started = False
        self._strips: dict[int, Strip] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._last_flush = 0.0
        self._frame = FRAME
        self._window_start = 0.0
        self._parse_spent = 0.0
        self._resume_handle: asyncio.TimerHandle | None = None
        self._sync_since: float | None = None
        self._last_cursor: tuple[int, int] = (0, 0)
        self._mouse_buttons: set[int] = set()
        self.bytes_received = 0

    # -- lifecycle ---------------------------------------------------------------------------
    async def on_mount(self) -> None:
        if self.session is None:
            self.call_after_refresh(self._start)  # spawn at the laid-out size
        else:
            await self._start()  # already running: read it now, the first resize sets the size

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        columns, lines = self._target_size()
        self.emulator.resize(columns, lines)
        if self.session is None:
            env = with_terminal_env(self.env, self.app.console.color_system)
            self.session = PtySession(self.argv, env, self.cwd, columns=columns, lines=lines)
        else:  # spawned early (it loaded while the app started): claude redraws at the real size
            self.session.resize(columns, lines)
        self.session.on_output, self.session.on_exit = self._on_output, self._on_exit
        try:
            await self.session.start()
        except OSError as exc:
            self.emulator.feed(f"cannot start {self.argv[0]}: {exc}\r\n".encode())
            self._schedule_flush()
            self._on_exit(127)

    def _target_size(self) -> tuple[int, int]:
        size = self.content_size
        if size.width > 0 and size.height > 0:
            return size.width, size.height
        if self.session is not None:
            return self.session.columns, self.session.lines
        return 80, 24

    async def terminate(self, timeout: float = 3.0) -> int | None:
        """End the child (SIGHUP to its process group, SIGKILL after ``timeout``)."""
        if self.session is None:
            return self.exit_code
        return await self.session.close(timeout)

    async def on_unmount(self) -> None:
        for handle in (self._flush_handle, self._resume_handle):
            if handle is not None:
                handle.cancel()
        if self.session is not None and self.session.running:
            await self.session.close(1.0)

    def _on_exit(self, code: int) -> None:
        self.exit_code = code
        self._flush()
        self.refresh()  # the cursor goes and the exit notice appears
        self.post_message(self.Exited(self, code))

    @property
    def exit_notice(self) -> str | None:
        if self.exit_code is None:
            return None
        return f" claude exited with code {self.exit_code}" + (f" — {self.exit_hint}" if self.exit_hint else "")

    # -- output ------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.session is not None:
            self.session.write(data)

    def _on_output(self, data: bytes) -> None:
        self.bytes_received += len(data)
        start = time.monotonic()
        if start - self._window_start >= PARSE_WINDOW:
            self._window_start, self._parse_spent = start, 0.0
        self.emulator.feed(data)
        self._parse_spent += time.monotonic() - start
        self._schedule_flush()
        if self._parse_spent >= PARSE_WINDOW * PARSE_SHARE and self.session is not None:
            self.session.pause_reading()
            resume_in = max(0.0, self._window_start + PARSE_WINDOW - time.monotonic())
            self._resume_handle = asyncio.get_running_loop().call_later(resume_in, self._resume_reading)

    def _resume_reading(self) -> None:
        self._resume_handle = None
        if self.session is not None:
            self.session.resume_reading()

    def _schedule_flush(self) -> None:
        if self._flush_handle is not None:
            return
        delay = max(0.0, self._last_flush + self._frame - time.monotonic())
        self._flush_handle = asyncio.get_running_loop().call_later(delay, self._flush)

    def _flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        now = time.monotonic()
        if self.emulator.synchronized and self.exit_code is None:
            if self._sync_since is None:
                self._sync_since = now
            if now - self._sync_since < SYNC_HOLD_MAX:
                self._flush_handle = asyncio.get_running_loop().call_later(FRAME, self._flush)
                return
        self._sync_since = None
        self._last_flush = now
        dirty = self.emulator.take_dirty()
        cursor = self.emulator.cursor
        if cursor != self._last_cursor:
            dirty.update((cursor[1], self._last_cursor[1]))
            self._last_cursor = cursor
        self._place_cursor()
        self._repaint(dirty)

    def _repaint(self, lines: set[int]) -> None:
        big = len(lines) > 8
        self._frame = BUSY_FRAME if big else FRAME
        if not lines:
            return
        for y in lines:
            self._strips.pop(y, None)
        width = self.size.width
        if big:
            self.refresh()
        else:
            self.refresh(*(Region(0, y, width, 1) for y in lines))

    # -- rendering ---------------------------------------------------------------------------
    def get_line_filters(self) -> Sequence[LineFilter]:
        # Textual's ANSI-to-truecolor filter would replace palette colours with its theme's idea of
        # them; the outer terminal maps them itself, as it does for claude run directly.
        return [f for f in super().get_line_filters() if not isinstance(f, ANSIToTruecolor)]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        emu = self.emulator
        notice = self.exit_notice
        if notice is not None and y == self.size.height - 1:
            style = self.rich_style + self.get_component_rich_style("claude-pane--exited")
            return Strip([Segment(notice, style)]).adjust_cell_length(width, style)
        if y >= emu.lines:
            return Strip.blank(width, _PLAIN)
        cx, cy = emu.cursor
        show_cursor = y == cy and self.has_focus and emu.cursor_visible and self.exit_code is None
        if not show_cursor:
            strip = self._strips.get(y)
            if strip is None:
                strip = self._build(y, None).adjust_cell_length(width, _PLAIN)
                self._strips[y] = strip
            return strip
        return self._build(y, cx).adjust_cell_length(width, _PLAIN)

    def _build(self, y: int, cursor_x: int | None) -> Strip:
        segments = []
        for run in self.emulator.line_runs(y, split_at=cursor_x):
            if cursor_x is not None and run.x == cursor_x:
                first, rest = run.text[:1], run.text[1:]
                segments.append(Segment(first, cell_style(run.attrs, True)))
                if rest:
                    segments.append(Segment(rest, cell_style(run.attrs)))
            else:
                segments.append(Segment(run.text, cell_style(run.attrs)))
        return Strip(segments)

    def _place_cursor(self) -> None:
        """Put the outer terminal's (hidden) cursor where claude's is: IMEs and screen readers follow it."""
        region = self.content_region
        if self.has_focus and self.exit_code is None and region.width > 0 and region.height > 0:
            cx, cy = self.emulator.cursor
            self.app.cursor_position = Offset(region.x + min(cx, region.width - 1), region.y + min(cy, region.height - 1))

    def on_resize(self, event: events.Resize) -> None:
        columns, lines = self._target_size()
        if (columns, lines) == (self.emulator.columns, self.emulator.lines):
            return
        self.emulator.resize(columns, lines)
        if self.session is not None:
            self.session.resize(columns, lines)
        self._strips.clear()
        self.emulator.take_dirty()
        self._place_cursor()
        self.refresh()

    def watch_has_focus(self, focused: bool) -> None:
        if self.emulator.focus_events:
            self._write(b"\x1b[I" if focused else b"\x1b[O")
        self._place_cursor()
        self._repaint({self.emulator.cursor[1]})

    # -- input -------------------------------------------------------------------------------
    def on_key(self, event: events.Key) -> None:
        if event.key in self.passthrough_keys:
            return
        data = encode_key(event.key, event.character, application_cursor=self.emulator.application_cursor)
        event.stop()
        event.prevent_default()
        if data:
            self._write(data)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self._write(encode_paste(event.text, self.emulator.bracketed_paste))

    def _mouse(self, event: events.MouseEvent, button: int, kind: str) -> bool:
        mode = self.emulator.mouse_tracking
        if not mode:
            return False
        if kind == "motion" and not (mode == 1003 or (mode == 1002 and self._mouse_buttons)):
            return True
        if kind == "release" and mode == 9:
            return True
        data = encode_mouse(button, max(0, event.x), max(0, event.y), event=kind,
                            sgr=self.emulator.mouse_sgr,
                            shift=event.shift, meta=event.meta, ctrl=event.ctrl)
        if data:
            self._write(data)
        return True

    @staticmethod
    def _button(event: events.MouseEvent) -> int:
        return {1: 0, 2: 1, 3: 2}.get(event.button, 3)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self.focus()
        button = self._button(event)
        self._mouse_buttons.add(button)
        if self._mouse(event, button, "press"):
            event.stop()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        button = self._button(event)
        self._mouse_buttons.discard(button)
        if self._mouse(event, button, "release"):
            event.stop()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        held = min(self._mouse_buttons) if self._mouse_buttons else 3
        if self._mouse(event, held, "motion"):
            event.stop()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if self._mouse(event, 64, "press"):
            event.stop()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        if self._mouse(event, 65, "press"):
            event.stop()
