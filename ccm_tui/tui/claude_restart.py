"""Starting claude again: in its pane with ``--continue`` (same conversation), telling it the routes as they
are now; and, with ``--no-embed``, on the real terminal.

claude reads its compaction window at start only: a route switch or pin that changes the default
model's window is announced, and this restart brings claude up to date.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from ..claude_launch import relaunch_env, routed_window, with_continue
from ..terminal.pty_session import restore_default_signals

if TYPE_CHECKING:
    from .app import CcmApp


def window_notice(app: CcmApp) -> None:
    """After a route switch or pin: say so when claude compacts at a window the default model no longer has."""
    if app.claude_argv is None or not app.config.claude.compact_window:
        return
    now = routed_window(app.config)
    if now != app.told_window:
        told = f"{app.told_window // 1000}k" if app.told_window else "its built-in window"
        size = f"{now // 1000}k" if now else "an unknown window"
        app.notify(f"claude still compacts at {told}; the default model now has {size}. "
                   "Restart claude (F12 or palette: Restart claude) to tell it; the conversation continues.",
                   severity="warning", timeout=15, markup=False)


async def restart_claude(app: CcmApp) -> None:
    from .panes.claude import ClaudePane
    from .screens.main import EXIT_HINT, ClaudeBox

    boxes = app.screen_stack[0].query(ClaudeBox)
    if app.claude_argv is None or not boxes:
        app.notify("claude is not in a pane here: quit it and start `ccm-tui -- --continue`", markup=False)
        return
    box = boxes.first()
    old = app._claude_pane()
    app.claude_argv = with_continue(app.claude_argv)
    app.claude_env = relaunch_env(app.claude_env, app.config, os.environ)
    app.told_window = routed_window(app.config)
    if old is not None:
        await old.remove()  # its unmount ends the old claude; its exit is not the app's business
    app.claude_exit_code = None
    box.border_subtitle = ""
    pane = ClaudePane(app.claude_argv, app.claude_env, app.claude_cwd, exit_hint=EXIT_HINT)
    await box.mount(pane)
    pane.focus()
    app.update_statusbar()
    app.notify("claude restarted with --continue", markup=False)


async def run_unembedded(app: CcmApp) -> int:
    """--no-embed: claude as a plain child on the real terminal; its exit code (127: it did not start)."""
    assert app.claude_argv is not None
    try:
        proc = await asyncio.create_subprocess_exec(*app.claude_argv, env=app.claude_env, cwd=app.claude_cwd,
                                                    preexec_fn=restore_default_signals)
    except OSError as exc:
        app.notify(f"could not start claude: {exc}", severity="error", markup=False)
        return 127
    return await proc.wait()
