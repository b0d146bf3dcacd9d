import pytest

from ccm_tui.terminal.keys import encode_key, encode_mouse, encode_paste


@pytest.mark.parametrize(
    ("key", "char", "app", "expected"),
    [
        ("a", "a", False, b"a"),
        ("A", "A", False, b"A"),
        ("exclamation_mark", "!", False, b"!"),
        ("space", " ", False, b" "),
        ("space", None, False, b" "),
        ("ctrl+c", None, False, b"\x03"),  # pilot: no character
        ("ctrl+c", "\x03", False, b"\x03"),  # real terminal
        ("ctrl+a", None, False, b"\x01"),
        ("ctrl+z", None, False, b"\x1a"),
        ("ctrl+d", None, False, b"\x04"),
        ("ctrl+underscore", None, False, b"\x1f"),
        ("ctrl+backslash", None, False, b"\x1c"),
        ("ctrl+space", None, False, b"\x00"),
        ("enter", None, False, b"\r"),
        ("tab", None, False, b"\t"),
        ("shift+tab", None, False, b"\x1b[Z"),
        ("backspace", None, False, b"\x7f"),
        ("escape", None, False, b"\x1b"),
        ("up", None, False, b"\x1b[A"),
        ("down", None, False, b"\x1b[B"),
        ("right", None, False, b"\x1b[C"),
        ("left", None, False, b"\x1b[D"),
        ("up", None, True, b"\x1bOA"),
        ("left", None, True, b"\x1bOD"),
        ("home", None, False, b"\x1b[H"),
        ("end", None, False, b"\x1b[F"),
        ("home", None, True, b"\x1bOH"),
        ("ctrl+up", None, True, b"\x1b[1;5A"),
        ("shift+left", None, False, b"\x1b[1;2D"),
        ("pageup", None, False, b"\x1b[5~"),
        ("pagedown", None, False, b"\x1b[6~"),
        ("delete", None, False, b"\x1b[3~"),
        ("insert", None, False, b"\x1b[2~"),
        ("ctrl+delete", None, False, b"\x1b[3;5~"),
        ("f1", None, False, b"\x1bOP"),
        ("f4", None, False, b"\x1bOS"),
        ("f5", None, False, b"\x1b[15~"),
        ("f12", None, False, b"\x1b[24~"),
        ("shift+f1", None, False, b"\x1b[1;2P"),
        ("alt+x", None, False, b"\x1bx"),
        ("alt+b", None, False, b"\x1bb"),
        ("alt+backspace", None, False, b"\x1b\x7f"),
        ("alt+ctrl+c", None, False, b"\x1b\x03"),
        ("shift+enter", None, False, b"\x1b\r"),
        ("ctrl+shift+f99", None, False, None),
    ],
)
def test_encode_key(key, char, app, expected):
    assert encode_key(key, char, application_cursor=app) == expected


def test_paste_bracketed_and_plain():
    assert encode_paste("a\nb", True) == b"\x1b[200~a\rb\x1b[201~"
    assert encode_paste("a\r\nb", False) == b"a\rb"
    # an embedded end marker cannot close the bracket early
    assert encode_paste("x\x1b[201~y", True) == b"\x1b[200~xy\x1b[201~"


def test_mouse_reports():
    assert encode_mouse(0, 4, 2) == b"\x1b[<0;5;3M"
    assert encode_mouse(0, 4, 2, event="release") == b"\x1b[<0;5;3m"
    assert encode_mouse(64, 0, 0) == b"\x1b[<64;1;1M"
    assert encode_mouse(0, 1, 1, event="motion", ctrl=True) == b"\x1b[<48;2;2M"
    assert encode_mouse(0, 0, 0, sgr=False) == b"\x1b[M !!"
    assert encode_mouse(0, 0, 0, sgr=False, event="release") == b"\x1b[M#!!"
    assert encode_mouse(0, 300, 0, sgr=False) is None
