"""The agent tree, and `ccm-tui history` / `ccm-tui usage` against what the panes count for the same traffic."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ccm_tui.config import HistorySettings
from ccm_tui.events import EventBus
from ccm_tui.history.sqlite import SQLiteStore
from ccm_tui.history.writer import open_history
from ccm_tui.sessions import UNKNOWN_SESSION, Sample, build_tree, flow_samples, node_filter
from ccm_tui.stats import FlowStore
from tests.conftest import CANARY_KEY, anthropic_config
from tests.fakes.anthropic_server import Reply
from tests.history.test_store import make_flow
from tests.reliability.conftest import wait_until

REPO = Path(__file__).resolve().parents[2]


def labels(trees) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{'  ' * depth}{node.kind}:{node.id}:{node.requests}" for tree in trees for depth, node in tree.walk()]


def test_tree_nests_subagents_by_parent_and_keeps_sessions_apart() -> None:
    flows = [make_flow("s1"), make_flow("s1", "a1"), make_flow("s1", "a2", parent="a1"),
             make_flow("s1", "a2", parent="a1"), make_flow("s2"), make_flow(None),
             make_flow("s1", "a3", parent="not-seen"), make_flow("s1", "b", parent="c"), make_flow("s1", "c", parent="b")]
    # a child seen before its parent's first request still nests under it
    flows.insert(0, make_flow("s1", "late-child", parent="a1"))
    trees = build_tree(flow_samples(flows))
    assert labels(trees) == [
        "session:s1:0", "  main:main:1",
        "    agent:a1:1", "      agent:late-child:1", "      agent:a2:2",
        "    agent:a3:1", "    agent:b:1", "    agent:c:1",  # an unknown parent or a cycle: under main
        "session:s2:0", "  main:main:1",
        f"session:{UNKNOWN_SESSION}:0", "  main:main:1",
    ]
    whole = trees[0].total()
    assert whole.requests == 8 and whole.input_tokens == 800
    a1 = trees[0].children[0].children[0]
    assert sorted(f.agent_id for f in flows if node_filter(a1)(f)) == ["a1", "a2", "a2", "late-child"]


def test_tree_counts_cache_rate_cost_latency_errors_and_running() -> None:
    flows = [make_flow("s", inp=100, cache_read=300, cache_write=100, cost=0.5),
             make_flow("s", inp=0, cache_read=500, state="failed", status=529),
             make_flow("s", state="streaming")]
    flows[-1].duration_ms = None
    [tree] = build_tree(flow_samples(flows))
    main = tree.children[0]
    assert (main.requests, main.errors, main.running) == (3, 1, 1)
    assert main.cache_read_tokens == 800 and main.input_tokens == 300  # 100 + 100 written + 100 of the third
    assert main.cache_hit_rate == pytest.approx(800 / 1100)
    assert main.cost_usd == pytest.approx(0.52) and main.p50_ms == 12.5
    count = make_flow("s")
    count.kind = "count_tokens"
    assert list(flow_samples([count])) == [], "count_tokens probes are not traffic"


def ccm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ccm_tui", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=REPO)


def test_usage_matches_the_panes_for_the_same_traffic(tmp_path: Path, fake_anthropic, start_proxy) -> None:
    db = tmp_path / "history.sqlite3"
    bus = EventBus()
    panes = FlowStore()
    bus.subscribe(lambda event, flow: panes.ingest([flow]))
    config = anthropic_config(fake_anthropic.base_url)
    server = start_proxy(config, bus)
    writer = open_history(HistorySettings(path=str(db)), bus, server.redactor)
    assert writer is not None
    usages = [{"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 90},
              {"input_tokens": 40, "output_tokens": 8, "cache_creation_input_tokens": 60}]
    fake_anthropic.script = [Reply(usage=u) for u in usages * 3]
    headers = {"x-api-key": server.token.reveal(), "x-claude-code-session-id": "sess-A"}
    body = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        for i in range(6):
            extra = {"x-claude-code-agent-id": "agent-1"} if i % 3 == 0 else {}
            assert client.post("/v1/messages", json={**body, "stream": i % 2 == 0}, headers=extra).status_code == 200
        assert client.post("/v1/messages/count_tokens", json=body).status_code == 200
    wait_until(lambda: writer.written == 7, 30)
    writer.close()
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[providers.a]\ntype = "anthropic"\napi_key = "k"\n[router]\ndefault = "a,m"\n'
                           f'[history]\npath = "{db}"\n')
    env = {**os.environ, "CCM_LOG_FILE": str(tmp_path / "log")}
    out = ccm("usage", "--config", str(config_file), "--by", "session", "--json", env=env)
    assert out.returncode == 0, out.stderr
    [row] = json.loads(out.stdout)["rows"]
    assert row["key"] == "sess-A"
    assert (row["requests"], row["input_tokens"], row["output_tokens"], row["cache_read_tokens"]) == (
        panes.session.requests, panes.session.input_tokens, panes.session.output_tokens,
        panes.session.cache_read_tokens) == (6, 3 * (10 + 40 + 60), 3 * 13, 270)
    assert row["cache_hit_rate"] == pytest.approx(270 / (270 + 330))
    tree = ccm("history", "--config", str(config_file), "--session", "sess-A", env=env)
    assert tree.returncode == 0, tree.stderr
    assert re.search(r"^session sess-A: 6 req, 0 err", tree.stdout, re.M), tree.stdout
    assert re.search(r"^  main thread: 4 req", tree.stdout, re.M) and re.search(r"^    agent agent-1: 2 req",
                                                                              tree.stdout, re.M), tree.stdout
    listing = ccm("history", "--config", str(config_file), "--since", "1h", env=env)
    assert "sess-A" in listing.stdout and "anthropic,claude-sonnet-4-5" in listing.stdout
    assert ccm("usage", "--config", str(config_file), "--since", "yesterday", env=env).returncode == 2


def test_serve_records_history_in_the_state_folder_and_flushes_on_ctrl_c(tmp_path: Path, fake_anthropic) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[providers.anthropic]\ntype = "anthropic"\nbase_url = "{fake_anthropic.base_url}"\n'
                      f'api_key = "$KEY"\n[router]\ndefault = "anthropic,claude-sonnet-4-5"\n')
    env = {**os.environ, "KEY": CANARY_KEY, "XDG_STATE_HOME": str(tmp_path / "state"),
           "CCM_LOG_FILE": str(tmp_path / "log")}
    process = subprocess.Popen([sys.executable, "-m", "ccm_tui", "serve", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        match = re.search(r"ANTHROPIC_BASE_URL=(\S+) ANTHROPIC_AUTH_TOKEN=(\S+)", process.stdout.readline())  # type: ignore[union-attr]
        assert match
        for _ in range(3):
            response = httpx.post(match.group(1) + "/v1/messages", headers={"x-api-key": match.group(2)}, timeout=30,
                                  json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
            assert response.status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    db = tmp_path / "state" / "ccm-tui" / "history.sqlite3"
    records = list(SQLiteStore(db).records(since=0, with_bodies=True))
    assert len(records) == 3 and all(r.session_id is None and r.bodies for r in records)
    assert CANARY_KEY.encode() not in db.read_bytes()
    out = ccm("usage", "--config", str(config), "--by", "model", env=env)
    assert re.search(r"^anthropic,claude-sonnet-4-5\s+3\s+0\s+36\s+21\s", out.stdout, re.M), out.stdout


def test_sample_of_record_matches_sample_of_flow(tmp_path: Path) -> None:
    from ccm_tui.history.store import record_of
    from ccm_tui.secrets import Redactor

    flow = make_flow("s", "a", "p", inp=7, out=3, cache_read=5, cache_write=2, cost=0.25)
    assert Sample.of_record(record_of(flow, "p", Redactor(), bodies=False)) == Sample.of_flow(flow)
