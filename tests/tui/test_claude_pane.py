"""ClaudePane under Textual's pilot, with /bin/sh scripts as the child."""

import asyncio
import time

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.geometry import Region

from ccm_tui.tui.panes.claude import ClaudePane


class PaneApp(App[None]):
    def __init__(self, script: str, env: dict[str, str] | None = None) -> None:
        super().__init__()
        self.script = script
        self.env = env or {"CCM_TEST": "1"}
        self.exits: list[int] = []

    def compose(self) -> ComposeResult:
        yield ClaudePane(["/bin/sh", "-c", self.script], self.env)

    def on_mount(self) -> None:
        self.query_one(ClaudePane).focus()

    def on_claude_pane_exited(self, message: ClaudePane.Exited) -> None:
        self.exits.append(message.code)


async def wait_for(pilot, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)


def screen_text(pane: ClaudePane) -> str:
    return "\n".join(pane.emulator.display)


def rendered_text(pane: ClaudePane) -> str:
    return "\n".join(pane.render_line(y).text for y in range(pane.size.height))


async def test_output_appears_and_exit_is_reported():
    app = PaneApp("printf '\\033[1;32mmarker-42\\033[0m\\n'; sleep 0.2; exit 5")
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(ClaudePane)
        await wait_for(pilot, lambda: app.exits)
        assert app.exits == [5] and pane.exit_code == 5
        assert "marker-42" in rendered_text(pane)
        strip = pane.render_line(0)
        styled = [seg for seg in strip if "marker" in seg.text]
        assert styled and styled[0].style.bold


async def test_typed_keys_reach_the_child():
    app = PaneApp("stty -echo; printf 'ready\\n'; read line; printf 'got[%s]\\n' \"$line\"; sleep 5")
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(ClaudePane)
        await wait_for(pilot, lambda: "ready" in screen_text(pane))
        await pilot.press("h", "i", "space", "exclamation_mark", "X", "enter")
        await wait_for(pilot, lambda: "got[" in screen_text(pane))
        assert "got[hi !X]" in screen_text(pane)
        await pane.terminate()


async def test_ctrl_c_reaches_the_child_as_etx():
    # raw mode: the child reads the byte itself instead of the line discipline signalling
    app = PaneApp("stty raw -echo; printf 'ready\\r\\n'; b=$(dd bs=1 count=1 2>/dev/null | od -An -tx1);"
                  " printf 'byte[%s]\\r\\n' $b; sleep 5")
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(ClaudePane)
        await wait_for(pilot, lambda: "ready" in screen_text(pane))
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: "byte[" in screen_text(pane))
        assert "byte[03]" in screen_text(pane)
        await pane.terminate()


async def test_escape_and_arrows_are_encoded():
    app = PaneApp("stty raw -echo; printf 'ready\\r\\n'; b=$(dd bs=1 count=4 2>/dev/null | od -An -tx1);"
                  " printf 'bytes[%s]\\r\\n' \"$b\"; sleep 5")
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(ClaudePane)
        await wait_for(pilot, lambda: "ready" in screen_text(pane))
        await pilot.press("escape", "up")
        await wait_for(pilot, lambda: "bytes[" in screen_text(pane))
        assert "bytes[ 1b 1b 5b 41]" in screen_text(pane)
        await pane.terminate()


async def test_resize_propagates_to_the_child():
    app = PaneApp("trap 'stty size' WINCH; stty size; while :; do sleep 0.05; done")
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(ClaudePane)
        await wait_for(pilot, lambda: "12 60" in screen_text(pane))
        await pilot.resize_terminal(80, 20)
        await wait_for(pilot, lambda: "20 80" in screen_text(pane))
        assert (pane.emulator.columns, pane.emulator.lines) == (80, 20)
        await pane.terminate()


async def test_bracketed_paste_when_enabled():
    app = PaneApp("stty raw -echo; printf '\\033[?2004hready\\r\\n'; b=$(dd bs=1 count=14 2>/dev/null | od -An -c);"
                  " printf 'got[%s]\\r\\n' \"$b\"; sleep 5")
    async with app.run_test(size=(80, 12)) as pilot:
        pane = app.query_one(ClaudePane)
        await wait_for(pilot, lambda: "ready" in screen_text(pane))
        assert pane.emulator.bracketed_paste
        app.post_message(events.Paste("ab"))
        await wait_for(pilot, lambda: "got[" in screen_text(pane))
        text = screen_text(pane)
        assert "033   [   2   0   0   ~   a   b 033   [   2   0   1   ~" in text
        await pane.terminate()


async def test_terminate_ends_the_child():
    app = PaneApp("echo up; sleep 30")
    async with app.run_test(size=(40, 8)) as pilot:
        pane = app.query_one(ClaudePane)
        await wait_for(pilot, lambda: "up" in screen_text(pane))
        t0 = time.monotonic()
        code = await asyncio.wait_for(pane.terminate(), 5)
        assert code == 129 and time.monotonic() - t0 < 3
        await wait_for(pilot, lambda: app.exits == [129])


def outer_bytes(pane: ClaudePane, y: int, color_system: str) -> str:
    """What Textual would write for line ``y`` (after the widget's line filters) to a terminal with ``color_system``."""
    from rich.console import Console

    strip = pane.render_lines(Region(0, y, pane.size.width, 1))[0]
    console = Console(color_system=color_system, force_terminal=True, width=pane.size.width)  # type: ignore[arg-type]
    return console._render_buffer(list(strip))


async def test_palette_colours_pass_through_and_default_stays_default():
    # claude's added-diff line in a 256-colour terminal: dark green 22 behind, then default-coloured text
    app = PaneApp("printf '\\033[48;5;22m+ added\\033[0m plain \\033[7minv\\033[0m\\n'; sleep 5")
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(ClaudePane)
        await wait_for(pilot, lambda: "inv" in screen_text(pane))
        await pilot.pause(0.1)
        line = outer_bytes(pane, 0, "256")
        assert "\x1b[48;5;22m+ added" in line, repr(line)
        plain = line[line.index(" plain"):line.index("inv")]
        assert "38;" not in plain and "48;" not in plain, repr(line)  # no explicit theme colours
        assert "\x1b[7minv" in line, repr(line)  # reverse video is left to the outer terminal
        await pane.terminate()


@pytest.mark.parametrize(("term", "colorterm", "want"), [
    ("xterm-256color", None, ("xterm-256color", "")),
    ("xterm-256color", "truecolor", ("xterm-256color", "truecolor")),
    ("xterm", None, ("xterm", "")),
])
async def test_child_is_told_the_outer_colour_depth(monkeypatch, term, colorterm, want):
    monkeypatch.setenv("TERM", term)
    if colorterm is None:
        monkeypatch.delenv("COLORTERM", raising=False)
    else:
        monkeypatch.setenv("COLORTERM", colorterm)
    # what the caller passes is overridden: the pane is the child's terminal
    app = PaneApp("printf 'term[%s] colorterm[%s]\\n' \"$TERM\" \"${COLORTERM:-}\"; sleep 5",
                  {"COLORTERM": "truecolor", "TERM": "vt100"})
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(ClaudePane)
        await wait_for(pilot, lambda: "colorterm[" in screen_text(pane))
        assert f"term[{want[0]}] colorterm[{want[1]}]" in screen_text(pane)
        await pane.terminate()


async def test_real_cursor_follows_the_childs_cursor():
    app = PaneApp("printf 'line one\\n\\033[4;8Hx'; sleep 5")
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(ClaudePane)
        await wait_for(pilot, lambda: pane.emulator.cursor == (8, 3))
        region = pane.content_region
        await wait_for(pilot, lambda: app.cursor_position == (region.x + 8, region.y + 3))
        await pane.terminate()


async def test_pane_attaches_to_a_child_spawned_before_the_app_and_resizes_it():
    from ccm_tui.terminal.pty_session import PtySession

    session = PtySession(["/bin/sh", "-c", "trap 'stty size' WINCH; printf 'early\\n'; stty size; "
                          "while :; do sleep 0.05; done"], columns=20, lines=5)
    session.spawn()

    class EarlyApp(PaneApp):
        def compose(self) -> ComposeResult:
            yield ClaudePane(["/bin/sh"], {}, session=session)

    app = EarlyApp("")
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(ClaudePane)
        assert pane.session is session
        await wait_for(pilot, lambda: "12 60" in screen_text(pane))  # SIGWINCH at the pane's real size
        assert "early" in screen_text(pane) and "5 20" in screen_text(pane)
        await pane.terminate()
    assert not session.running
