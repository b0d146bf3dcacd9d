"""What ccm-tui tells the claude it starts, computed from the config at launch (pure functions).

Facts from the Claude Code binaries (2.1.197 and 2.1.33x; docs/claude-integration.md): the
``--settings <file-or-json>`` flag layers settings without touching the user's files;
``CLAUDE_CODE_AUTO_COMPACT_WINDOW`` sets the auto-compact window (at least 100k; claude takes the
smaller of it and the model's own window); below 100k ``CLAUDE_AUTOCOMPACT_PCT_OVERRIDE`` lowers the
threshold as a share of that 100k minus claude's output reserve; ``CLAUDE_CODE_SUBAGENT_MODEL``
names the model subagents send; ``CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY`` makes ``/model``
list what ``GET /v1/models`` answers.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .config import Config, parse_target
from .limits import limits_for
from .model_ids import alias

COMPACT_WINDOW_MIN = 100_000  # claude reads a smaller CLAUDE_CODE_AUTO_COMPACT_WINDOW as this
COMPACT_WINDOW_MAX = 1_000_000
CLAUDE_OUTPUT_RESERVE = 20_000  # claude keeps min(model output cap, 20k) free below the window
CLAUDE_COMPACT_BUFFER = 13_000  # and compacts this far below what is left
_CONTINUE_FLAGS = ("--continue", "-c", "--resume", "-r")


def default_target(config: Config) -> tuple[str, str] | None:
    """The model a main conversation turn goes to: the session pin, else the default route."""
    value = config.pinned or config.router.routes.get("default")
    if not value or config.embedded_default:
        return None
    try:
        return parse_target(value)
    except ValueError:
        return None


def routed_window(config: Config) -> int | None:
    target = default_target(config)
    return limits_for(config, *target).context_window if target else None


def compact_env(config: Config) -> dict[str, str]:
    """Auto-compaction at the window of the model the default route really uses."""
    window = routed_window(config) if config.claude.compact_window else None
    if not window:
        return {}
    window = min(window, COMPACT_WINDOW_MAX)
    if window >= COMPACT_WINDOW_MIN:
        return {"CLAUDE_CODE_AUTO_COMPACT_WINDOW": str(window)}
    # Below claude's minimum: aim at the margins claude itself keeps, scaled down for tiny windows.
    threshold = window - min(CLAUDE_OUTPUT_RESERVE + CLAUDE_COMPACT_BUFFER, window // 3)
    percent = 100 * threshold / (COMPACT_WINDOW_MIN - CLAUDE_OUTPUT_RESERVE)
    return {"CLAUDE_CODE_AUTO_COMPACT_WINDOW": str(COMPACT_WINDOW_MIN),
            "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE": f"{max(percent, 1.0):.1f}"}


def model_env(config: Config) -> dict[str, str]:
    """``/model`` lists the configured models; subagents name the subagent route's model."""
    env: dict[str, str] = {}
    if config.claude.model_discovery and config.all_models():
        env["CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY"] = "1"
    subagent = config.router.routes.get("subagent")
    if subagent and not config.embedded_default:
        try:
            env["CLAUDE_CODE_SUBAGENT_MODEL"] = alias(*parse_target(subagent))
        except ValueError:
            pass
    return env


def launch_env(config: Config, inherited: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables above; one the user already set in ccm-tui's environment is theirs and stays."""
    inherited = os.environ if inherited is None else inherited
    return {k: v for k, v in {**compact_env(config), **model_env(config)}.items() if k not in inherited}


TOLD_VARS = ("CLAUDE_CODE_AUTO_COMPACT_WINDOW", "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE",
             "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY", "CLAUDE_CODE_SUBAGENT_MODEL")


def relaunch_env(env: Mapping[str, str], config: Config, inherited: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` with what :func:`launch_env` told claude recomputed from ``config`` as it is now."""
    inherited = os.environ if inherited is None else inherited
    kept = {k: v for k, v in env.items() if k not in TOLD_VARS or k in inherited}
    return {**kept, **launch_env(config, inherited)}


def statusline_command(python: str | None = None) -> str:
    return f"{shlex.quote(python or sys.executable)} -m ccm_tui statusline"


def _settings_files(cwd: Path, env: Mapping[str, str]) -> list[Path]:
    home = Path(env.get("CLAUDE_CONFIG_DIR") or Path(env.get("HOME", "~")).expanduser() / ".claude")
    return [home / "settings.json", cwd / ".claude" / "settings.json", cwd / ".claude" / "settings.local.json"]


def user_statusline(cwd: Path, env: Mapping[str, str], claude_args: Sequence[str] = ()) -> bool:
    """Whether the user's own settings (or their own ``--settings``) bring a statusline."""
    if any(arg == "--settings" or arg.startswith("--settings=") for arg in claude_args):
        return True
    for path in _settings_files(cwd, env):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("statusLine"):
            return True
    return False


def launch_args(config: Config, claude_args: Sequence[str], cwd: Path,
                env: Mapping[str, str] | None = None) -> list[str]:
    """claude's arguments: the user's, plus ``--settings`` with ccm's statusline where it applies."""
    mode = config.claude.statusline
    env = os.environ if env is None else env
    if mode == "off" or (mode == "keep" and user_statusline(cwd, env, claude_args)):
        return list(claude_args)
    settings = {"statusLine": {"type": "command", "command": statusline_command(), "padding": 0}}
    return ["--settings", json.dumps(settings), *claude_args]


def with_continue(argv: Sequence[str]) -> list[str]:
    """The command line that restarts claude in the same conversation."""
    if any(arg in _CONTINUE_FLAGS or arg.startswith("--resume=") for arg in argv):
        return list(argv)
    return [*argv, "--continue"]
