"""The emulator's fast paths (drawing runs of one-cell characters, styled runs of a line) against
the straightforward versions they replace: same cells, same cursor, same runs."""

import pyte
from hypothesis import given, settings
from hypothesis import strategies as st

from ccm_tui.terminal.emulator import Attrs, Emulator, Run
from ccm_tui.terminal.screen import Screen

# One-cell characters from the fast path's blocks, wide ones, combining marks, a NBSP, an emoji.
ALPHABET = "ab Z~éßΩж─│╭█░●→∑✓⎿中日界\u0301\u0308\xa0\U0001F600"
PIECES = st.one_of(
    st.text(alphabet=ALPHABET, max_size=40),
    st.sampled_from(["\r\n", "\r", "\n", "\x08", "\x1b[1;31m", "\x1b[0m", "\x1b[38;5;208m", "\x1b[48;2;1;2;3m",
                     "\x1b[3;5H", "\x1b[K", "\x1b[2J", "\x1b[?7l", "\x1b[?7h", "\x1b[4h", "\x1b[4l", "\x1b[5D",
                     "\x1b(0", "\x1b(B", "\x0e", "\x0f"]),
)


class PlainScreen(Screen):
    """Our screen with pyte's own draw: the reference."""

    def draw(self, data: str) -> None:
        pyte.Screen.draw(self, data)


def run_both(pieces: list[str], columns: int, lines: int) -> tuple[Screen, Screen]:
    screens = Screen(columns, lines, lambda _: None), PlainScreen(columns, lines, lambda _: None)
    for screen in screens:
        stream = pyte.Stream(screen)
        for piece in pieces:
            stream.feed(piece)
    return screens


def cells(screen: Screen) -> list[list[tuple]]:
    return [[tuple(screen.buffer[y][x]) for x in range(screen.columns)] for y in range(screen.lines)]


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=25), st.integers(1, 12), st.integers(1, 5))
def test_fast_draw_matches_pyte(pieces, columns, lines):
    fast, plain = run_both(pieces, columns, lines)
    assert cells(fast) == cells(plain)
    assert (fast.cursor.x, fast.cursor.y) == (plain.cursor.x, plain.cursor.y)
    assert fast.dirty >= plain.dirty  # every line pyte would repaint


def test_a_long_mixed_line_wraps_like_pyte():
    text = ("─" * 7 + "abc é●→中 ") * 20
    fast, plain = run_both(["\x1b[1;32m", text, "\x1b[0m end"], 13, 6)
    assert cells(fast) == cells(plain)


def reference_runs(emu: Emulator, y: int, split_at: int | None = None) -> list[Run]:
    """A cell at a time: what ``line_runs`` computes."""
    line = emu._screen.buffer[y]
    runs: list[Run] = []
    start, chars, attrs = 0, [], None
    for x in range(emu.columns):
        cell = line[x]
        if cell.data == "":
            continue
        a = Attrs(*cell[1:])
        if a != attrs or x == split_at:
            if chars:
                runs.append(Run(start, "".join(chars), attrs))
            start, chars, attrs = x, [], a
        chars.append(cell.data)
    if chars:
        runs.append(Run(start, "".join(chars), attrs))
    return runs


@settings(max_examples=200, deadline=None)
@given(st.lists(PIECES, max_size=25), st.integers(1, 12), st.integers(1, 4), st.integers(-1, 13))
def test_line_runs_match_a_cell_at_a_time(pieces, columns, lines, split_at):
    emu = Emulator(columns, lines)
    for piece in pieces:
        emu.feed(piece.encode())
    for y in range(lines):
        assert emu.line_runs(y) == reference_runs(emu, y)
        assert emu.line_runs(y, split_at) == reference_runs(emu, y, split_at)
