"""PtySession hands output over in bounded reads, and can stop reading (the child then waits)."""

import asyncio
import sys

from ccm_tui.terminal.pty_session import READ_SIZE, PtySession
from tests.terminal.test_pty_session import wait_for

TOTAL = 300_000
# Raw mode: the bytes arrive as written (no \n -> \r\n), then a marker line.
CHILD = ("import sys, termios, tty; tty.setraw(1); "
         f"sys.stdout.buffer.write(bytes(range(32, 127)) * ({TOTAL} // 95) + b'DONE'); sys.stdout.flush()")
EXPECTED = bytes(range(32, 127)) * (TOTAL // 95) + b"DONE"


async def test_reads_are_bounded_and_pausing_holds_the_child_back():
    chunks: list[bytes] = []
    session = PtySession([sys.executable, "-c", CHILD], on_output=chunks.append)
    session.pause_reading()  # before start: nothing to pause yet
    await session.start()
    try:
        await wait_for(lambda: sum(map(len, chunks)) > 0, timeout=30.0)
        session.pause_reading()
        held = sum(map(len, chunks))
        await asyncio.sleep(0.3)
        assert sum(map(len, chunks)) == held  # nothing read while paused: the child blocks on a full PTY
        session.resume_reading()
        session.resume_reading()  # twice is harmless
        await wait_for(lambda: b"".join(chunks).endswith(b"DONE"), timeout=30.0)
        assert b"".join(chunks) == EXPECTED  # nothing lost, in order
        assert max(map(len, chunks)) <= READ_SIZE
    finally:
        await session.close(1.0)
