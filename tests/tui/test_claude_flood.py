"""The claude pane under a flood: every byte parsed in order, in bounded slices, with the PTY read
paused while a window's parsing budget is spent (back-pressure), and the last screen right."""

import sys
import time

from textual.app import App, ComposeResult

from ccm_tui.terminal.pty_session import READ_SIZE, PtySession
from ccm_tui.tui.panes import claude as claude_pane
from ccm_tui.tui.panes.claude import ClaudePane

LINES = 12_000  # ~330 KB: many reads, many parsing windows
CHILD = ("import sys\n"
         f"for i in range({LINES}):\n"
         "    sys.stdout.write(f'\\x1b[3{i % 8}mline {i:05d} \\u2500\\u2502 caf\\u00e9 \\u4e2d\\x1b[0m ' + 'x' * (i % 40) + '\\n')\n"
         "sys.stdout.write('END\\n'); sys.stdout.flush()\n"
         "import time; time.sleep(30)\n")


def expected_output() -> bytes:
    text = "".join(f"\x1b[3{i % 8}mline {i:05d} ─│ café 中\x1b[0m " + "x" * (i % 40) + "\n" for i in range(LINES))
    return (text + "END\n").encode().replace(b"\n", b"\r\n")  # the terminal's ONLCR


class FloodApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ClaudePane([sys.executable, "-c", CHILD], {})


async def test_a_flood_is_parsed_whole_in_order_and_in_bounded_slices(monkeypatch):
    fed: list[bytes] = []
    pauses: list[float] = []
    original_feed = claude_pane.Emulator.feed
    original_pause = PtySession.pause_reading

    def feed(self, data: bytes) -> None:
        fed.append(data)
        original_feed(self, data)

    def pause(self) -> None:
        pauses.append(time.monotonic())
        original_pause(self)

    monkeypatch.setattr(claude_pane.Emulator, "feed", feed)
    monkeypatch.setattr(PtySession, "pause_reading", pause)
    monkeypatch.setattr(claude_pane, "PARSE_SHARE", 0.0)  # every read spends the budget: pause after each
    want = expected_output()
    app = FloodApp()
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(ClaudePane)
        deadline = time.monotonic() + 120
        while pane.bytes_received < len(want) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert b"".join(fed) == want  # nothing lost, nothing reordered
        assert max(map(len, fed)) <= READ_SIZE
        assert len(pauses) >= len(fed) // 2  # the read was paused again and again, and resumed each time
        await pilot.pause(0.2)
        screen = pane.emulator.display
        last = max(i for i, line in enumerate(screen) if line.strip())
        assert screen[last].startswith("END")
        assert screen[last - 1].startswith(f"line {LINES - 1:05d} ─│ café 中")
        assert screen[last - 2].startswith(f"line {LINES - 2:05d}")
        rendered = [pane.render_line(y).text for y in range(pane.size.height)]
        assert rendered[last].startswith("END")  # the repaint caught up too
        await pane.terminate()
