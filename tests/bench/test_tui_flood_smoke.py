"""Smoke test for bench/tui_flood.py --quick: serve and the whole TUI (fake flooding claude) both start,
answer through their proxy and report (no timing asserts). Needs tmux, which CI does not install:
skipped there."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tui_flood_bench_measures_both_modes(tmp_path: Path) -> None:
    out = tmp_path / "flood.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "tui_flood.py"), "--quick", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    for mode in ("serve", "tui"):
        summary = result["summary"][mode]
        assert summary["errors"] == 0
        assert summary["proxy.p50"] > 0 and summary["direct.p50"] > 0
        assert summary["tui_cpu_pct"] > 0, "a flooding TUI ran beside each mode"
    # the ratio is reported; no value is asserted: 30 requests can even add a negative p99
    assert isinstance(result["summary"]["tui"]["ratio_added_p50"], float)
