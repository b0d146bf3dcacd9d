"""Smoke test for bench/pane_latency.py with the fake claude: both modes start, type and report (no timing
asserts). Needs tmux, which CI does not install: skipped there."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_pane_bench_reports_both_modes(tmp_path: Path) -> None:
    out = tmp_path / "pane.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "pane_latency.py"), "--fake", "--starts", "1",
                           "--keys", "3", "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    for mode in ("direct", "ccm"):
        assert result[mode]["start_to_prompt"]["n"] == 1 and result[mode]["start_to_prompt"]["p50_ms"] > 0
        assert result[mode]["typing"]["n"] == 3 and result[mode]["typing"]["p50_ms"] > 0
