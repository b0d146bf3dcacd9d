"""The emulator on canned byte streams, including sequences split at every possible point."""

import pytest

from ccm_tui.terminal.emulator import Emulator


def make(columns=20, lines=4):
    replies: list[bytes] = []
    return Emulator(columns, lines, reply=replies.append), replies


def feed_split(data: bytes, at: int, columns=20, lines=4):
    emu, replies = make(columns, lines)
    emu.feed(data[:at])
    emu.feed(data[at:])
    return emu, replies


# What claude sends at start-up: kitty keyboard query/push, XTMODKEYS, XTVERSION, DA1.
STARTUP = b"\x1b[?1049h\x1b[?u\x1b[>1u\x1b[<u\x1b[>4;2m\x1b[>0q\x1b[cHello\x1bP+q544e\x1b\\!"


@pytest.mark.parametrize("at", range(len(STARTUP) + 1))
def test_unknown_csi_filtered_across_any_split(at):
    emu, replies = feed_split(STARTUP, at)
    assert emu.display[0] == "Hello!".ljust(20)
    run = emu.line_runs(0)[0]
    assert not run.attrs.underscore and not run.attrs.bold  # `CSI > 4;2 m` is not SGR
    assert replies == [b"\x1bP>|ccm-tui(0.1)\x1b\\", b"\x1b[?62;22c"]  # in query order


def test_cursor_position_report():
    emu, replies = make()
    emu.feed(b"\x1b[3;5Hx\x1b[6n")
    assert replies == [b"\x1b[3;6R"]
    assert emu.cursor == (5, 2)


def test_decrqm_for_synchronized_output():
    emu, replies = make()
    emu.feed(b"\x1b[?2026$p\x1b[?2026h\x1b[?2026$p\x1b[?4242$p")
    assert replies == [b"\x1b[?2026;2$y", b"\x1b[?2026;1$y", b"\x1b[?4242;0$y"]
    assert emu.synchronized


def test_alternate_screen_swaps_and_restores():
    emu, _ = make()
    emu.feed(b"main text\x1b[?1049h\x1b[2J\x1b[Halt")
    assert emu.alternate_screen
    assert emu.display[0].rstrip() == "alt"
    emu.feed(b"\x1b[?1049l")
    assert not emu.alternate_screen
    assert emu.display[0].rstrip() == "main text"
    assert emu.cursor == (9, 0)  # restored


def test_alternate_screen_survives_resize():
    emu, _ = make(20, 4)
    emu.feed(b"0123456789abcdefghij\x1b[?1049h")
    emu.resize(10, 2)
    emu.feed(b"\x1b[?1049l")
    assert emu.display == ["0123456789", " " * 10]


def test_sgr_dim_256_truecolor_kept_as_is():
    emu, _ = make()
    emu.feed(b"\x1b[2ma\x1b[22;1;38;5;4mb\x1b[0;48;2;1;2;3mc\x1b[38:2::10:20:30md\x1b[91;4:3me\x1b[4:0mf\x1b[mg")
    cells = [emu.cell(x, 0) for x in range(7)]
    assert cells[0].dim and not cells[0].bold
    assert cells[1].bold and not cells[1].dim and cells[1].fg == 4
    assert cells[2].bg == "#010203" and not cells[2].bold
    assert cells[3].fg == "#0a141e" and cells[3].bg == "#010203"
    assert cells[4].fg == 9 and cells[4].underscore
    assert not cells[5].underscore
    assert cells[6].fg == "default" and cells[6].bg == "default"


def test_wide_chars_take_two_cells_once():
    emu, _ = make(10, 2)
    emu.feed("a中b".encode())
    assert emu.display[0] == "a中b      "
    runs = emu.line_runs(0, split_at=3)
    assert [(r.x, r.text) for r in runs] == [(0, "a中"), (3, "b      ")]


def test_utf8_split_mid_character():
    data = "é中".encode()
    emu, _ = feed_split(data, 1)
    assert emu.display[0].startswith("é中")


def test_modes_and_dirty_lines():
    emu, _ = make()
    assert emu.take_dirty() == {0, 1, 2, 3}
    assert emu.take_dirty() == set()
    emu.feed(b"\x1b[?1h\x1b[?2004h\x1b[?1002h\x1b[?1006h\x1b[?1004h\x1b[3;1Hx\x1b[?25l")
    assert emu.application_cursor and emu.bracketed_paste and emu.focus_events and emu.mouse_sgr
    assert emu.mouse_tracking == 1002
    assert not emu.cursor_visible
    assert emu.take_dirty() == {2}
    emu.feed(b"\x1b[?1l\x1b[?2004l\x1b[?1002l\x1b[?25h")
    assert not emu.application_cursor and not emu.bracketed_paste and emu.mouse_tracking == 0
    assert emu.cursor_visible


def test_osc_title_and_hyperlink_are_not_text():
    emu, _ = feed_split(b"\x1b]0;my title\x07\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", 12)
    assert emu.title == "my title"
    assert emu.display[0].rstrip() == "link"


def test_resize_clamps_cursor():
    emu, _ = make(20, 4)
    emu.feed(b"\x1b[4;20H")
    emu.resize(10, 2)
    assert (emu.columns, emu.lines) == (10, 2)
    x, y = emu.cursor
    assert x <= 9 and y <= 1


@pytest.mark.parametrize("autowrap", [True, False])
def test_ascii_fast_path_matches_pyte(autowrap):
    import pyte

    data = ("" if autowrap else "\x1b[?7l") + "\x1b[31mabcdefghij" * 5 + "\x1b[0m tail\r\nxy\x1b[2;9Hzzzz"
    emu, _ = make(12, 4)
    emu.feed(data.encode())
    ref = pyte.Screen(12, 4)
    pyte.Stream(ref).feed(data)
    assert emu.display == ref.display
    assert emu.cursor == (min(ref.cursor.x, 11), ref.cursor.y)
