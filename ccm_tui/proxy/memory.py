"""Memory freed after a burst of requests goes back to the system, once the proxy is idle again.

The C allocator keeps what a burst freed (256 streams: ~20 MB of buffers and records) for reuse,
scattered among live blocks, so resident memory only grows burst after burst. glibc's
``malloc_trim`` returns those pages; it runs on the loop only when no request is in flight and
some ended since the last trim, a few milliseconds at most. Elsewhere (macOS, musl) it is a no-op.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)
TRIM_EVERY_S = 2.0


def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)  # glibc only


async def trim_when_idle(activity: Callable[[], tuple[int, int]], every_s: float = TRIM_EVERY_S) -> None:
    """Forever: every ``every_s``, trim if ``activity()`` — (requests in flight, requests ended so
    far) — says the proxy is idle and served something since the last trim."""
    trim = _malloc_trim()
    if trim is None:
        return
    trimmed_at = activity()[1]
    while True:
        await asyncio.sleep(every_s)
        in_flight, ended = activity()
        if in_flight or ended == trimmed_at:
            continue
        trimmed_at = ended
        trim(0)
