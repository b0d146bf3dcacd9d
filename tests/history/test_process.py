"""The history writer process: records made and written by a child of the proxy, on real files and pipes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ccm_tui.config import HistorySettings
from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.history import process
from ccm_tui.history.process import ProcessSink
from ccm_tui.history.sqlite import SQLiteStore
from ccm_tui.history.store import decode_bodies
from ccm_tui.history.writer import HistoryWriter, open_history
from ccm_tui.secrets import Redactor, Secret
from tests.conftest import CANARY_KEY
from tests.history.test_store import make_flow
from tests.reliability.conftest import wait_until

REPO = Path(__file__).resolve().parents[2]


def start(path: Path, redactor: Redactor | None = None) -> tuple[HistoryWriter, EventBus]:
    bus = EventBus()
    writer = open_history(HistorySettings(path=str(path)), bus, redactor or Redactor([Secret(CANARY_KEY)]))
    assert writer is not None and isinstance(writer.sink, ProcessSink)
    return writer, bus


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"


def contents(path: Path) -> list[str]:
    """Each stored record's first message, in order."""
    return [decode_bodies(r.bodies)["request"]["messages"][0]["content"]
            for r in SQLiteStore(path).records(since=0, with_bodies=True)]


def said(i: int) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": f"message {i}"}]}


def test_records_are_written_by_a_child_that_holds_no_keys_and_no_terminal(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SOME_PROVIDER_KEY", CANARY_KEY)
    writer, bus = start(tmp_path / "h.db")
    pid = writer.sink.pid  # type: ignore[attr-defined]
    assert pid != os.getpid()
    child_env = Path(f"/proc/{pid}/environ").read_bytes() + Path(f"/proc/{pid}/cmdline").read_bytes()
    assert CANARY_KEY.encode() not in child_env, "keys reach the child through the pipe, never its environment"
    assert os.getsid(pid) != os.getsid(0), "a session of its own: the terminal's Ctrl-C reaches the parent only"
    leaky = make_flow(body={"model": "m", "messages": [{"role": "user", "content": f"key {CANARY_KEY}"}]})
    leaky.error = f"upstream echoed {CANARY_KEY}"
    bus.publish(FlowEvent.FINISHED, leaky)
    for i in range(300):
        bus.publish(FlowEvent.FINISHED, make_flow(body=said(i)))
    writer.close()
    assert writer.written == 301 and writer.dropped == 0
    assert gone(pid), "closing the pipe ends the child"
    [first, *rest] = SQLiteStore(tmp_path / "h.db").records(since=0, with_bodies=True)
    assert CANARY_KEY not in repr(first) + repr(decode_bodies(first.bodies))
    assert first.error == "upstream echoed ***"
    assert contents(tmp_path / "h.db")[1:] == [f"message {i}" for i in range(300)]


def test_secrets_learned_or_reloaded_later_reach_the_child(tmp_path: Path) -> None:
    redactor = Redactor([Secret(CANARY_KEY)])
    writer, bus = start(tmp_path / "h.db", redactor)
    bus.publish(FlowEvent.FINISHED, make_flow(body=said(0)))
    wait_until(lambda: writer.written == 1, 30)
    redactor.learn("sk-learned-after-start-123")
    redactor.include(["sk-reloaded-after-start-456"])
    bus.publish(FlowEvent.FINISHED, make_flow(body={"model": "m", "messages": [
        {"role": "user", "content": "sk-learned-after-start-123 sk-reloaded-after-start-456"}]}))
    writer.close()
    assert contents(tmp_path / "h.db")[1] == "*** ***"


def test_a_batch_larger_than_a_frame_arrives_whole_and_in_order(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(process, "FRAME_BYTES", 2000)  # a few flows per frame
    writer, bus = start(tmp_path / "h.db")
    for i in range(200):
        bus.publish(FlowEvent.FINISHED, make_flow(body=said(i)))
    writer.close()
    assert writer.written == 200 and contents(tmp_path / "h.db") == [f"message {i}" for i in range(200)]


def test_a_flow_that_cannot_cross_the_pipe_is_counted_and_the_batch_still_goes(tmp_path: Path, caplog) -> None:
    writer, bus = start(tmp_path / "h.db")
    odd = make_flow(body=said(1))
    odd.request_body = {"model": "m", "messages": [], "weird": object()}  # not JSON data: a bug elsewhere
    for flow in (make_flow(body=said(0)), odd, make_flow(body=said(2))):
        bus.publish(FlowEvent.FINISHED, flow)
    writer.close()
    assert writer.written == 2 and writer.dropped == 1
    assert contents(tmp_path / "h.db") == ["message 0", "message 2"]
    assert "cannot be recorded" in caplog.text


def test_when_the_child_dies_the_rest_is_written_here_and_nothing_is_miscounted(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO)
    writer, bus = start(tmp_path / "h.db")
    for i in range(100):
        bus.publish(FlowEvent.FINISHED, make_flow(body=said(i)))
    wait_until(lambda: writer.written == 100, 30)
    os.kill(writer.sink.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    time.sleep(0.2)
    for i in range(100, 200):
        bus.publish(FlowEvent.FINISHED, make_flow(body=said(i)))
        time.sleep(0.002)
    wait_until(lambda: writer.written + writer.dropped == 200, 30)
    writer.close()
    assert writer.written + writer.dropped == 200
    assert writer.written >= 150, "after the first failed send, flows are written on a thread"
    stored = contents(tmp_path / "h.db")
    assert len(stored) == writer.written and stored[:100] == [f"message {i}" for i in range(100)]
    assert "the writer process ended" in caplog.text


def test_a_parent_killed_outright_loses_nothing_it_had_sent(tmp_path: Path) -> None:
    """SIGKILL gives the proxy no chance to close: the child still writes what is in the pipe, then exits."""
    path = tmp_path / "h.db"
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        sys.path.insert(0, {str(REPO)!r})
        from tests.history.test_store import make_flow
        from ccm_tui.config import HistorySettings
        from ccm_tui.events import EventBus, FlowEvent
        from ccm_tui.history.writer import open_history
        from ccm_tui.secrets import Redactor
        bus = EventBus()
        writer = open_history(HistorySettings(path={str(path)!r}), bus, Redactor())
        print(writer.sink.pid, flush=True)
        for i in range(500):
            bus.publish(FlowEvent.FINISHED, make_flow(body={{"model": "m", "messages": [
                {{"role": "user", "content": f"message {{i}}"}}]}}))
        while writer.pending or writer.sink._sent < 500:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    child = int(proc.stdout.split()[0])
    wait_until(lambda: gone(child), 30)
    assert contents(path) == [f"message {i}" for i in range(500)]


def test_where_no_child_can_start_history_is_written_on_a_thread(tmp_path: Path, monkeypatch, caplog) -> None:
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("no processes left")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    bus = EventBus()
    writer = open_history(HistorySettings(path=str(tmp_path / "h.db")), bus, Redactor())
    assert writer is not None and not isinstance(writer.sink, ProcessSink)
    bus.publish(FlowEvent.FINISHED, make_flow(body=said(0)))
    writer.close()
    assert writer.written == 1 and contents(tmp_path / "h.db") == ["message 0"]
    assert "writing on a thread instead" in caplog.text


@pytest.mark.parametrize("bodies", [True, False])
def test_settings_travel_to_the_child(tmp_path: Path, bodies: bool) -> None:
    bus = EventBus()
    writer = open_history(HistorySettings(path=str(tmp_path / "h.db"), bodies=bodies), bus, Redactor())
    assert writer is not None
    bus.publish(FlowEvent.FINISHED, make_flow(body=said(0)))
    writer.close()
    [record] = SQLiteStore(tmp_path / "h.db").records(since=0, with_bodies=True)
    assert (record.bodies is not None) is bodies
