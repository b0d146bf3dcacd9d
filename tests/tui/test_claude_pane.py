"""ClaudePane under Textual's pilot, with /bin/sh scripts as the child."""

import asyncio
import time

from textual import events
from textual.app import App, ComposeResult

from ccm_tui.tui.panes.claude import ClaudePane


class PaneApp(App[None]):
    def __init__(self, script: str) -> None:
        super().__init__()
        self.script = script
        self.exits: list[int] = []

    def compose(self) -> ComposeResult:
        yield ClaudePane(["/bin/sh", "-c", self.script], {"CCM_TEST": "1"})

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
