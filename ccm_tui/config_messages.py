"""How a config problem is told: where it is (``file:line``), the value shown without a secret, and the
nearest known key for a typo."""

from __future__ import annotations

import difflib
import re
from typing import Any

from .secrets import redact_url


def line_of(text: str, path: tuple[str, ...]) -> int | None:
    """Best-effort line number of ``a.b.key`` in the TOML source (for messages only)."""
    if not path:
        return None
    *tables, key = path
    want = ".".join(tables)
    current = ""
    key_re = re.compile(rf"^\s*(\"?){re.escape(key)}\1\s*=")
    header_line = None
    for number, line in enumerate(text.splitlines(), 1):
        header = re.match(r"^\s*\[+\s*([^\]]+?)\s*\]+", line)
        if header:
            current = header.group(1).replace('"', "").replace(" ", "")
            if current == ".".join(path):
                header_line = number
            continue
        if current == want and key_re.match(line):
            return number
    return header_line


def shown(raw: str, resolved: str) -> str:
    """A bad value fit for a message. A resolved ``$VAR`` is never printed (a swapped base_url/api_key
    would print the key), nor a literal that is not a URL; a URL loses its user-info and query values."""
    if raw != resolved:  # it came (at least partly) from the environment
        return f"the value of {raw}"
    if "://" in resolved:
        return repr(redact_url(resolved))
    return "a value that is not shown (it may be a key)"


def did_you_mean(word: str, known: Any) -> str:
    """``; did you mean 'background'?`` when ``word`` looks like a typo of one of ``known``, else ``""``."""
    near = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.75)
    return f"; did you mean {near[0]!r}?" if near else ""


def unknown(key: str, known: Any, listed: str = "") -> str:
    """"unknown key", with the nearest known key when it looks like a typo (``backgrund``)."""
    return f"unknown key{did_you_mean(key, known)}" + (f" ({listed})" if listed else "")
