"""PtySession with real /bin/sh children."""

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest

from ccm_tui.terminal.pty_session import RESET_SIGNALS, PtySession


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


@pytest.fixture(params=["default", "nohup"])
def parent_signals(request) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Run a test as started normally, and again as under ``nohup`` / as a background job:
    SIGHUP and SIGINT ignored in this process (dispositions a child inherits through exec)."""
    if request.param == "default":
        yield request.param
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGHUP, signal.SIGINT)}
    try:
        yield request.param
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


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


async def test_ctrl_c_interrupts_foreground_job(parent_signals):
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


async def test_close_kills_the_process_group(tmp_path, parent_signals):
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


async def test_env_is_the_whole_environment(monkeypatch):
    monkeypatch.setenv("CCM_PARENT_ONLY", "parent")
    session, out = await spawn('echo "F=$FOO P=${CCM_PARENT_ONLY:-none}"', env={"FOO": "bar"})
    await asyncio.wait_for(session.wait(), 5)
    assert "F=bar P=none" in out.text  # nothing of the parent's environment is merged back in
    session, out = await spawn('echo "P=${CCM_PARENT_ONLY:-none}"')
    await asyncio.wait_for(session.wait(), 5)
    assert "P=parent" in out.text  # env=None: the parent's environment


def signal_masks(status: str) -> dict[str, int]:
    """``SigIgn`` and ``SigBlk`` of a /proc/PID/status text, as bit masks."""
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {name: int(fields[name].strip(), 16) for name in ("SigIgn", "SigBlk")}


async def test_child_gets_default_signal_dispositions(parent_signals, tmp_path):
    status = tmp_path / "status"
    session, _ = await spawn(f"cat /proc/self/status > {status}")
    assert await asyncio.wait_for(session.wait(), 5) == 0
    masks = signal_masks(status.read_text())
    for sig in RESET_SIGNALS:
        bit = 1 << (sig - 1)
        assert not masks["SigIgn"] & bit, f"{signal.Signals(sig).name} ignored in the child"
        assert not masks["SigBlk"] & bit, f"{signal.Signals(sig).name} blocked in the child"


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


def test_spawned_before_any_loop_then_started_keeps_its_early_output():
    session = PtySession(["/bin/sh", "-c", "printf 'early-marker\\n'; read line; printf 'got[%s]\\n' \"$line\"; exit 3"])
    session.spawn()  # no event loop yet: the child runs, its output waits in the PTY
    assert session.pid is not None and session.running
    time.sleep(0.2)

    async def attach() -> tuple[int, str]:
        out = Capture()
        session.on_output = out
        await session.start()
        await wait_for(lambda: "early-marker" in out.text)
        session.write(b"hi\r")
        return await asyncio.wait_for(session.wait(), 5), out.text

    code, text = asyncio.run(attach())
    assert code == 3 and "got[hi]" in text


def test_kill_now_ends_a_child_that_was_never_started():
    session = PtySession(["/bin/sh", "-c", "sleep 30 & wait"])
    session.spawn()
    pgid = session.pid
    assert pgid is not None
    t0 = time.monotonic()
    session.kill_now(timeout=3)
    assert session.exit_code == 128 + signal.SIGHUP and time.monotonic() - t0 < 3
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the child's process group outlived kill_now")
