"""PTY session and VT emulator for the embedded claude pane (no Textual imports here)."""

from ccm_tui.terminal.emulator import Emulator
from ccm_tui.terminal.keys import encode_key, encode_mouse, encode_paste
from ccm_tui.terminal.pty_session import PtySession, restore_default_signals

__all__ = ["Emulator", "PtySession", "encode_key", "encode_mouse", "encode_paste",
           "restore_default_signals"]
