"""The proxy's address, token and what claude is told about them: cheap to make (no web framework
imported), so ``ccm-tui`` can start claude before the server itself is loaded; claude's first
requests wait in the listen backlog until it serves."""

from __future__ import annotations

import secrets
import socket

from ..config import Config
from ..secrets import PROXY_TOKEN_HEADER, Secret


class Endpoint:
    """A bound, listening socket on the configured (or given) address, and the proxy's token."""

    def __init__(self, config: Config, *, host: str | None = None, port: int | None = None,
                 reuse_port: bool = False) -> None:
        self.host = host or config.server.host
        self.token: Secret = config.server.auth_token or Secret("ccm-" + secrets.token_urlsafe(24))
        self.sock = listen(self.host, config.server.port if port is None else port, reuse_port=reuse_port)
        self.port: int = self.sock.getsockname()[1]

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket whose connections send at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto named: asyncio sets TCP_NODELAY only on accepted sockets whose proto says TCP; the option
    # is also set here, where Linux copies it to accepted sockets (uvloop accepts without Python).
    # With Nagle on, Hypercorn's separate head and body writes wait ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # several processes on one port (serve --workers), each its own accept queue
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except BaseException:
        sock.close()  # port taken or host unknown: the caller reports it, no fd leaks
        raise
    return sock


def child_env(base_url: str, token: Secret, config: Config) -> dict[str, str]:
    """What claude needs to talk to this proxy and nothing else.

    The token goes in ``ANTHROPIC_AUTH_TOKEN``, except when claude keeps its own login (a provider
    with ``auth = "client"``): then in a header of its own, and claude's credentials stay its own.
    """
    return {
        "ANTHROPIC_BASE_URL": base_url,
        **token_env(token, config),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CCM_STATUS_URL": base_url + "/ccm/status",  # `ccm-tui statusline` asks here (same token)
    }


def token_env(token: Secret, config: Config) -> dict[str, str]:
    if config.client_auth_provider() is None:
        return {"ANTHROPIC_AUTH_TOKEN": token.reveal()}
    return {"ANTHROPIC_CUSTOM_HEADERS": f"{PROXY_TOKEN_HEADER}: {token.reveal()}"}
