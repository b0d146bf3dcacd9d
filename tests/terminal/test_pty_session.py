"""PtySession with real /bin/sh children."""

import asyncio
import os
import time

import pytest

from ccm_tui.terminal.pty_session import PtySession, child_env


async def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class Capture:
    def __init__(self):
        self.data = b""

    def __call__(self, chunk: bytes):
        self.data += chunk

    @property
    def text(self):
        return self.data.decode(errors="replace")


async def spawn(script, **kw):
    out = Capture()
    session = PtySession(["/bin/sh", "-c", script], on_output=out, **kw)
    await session.start()
    return session, out


async def test_output_and_exit_code():
    exits = []
    session, out = await spawn("printf 'hello-marker\\n'; exit 7", on_exit=exits.append)
    assert await asyncio.wait_for(session.wait(), 5) == 7
    assert "hello-marker" in out.text
    assert exits == [7] and session.exit_code == 7 and not session.running


async def test_input_is_forwarded():
    session, out = await spawn("read line; echo \"got:$line\"")
    session.write(b"abc\r")
    await asyncio.wait_for(session.wait(), 5)
    assert "got:abc" in out.text


async def test_ctrl_c_interrupts_foreground_job():
    # sh waits on sleep; ^C through the line discipline kills sleep (SIGINT to the foreground group)
    session, out = await spawn("trap 'echo trapped; exit 3' INT; echo ready; sleep 30 & wait")
    await wait_for(lambda: "ready" in out.text)
    session.write(b"\x03")
    assert await asyncio.wait_for(session.wait(), 5) == 3
    assert "trapped" in out.text


async def test_resize_seen_by_stty_and_sigwinch():
    session, out = await spawn(
        "trap 'stty size; exit 0' WINCH; stty size; echo ready; while :; do sleep 0.05; done",
        columns=100, lines=30,
    )
    await wait_for(lambda: "ready" in out.text)
    assert "30 100" in out.text
    session.resize(120, 40)
    await asyncio.wait_for(session.wait(), 5)
    assert "40 120" in out.text


async def test_has_controlling_terminal_and_own_session():
    session, out = await spawn("tty </dev/tty && echo ctty-ok; ps -o sid= -p $$; echo pid=$$")
    await asyncio.wait_for(session.wait(), 5)
    assert "ctty-ok" in out.text
    sid = int(out.text.split("ctty-ok")[1].split()[0])
    assert sid == session.pid


async def test_close_kills_the_process_group(tmp_path):
    pidfile = tmp_path / "bg.pid"
    session, out = await spawn(f"sleep 60 & echo $! > {pidfile}; echo started; wait")
    await wait_for(lambda: "started" in out.text and pidfile.exists() and pidfile.read_text().strip())
    bg = int(pidfile.read_text())
    t0 = time.monotonic()
    code = await session.close(timeout=3)
    assert time.monotonic() - t0 < 3
    assert code == 128 + 1  # SIGHUP
    await wait_for(lambda: not _alive(bg))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (reaped later by init) counts as dead
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_close_escalates_to_sigkill():
    session, out = await spawn("trap '' HUP; echo ready; while :; do sleep 0.05; done")
    await wait_for(lambda: "ready" in out.text)
    assert await session.close(timeout=0.5) == 128 + 9


async def test_env_is_fixed_for_claude(monkeypatch):
    monkeypatch.setenv("TMUX", "/tmp/tmux-1/default,1,0")
    monkeypatch.setenv("TERM_PROGRAM", "tmux")
    env = child_env({"FOO": "bar", "TERM": "dumb"})
    assert env["FOO"] == "bar" and env["TERM"] == "xterm-256color" and env["COLORTERM"] == "truecolor"
    assert "TMUX" not in env and "TERM_PROGRAM" not in env
    assert "PATH" in env
    session, out = await spawn('echo "T=$TERM C=$COLORTERM X=${TMUX:-none} F=$FOO"', env={"FOO": "bar"})
    await asyncio.wait_for(session.wait(), 5)
    assert "T=xterm-256color C=truecolor X=none F=bar" in out.text


async def test_write_after_exit_is_ignored():
    session, _ = await spawn("exit 0")
    await asyncio.wait_for(session.wait(), 5)
    session.write(b"late")  # no error


async def test_missing_program_raises():
    with pytest.raises(FileNotFoundError):
        await PtySession(["/nonexistent/claude"]).start()


async def test_write_never_blocks_and_keeps_every_byte_in_order(tmp_path):
    target = tmp_path / "got.bin"
    data = bytes((65 + i % 26) for i in range(200_000))  # far beyond what the PTY buffers
    session, out = await spawn(f"stty raw -echo; echo ready; sleep 0.5; head -c {len(data)} > {target}; echo done")
    await wait_for(lambda: "ready" in out.text)
    started = time.monotonic()
    for i in range(0, len(data), 1000):
        session.write(data[i:i + 1000])
    assert time.monotonic() - started < 0.2, "the loop was not held while the child slept"
    await asyncio.wait_for(session.wait(), 10)
    assert target.read_bytes() == data
