"""A past session from the history, opened read-only in the dashboard (``ccm-tui history --session ID --open``).

The same panes and inspector show the recorded flows; no claude runs. The proxy still serves, so any
past request can be replayed on any configured model (the replay is a new, live flow).
"""

from __future__ import annotations

from ..flow import Flow
from ..proxy.server import ProxyServer
from .app import CcmApp


def past_session_app(server: ProxyServer, flows: list[Flow], session: str) -> CcmApp:
    app = CcmApp(server)
    app.past_session = session
    app.store.ingest(flows)
    return app
