"""A child process on a pseudo-terminal, driven from an asyncio loop.

The child gets its own session with the PTY as controlling terminal (so ctrl+C, job control and
/dev/tty work). Output is read with ``loop.add_reader`` and handed to ``on_output``; the exit code
is known once the child is reaped and its output drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
from collections.abc import Callable, Mapping

READ_SIZE = 16384  # the most one read hands to ``on_output`` (a parse call's bound in the pane)
MAX_PENDING_INPUT = 1 << 20  # a paste bigger than 1 MiB into a child that does not read is dropped
_ioctl = fcntl.ioctl
_TIOCSCTTY = termios.TIOCSCTTY


#: Dispositions a parent may have set to SIG_IGN (``nohup``, a background job, Python's own SIGPIPE)
#: that survive exec: the child must get ctrl+C, hang-ups and broken pipes like any program.
RESET_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTERM)
_signal, _SIG_DFL, _sigmask, _SIG_SETMASK = signal.signal, signal.SIG_DFL, signal.pthread_sigmask, signal.SIG_SETMASK


def restore_default_signals() -> None:  # runs in the child between fork and exec: no imports here
    """Default dispositions and an empty signal mask, whatever the parent had."""
    for sig in RESET_SIGNALS:
        _signal(sig, _SIG_DFL)
    _sigmask(_SIG_SETMASK, ())


def _start_terminal_child() -> None:  # between fork and exec, like the above
    restore_default_signals()
    _ioctl(0, _TIOCSCTTY, 0)


def set_winsize(fd: int, columns: int, lines: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))


class PtySession:
    """Spawn ``argv`` on a new PTY. Call :meth:`start` from the loop that should do the reading.

    ``env`` is the child's whole environment (``None``: this process's).
    """

    def __init__(
        self,
        argv: list[str],
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        *,
        columns: int = 80,
        lines: int = 24,
        on_output: Callable[[bytes], None] | None = None,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        if not argv:
            raise ValueError("argv is empty")
        self.argv = list(argv)
        self.env = None if env is None else dict(env)
        self.cwd = cwd
        self.columns, self.lines = columns, lines
        self.on_output = on_output
        self.on_exit = on_exit
        self.pid: int | None = None
        self.exit_code: int | None = None
        self._master: int | None = None
        self._pending = bytearray()  # input the PTY could not take yet
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._eof = asyncio.Event()
        self._paused = False
        self._reaper: asyncio.Task[int] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self.exit_code is None

    def spawn(self) -> None:
        """Start the child now, no event loop needed: its output waits in the PTY until :meth:`start`.

        Lets claude load while the caller is still starting up; :meth:`start` spawns it if this was not
        called. A child that is never started must be ended with :meth:`kill_now`.
        """
        if self._proc is not None:
            return
        master, slave = pty.openpty()
        try:
            set_winsize(slave, self.columns, self.lines)
            os.set_blocking(master, False)
            self._proc = subprocess.Popen(
                self.argv,
                stdin=slave, stdout=slave, stderr=slave,
                env=self.env, cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_start_terminal_child,
                close_fds=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.pid = self._proc.pid
        self._master = master

    async def start(self) -> None:
        """Spawn the child (unless :meth:`spawn` did); output flows to ``on_output`` on the running loop."""
        self.spawn()
        assert self._master is not None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._master, self._on_readable)
        self._reaper = self._loop.create_task(self._reap())

    async def _wait_exit(self) -> int:
        assert self._proc is not None and self._loop is not None
        proc = self._proc
        try:
            pidfd = os.pidfd_open(proc.pid)  # Linux: readable once the child exited
        except (AttributeError, OSError):
            return await asyncio.to_thread(proc.wait)
        try:
            exited = asyncio.Event()
            self._loop.add_reader(pidfd, exited.set)
            try:
                await exited.wait()
            finally:
                self._loop.remove_reader(pidfd)
        finally:
            os.close(pidfd)
        return proc.wait()

    def kill_now(self, timeout: float = 3.0) -> None:
        """End a child that :meth:`start` never attached (the app failed before): SIGHUP its group,
        SIGKILL after ``timeout``; blocking."""
        if self._proc is None or self._reaper is not None:
            return
        self._signal_group(signal.SIGHUP)
        self._signal_group(signal.SIGCONT)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self._proc.wait()
        rc = self._proc.returncode
        self.exit_code = 128 - rc if rc < 0 else rc
        if self._master is not None:
            os.close(self._master)
            self._master = None

    def _on_readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, READ_SIZE)
        except OSError as exc:  # EIO: every slave fd is closed
            if exc.errno not in (errno.EAGAIN, errno.EINTR):
                self._stop_reading()
            return
        if not data:
            self._stop_reading()
            return
        if self.on_output is not None:
            self.on_output(data)

    def pause_reading(self) -> None:
        """Stop reading output until :meth:`resume_reading`: the child blocks once the PTY is full."""
        if self._master is not None and self._loop is not None and not self._paused and not self._eof.is_set():
            self._loop.remove_reader(self._master)
            self._paused = True

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            if self._master is not None and self._loop is not None and not self._eof.is_set():
                self._loop.add_reader(self._master, self._on_readable)

    def _stop_reading(self) -> None:
        if self._master is not None and self._loop is not None:
            self._loop.remove_reader(self._master)
        self._eof.set()

    async def _reap(self) -> int:
        rc = await self._wait_exit()
        # Drain what the child wrote before exiting; a grandchild holding the PTY must not block us.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._eof.wait(), 1.0)
        self._stop_reading()
        self.exit_code = 128 - rc if rc < 0 else rc  # killed by signal N -> 128+N, like a shell
        if self._master is not None:
            if self._pending and self._loop is not None:
                self._loop.remove_writer(self._master)
                self._pending.clear()
            os.close(self._master)
            self._master = None
        if self.on_exit is not None:
            self.on_exit(self.exit_code)
        return self.exit_code

    def write(self, data: bytes) -> None:
        """Send input to the child (keys, paste, device replies) without ever blocking the loop.

        What the PTY cannot take now waits in a bounded buffer, flushed when the master is
        writable; past :data:`MAX_PENDING_INPUT` (a child that stopped reading) input is dropped.
        Dropped once the child exited.
        """
        if self._master is None or not data:
            return
        if self._pending:  # keep order behind what is already waiting
            if len(self._pending) + len(data) <= MAX_PENDING_INPUT:
                self._pending += data
            return
        try:
            n = os.write(self._master, data)
        except BlockingIOError:
            n = 0
        except OSError:
            return
        if n < len(data) and self._loop is not None:
            self._pending = bytearray(data[n:MAX_PENDING_INPUT + n])
            self._loop.add_writer(self._master, self._flush_input)

    def _flush_input(self) -> None:
        if self._master is None or self._loop is None:
            self._pending.clear()
            return
        try:
            n = os.write(self._master, self._pending)
        except BlockingIOError:
            return
        except OSError:
            n = len(self._pending)
        del self._pending[:n]
        if not self._pending:
            self._loop.remove_writer(self._master)

    def resize(self, columns: int, lines: int) -> None:
        """Set the terminal size; the kernel sends SIGWINCH to the child's foreground group."""
        columns, lines = max(1, columns), max(1, lines)
        if (columns, lines) == (self.columns, self.lines):
            return
        self.columns, self.lines = columns, lines
        if self._master is not None:
            with contextlib.suppress(OSError):
                set_winsize(self._master, columns, lines)

    async def wait(self) -> int:
        """Wait for the child to exit (and its output to be delivered); returns the exit code."""
        if self._reaper is None:
            raise RuntimeError("not started")
        return await asyncio.shield(self._reaper)

    def _signal_group(self, sig: int) -> None:
        if self.pid is not None and self.exit_code is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)

    async def close(self, timeout: float = 3.0) -> int | None:
        """SIGHUP the child's process group, wait for it (SIGKILL after ``timeout``)."""
        if self._reaper is None:
            self.kill_now(timeout)  # spawned, never started
            return self.exit_code
        if not self._reaper.done():
            self._signal_group(signal.SIGHUP)
            self._signal_group(signal.SIGCONT)
            try:
                await asyncio.wait_for(asyncio.shield(self._reaper), timeout)
            except TimeoutError:
                self._signal_group(signal.SIGKILL)
                await self._reaper
        return self.exit_code
