"""What the dashboard remembers between runs (XDG state dir, ``ui.json``): claude's pane width
(F7/F8) and the pane that had focus. Unreadable or odd content is ignored: defaults apply."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config import state_dir
from ..secrets import write_private

FOCUSABLE = ("claude", "requests", "providers", "tokens", "routes")


@dataclass
class UiState:
    claude_width: int = 50  # percent of the screen
    focus: str = "claude"


def state_path() -> Path:
    return state_dir() / "ui.json"


def load_ui_state(path: Path | None = None) -> UiState:
    try:
        data = json.loads((path or state_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return UiState()
    if not isinstance(data, dict):
        return UiState()
    width, focus = data.get("claude_width"), data.get("focus")
    return UiState(claude_width=max(25, min(80, width)) if isinstance(width, int) and not isinstance(width, bool)
                   else 50, focus=focus if focus in FOCUSABLE else "claude")


def save_ui_state(state: UiState, path: Path | None = None) -> None:
    try:
        write_private(path or state_path(), json.dumps(asdict(state)))
    except OSError:
        pass  # remembering is a convenience; a read-only state dir must not break quitting
