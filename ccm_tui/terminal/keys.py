"""Key names (Textual's spelling: "ctrl+c", "shift+tab", "up", "f5", "alt+x") to the bytes an
xterm-256color terminal sends. Pure functions, no Textual import."""

from __future__ import annotations

import unicodedata

ESC = "\x1b"
CSI = "\x1b["

# Keys written as CSI <n> ~ (with modifiers: CSI <n> ; <m> ~).
_TILDE = {
    "insert": 2, "delete": 3, "pageup": 5, "pagedown": 6,
    "f5": 15, "f6": 17, "f7": 18, "f8": 19, "f9": 20, "f10": 21, "f11": 23, "f12": 24,
    "f13": 25, "f14": 26, "f15": 28, "f16": 29, "f17": 31, "f18": 32, "f19": 33, "f20": 34,
}
# Keys written as SS3 <c> / CSI <c> (with modifiers: CSI 1 ; <m> <c>).
_LETTER = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F",
           "f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
_CURSOR = {"up", "down", "right", "left", "home", "end"}
_SIMPLE = {
    "enter": "\r", "return": "\r", "tab": "\t", "escape": ESC, "backspace": "\x7f",
    "space": " ", "shift+tab": CSI + "Z", "shift+enter": ESC + "\r", "ctrl+enter": "\r",
    "ctrl+backspace": "\x08", "alt+backspace": ESC + "\x7f", "shift+space": " ",
    "ctrl+space": "\x00", "ctrl+at": "\x00", "ctrl+left_square_bracket": ESC,
    "ctrl+backslash": "\x1c", "ctrl+right_square_bracket": "\x1d",
    "ctrl+circumflex_accent": "\x1e", "ctrl+underscore": "\x1f", "ctrl+question_mark": "\x7f",
    "ctrl+slash": "\x1f", "ctrl+minus": "\x1f",
}
_NAMED_CHARS = {"slash": "/", "backslash": "\\", "at": "@", "minus": "-", "plus": "+", "underscore": "_"}
_MODIFIERS = ("shift", "alt", "meta", "ctrl")


def _split(key: str) -> tuple[set[str], str]:
    parts = key.split("+")
    # "ctrl++" style names do not occur in Textual ("plus" is used), so a plain split is enough.
    mods = {p for p in parts[:-1] if p in _MODIFIERS}
    return mods, parts[-1]


def _modifier_code(mods: set[str]) -> int:
    return 1 + ("shift" in mods) + 2 * ("alt" in mods or "meta" in mods) + 4 * ("ctrl" in mods)


def _char_for(name: str) -> str | None:
    if len(name) == 1:
        return name
    if name in _NAMED_CHARS:
        return _NAMED_CHARS[name]
    try:
        return unicodedata.lookup(name.replace("_", " ").upper())
    except KeyError:
        return None


def _ctrl_char(ch: str) -> str | None:
    if ch.isascii() and ch.isalpha():
        return chr(ord(ch.lower()) & 0x1F)
    return {"@": "\x00", " ": "\x00", "[": ESC, "\\": "\x1c", "]": "\x1d", "^": "\x1e",
            "_": "\x1f", "/": "\x1f", "?": "\x7f", "2": "\x00", "6": "\x1e"}.get(ch)


def encode_key(key: str, character: str | None = None, *, application_cursor: bool = False) -> bytes | None:
    """Bytes for a key press, or None when the terminal would send nothing for it.

    ``character`` is what the key typed, when known; under Textual's test pilot ctrl+letter has
    none, so control bytes come from the key name. ``application_cursor`` is DECCKM.
    """
    mods, base = _split(key)
    plain = not (mods - {"shift"})
    if character and plain and character.isprintable():
        return character.encode()
    if key in _SIMPLE:
        return _SIMPLE[key].encode()
    if base in _LETTER:
        letter = _LETTER[base]
        if mods:
            return f"{CSI}1;{_modifier_code(mods)}{letter}".encode()
        if base in _CURSOR and not application_cursor:
            return f"{CSI}{letter}".encode()
        return f"{ESC}O{letter}".encode()
    if base in _TILDE:
        n = _TILDE[base]
        return (f"{CSI}{n};{_modifier_code(mods)}~" if mods else f"{CSI}{n}~").encode()
    alt = "alt" in mods or "meta" in mods
    if alt:
        inner = encode_key("+".join([m for m in sorted(mods) if m not in ("alt", "meta")] + [base]),
                           None, application_cursor=application_cursor)
        return ESC.encode() + inner if inner else None
    if base in _SIMPLE:  # e.g. shift+escape
        return _SIMPLE[base].encode()
    ch = _char_for(base)
    if "ctrl" in mods:
        if ch is None:
            return None
        ctrl = _ctrl_char(ch)
        return ctrl.encode() if ctrl else None
    if ch is not None:
        return (ch.upper() if "shift" in mods else ch).encode()
    if character and character.isprintable():
        return character.encode()
    return None


def encode_paste(text: str, bracketed: bool) -> bytes:
    """Paste text as a terminal would send it: newlines as CR, wrapped when mode 2004 is on."""
    body = text.replace("\r\n", "\r").replace("\n", "\r")
    if bracketed:
        body = body.replace(CSI + "201~", "")  # a paste must not end the bracket early
        return f"{CSI}200~{body}{CSI}201~".encode()
    return body.encode()


def encode_mouse(button: int, x: int, y: int, *, event: str = "press", sgr: bool = True,
                 shift: bool = False, meta: bool = False, ctrl: bool = False) -> bytes | None:
    """A mouse report. ``button``: 0 left, 1 middle, 2 right, 3 none, 64/65 wheel up/down;
    ``event``: "press", "release" or "motion"; x, y are 0-based cells."""
    code = button + 4 * shift + 8 * meta + 16 * ctrl + (32 if event == "motion" else 0)
    if sgr:
        final = "m" if event == "release" else "M"
        return f"{CSI}<{code};{x + 1};{y + 1}{final}".encode()
    if event == "release":
        code = 3 + 4 * shift + 8 * meta + 16 * ctrl
    if x > 222 or y > 222:
        return None  # not representable in the legacy encoding
    return CSI.encode() + bytes([77, 32 + code, 33 + x, 33 + y])
