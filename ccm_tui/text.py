"""Text from the network made safe for a terminal line."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_control(text: str) -> str:
    """Control characters (ESC, CR, LF, C1 …) as visible ``\\xNN`` escapes: no terminal sequence and no
    forged line can pass through a model name or an id a client sent."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
