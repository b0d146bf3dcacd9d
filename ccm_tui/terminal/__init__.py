"""PTY session and VT emulator for the embedded claude pane (no Textual imports here)."""

from ccm_tui.terminal.emulator import Emulator
from ccm_tui.terminal.keys import encode_key, encode_mouse, encode_paste
from ccm_tui.terminal.pty_session import PtySession, child_env

__all__ = ["Emulator", "PtySession", "child_env", "encode_key", "encode_mouse", "encode_paste"]
