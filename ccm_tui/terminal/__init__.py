"""PTY session and VT emulator for the embedded claude pane (no Textual imports here)."""

from ccm_tui.terminal.emulator import Emulator, outer_color_system, with_terminal_env
from ccm_tui.terminal.keys import encode_key, encode_mouse, encode_paste
from ccm_tui.terminal.pty_session import PtySession, restore_default_signals

__all__ = ["Emulator", "PtySession", "encode_key", "encode_mouse", "encode_paste",
           "outer_color_system", "restore_default_signals", "with_terminal_env"]
