"""`ccm-tui statusline`: the line's shape, colour, and that its import path stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ccm_tui.commands.statusline import render

REPO = Path(__file__).resolve().parents[2]
SEEN = {"seen": True, "route": "think", "target": "deepseek,deepseek-reasoner", "cost_usd": 0.4213,
        "cache_hit_rate": 0.81, "context_tokens": 23_400, "context_window": 128_000,
        "default_target": "deepseek,deepseek-chat", "default_window": 128_000}


def test_line_after_an_answer() -> None:
    assert render(SEEN, "Opus 5.5", colour=False) == (
        "⇢ think → deepseek,deepseek-reasoner · $0.42 · cache 81% · ctx 23k/128k")


def test_line_before_the_first_answer_and_without_routes() -> None:
    fresh = {"seen": False, "default_target": "deepseek,deepseek-chat", "default_window": 128_000, "pinned": None}
    assert render(fresh, None, colour=False) == "⇢ default → deepseek,deepseek-chat · ctx –/128k"
    pinned = {**fresh, "pinned": "deepseek,deepseek-chat"}
    assert render(pinned, None, colour=False).startswith("⇢ pinned → deepseek,deepseek-chat")
    assert render({"seen": False, "default_target": None}, "Opus 5.5", colour=False) == "⇢ ccm · passthrough · Opus 5.5"


def test_colour_marks_a_filling_context() -> None:
    line = render({**SEEN, "context_tokens": 120_000}, None, colour=True)
    assert "\x1b[1;36mdeepseek,deepseek-reasoner\x1b[0m" in line and "\x1b[31mctx 120k/128k\x1b[0m" in line
    assert "\x1b[" not in render(SEEN, None, colour=False)


def test_import_path_stays_light() -> None:
    code = ("import sys, runpy; sys.argv = ['ccm_tui', 'statusline']; sys.stdin = open('/dev/null')\n"
            "try:\n    runpy.run_module('ccm_tui', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "heavy = {'quart', 'hypercorn', 'textual', 'tiktoken', 'httpx', 'tomlkit', 'rich'}\n"
            "print(sorted(m for m, mod in sys.modules.items() if mod is not None and m.split('.')[0] in heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
