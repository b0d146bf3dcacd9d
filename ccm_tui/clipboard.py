"""Where a copied text really went: a clipboard tool that said yes, or OSC 52 and whether it can arrive.

OSC 52 (the terminal escape Textual's ``copy_to_clipboard`` sends) gets no answer, and tmux drops it
from applications unless ``set-clipboard`` is ``on`` (its default is ``external``). So a tool on
PATH is tried first, and under tmux the option is read to say honestly whether OSC 52 can work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping

TOOL_TIMEOUT_S = 2.0
#: (command, the variable its clipboard needs or None)
TOOLS: tuple[tuple[tuple[str, ...], str | None], ...] = (
    (("pbcopy",), None),
    (("wl-copy",), "WAYLAND_DISPLAY"),
    (("xclip", "-selection", "clipboard"), "DISPLAY"),
    (("xsel", "--clipboard", "--input"), "DISPLAY"),
)


def copy_with_tool(text: str, env: Mapping[str, str] | None = None) -> str | None:
    """The name of the clipboard tool that took ``text``, or None when none is there or none worked."""
    env = os.environ if env is None else env
    for argv, needs in TOOLS:
        if (needs and not env.get(needs)) or shutil.which(argv[0]) is None:
            continue
        try:
            done = subprocess.run(argv, input=text.encode(), timeout=TOOL_TIMEOUT_S, capture_output=True,
                                  check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return argv[0]
    return None


def osc52_arrives(env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """Whether an OSC 52 copy can reach the clipboard, and why (tmux: its ``set-clipboard``)."""
    env = os.environ if env is None else env
    if not env.get("TMUX"):
        return True, "sent to the terminal's clipboard (OSC 52: works where the terminal allows it)"
    try:
        done = subprocess.run(["tmux", "show-options", "-sv", "set-clipboard"], capture_output=True, text=True,
                              timeout=TOOL_TIMEOUT_S, check=False)
        value = done.stdout.strip() or "external"
    except (OSError, subprocess.SubprocessError):
        value = "unknown"
    if value == "on":
        return True, "sent through tmux to the terminal's clipboard (OSC 52, set-clipboard on)"
    return False, (f"not copied: tmux's set-clipboard is {value!r}, so OSC 52 from programs is dropped "
                   "(tmux set -s set-clipboard on allows it)")
