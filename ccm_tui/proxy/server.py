"""Hypercorn embedding: the proxy on its own thread and loop (TUI), or on the main thread (serve).

The socket is bound first (an :class:`.endpoint.Endpoint`, made here or earlier by the caller), so the port
is known when claude launches;
Hypercorn gets it through ``create_sockets``. Hypercorn logs to a named logger (never stdout/stderr)
and gets a ``shutdown_trigger`` so it leaves signal handling to its host.

Other threads change the proxy's session only through :meth:`ProxyServer.command`, which runs
the command on the proxy's loop; while serving, the config file is watched for edits
(and ``serve`` reloads on SIGHUP).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import os
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from hypercorn.config import Sockets

from ..config import Config
from ..events import EventBus, SessionUpdate
from ..flow import Flow
from ..secrets import Redactor
from ..tokens import warm_up
from .app import create_app
from .connections import AcceptFailureLog, Listener, install_tcp_server, raise_fd_limit
from .endpoint import Endpoint, child_env, listen, token_env
from .memory import trim_when_idle
from .session import RELOAD_POLL_S, Session
from .state import ProxyState, config_secrets

T = TypeVar("T")

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: A connection that sends no request within this long is closed: idle clients hold descriptors.
FIRST_REQUEST_TIMEOUT_S = 5.0
#: Between requests a connection stays longer than any client keeps one (httpx 5 s, Node 4 s): the
#: client closes first, so none reuses a connection the proxy is closing at that very moment.
KEEP_ALIVE_TIMEOUT_S = 75.0




def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run the proxy's own loop: uvloop (a dependency wherever it has wheels; measured ~9 % less CPU
    and ~9 % more requests/s at 16 connections), else asyncio's; ``CCM_LOOP=asyncio`` forces it."""
    gc.freeze()  # what start-up made (modules, config, app) is never scanned by a collection again
    loop_factory = None
    if os.environ.get("CCM_LOOP") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            loop_factory = uvloop.new_event_loop
    # Outside the except block: every traceback logged on this loop would carry the ImportError.
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main)


def _warm_up(models: list[str]) -> None:
    """Load vocabularies in the background; a failure goes to the log (a thread's traceback would
    land on stderr, over the TUI), and the first count raises it again where it can be answered."""
    try:
        warm_up(models)
    except Exception:  # noqa: BLE001
        log.exception("token vocabularies failed to load")


class _PreboundConfig(HypercornConfig):
    """Hypercorn serves on the socket bound at construction."""

    def __init__(self, listener: Listener) -> None:
        super().__init__()
        self._listener = listener

    def create_sockets(self) -> Sockets:
        return Sockets(secure_sockets=[], insecure_sockets=[self._listener], quic_sockets=[])


class ProxyServer:
    def __init__(
        self,
        config: Config,
        bus: EventBus | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        endpoint: Endpoint | None = None,
        preconnect: bool = False,
        reuse_port: bool = False,
    ) -> None:
        """``endpoint``: the socket and token made earlier (``host``/``port`` are then unused).
        ``preconnect``: open a connection to each provider at start (serve, the TUI). ``reuse_port``: other
        processes may listen on the same port (``serve --workers``)."""
        self.preconnect = preconnect
        self.bus = bus or EventBus()
        raise_fd_limit()
        self._endpoint = endpoint or Endpoint(config, host=host, port=port, reuse_port=reuse_port)
        self.host, self.port, self.token = self._endpoint.host, self._endpoint.port, self._endpoint.token
        self._sock = self._endpoint.sock
        try:
            self.redactor = Redactor([self.token, *config_secrets(config)])
            self.state = ProxyState(config, self.bus, self.token, self.redactor)
            self.app = create_app(self.state)
        except BaseException:
            self._sock.close()
            raise
        self.bus.subscribe_session(self._apply_server_settings)
        self.reload_poll_s = RELOAD_POLL_S
        install_tcp_server(FIRST_REQUEST_TIMEOUT_S)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._warmed_up = False

    @property
    def session(self) -> Session:
        return self.state.session

    @property
    def config(self) -> Config:
        """The config snapshot in force now (immutable)."""
        return self.state.config

    def command(self, action: Callable[[Session], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """UI → proxy, the one way in: run ``action(session)`` on the proxy's loop.

        Returns a future with the command's result or exception (``ConfigError``/``OSError``
        for a route switch that changed nothing). Thread-safe; the proxy must be serving.
        """
        if self._loop is None or self._loop.is_closed():
            raise RuntimeError("the proxy is not running")
        return asyncio.run_coroutine_threadsafe(action(self.session), self._loop)

    def _apply_server_settings(self, update: SessionUpdate) -> None:
        self.app.config["MAX_CONTENT_LENGTH"] = update.config.server.max_body_bytes

    def listen_again(self) -> None:
        """In a forked worker: a socket of its own on the same port (``reuse_port``), so the kernel
        spreads new connections evenly over the processes."""
        sock = listen(self.host, self.port, reuse_port=True)
        self._sock.close()
        self._sock = self._endpoint.sock = sock

    @property
    def base_url(self) -> str:
        return self._endpoint.base_url

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK

    def _hypercorn_config(self) -> HypercornConfig:
        hc = _PreboundConfig(Listener.adopt(self._sock))
        hc.errorlog = logging.getLogger("ccm_tui.hypercorn")
        hc.accesslog = None
        hc.graceful_timeout = 1.0  # claude holds SSE streams open; do not wait for them long
        hc.keep_alive_timeout = KEEP_ALIVE_TIMEOUT_S
        hc.backlog = 1024
        return hc

    async def serve(self) -> None:
        """Serve until :meth:`stop` (or the task is cancelled)."""
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(AcceptFailureLog())
        self._stop = self._stop or asyncio.Event()
        hc = self._hypercorn_config()
        watcher = asyncio.ensure_future(self.session.watch(self.reload_poll_s))
        self._loop.call_soon(self._ready.set)
        warm = asyncio.ensure_future(self._warm_providers() if self.preconnect else asyncio.sleep(0))
        trimmer = asyncio.ensure_future(trim_when_idle(self.state.activity))
        try:
            await hypercorn_serve(self.app, hc, shutdown_trigger=self._stop.wait)
        finally:
            for task in (watcher, warm, trimmer):
                task.cancel()
            await asyncio.wait({watcher, warm, trimmer})
            await self.state.aclose()

    async def _warm_providers(self) -> None:
        """Each provider's client built and one connection opened (TCP, TLS) right after start, so the
        first request to it costs what later ones do. A provider that cannot be reached now is not an
        error here: its first request will say so."""
        await asyncio.sleep(0)  # after Hypercorn took the socket
        config = self.config
        holder = Flow("GET", "/ccm/warm-up", {})
        try:
            for name in list(config.providers):
                try:
                    provider = self.state.provider(name, config, holder)
                    base_url = getattr(provider.config, "base_url", None)
                    if base_url:
                        await provider.upstream.preconnect(base_url)
                except Exception as exc:  # noqa: BLE001 - best effort; the first request reports a real failure
                    log.debug("warming provider %r: %s", name, exc)
        finally:
            self.state.release(holder)

    def warm_up_vocabularies(self) -> None:
        """Load the token vocabularies (~0.2 s, ~20 MB each) on a thread, once, ahead of the first
        count. The TUI does, after its first screen (claude's ``/context`` counts); ``serve`` builds
        them on first need instead, so a proxy that never counts never holds them."""
        if self._warmed_up:
            return
        self._warmed_up = True
        models = [model for _, model in self.config.all_models()]
        models += [target.partition(",")[2] for target in self.config.router.routes.values()]
        threading.Thread(target=_warm_up, args=(models,), name="ccm-tokens-warm-up", daemon=True).start()

    def start_in_thread(self, timeout: float = 10.0) -> None:
        """Run on a daemon thread with its own loop; returns once requests are accepted."""

        def target() -> None:
            try:
                run_loop(self.serve())
            except BaseException as exc:  # noqa: BLE001 - surfaced to the starting thread
                self._error = exc
                log.exception("proxy thread died")
                self._ready.set()

        self._thread = threading.Thread(target=target, name="ccm-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("proxy did not start in time")
        if self._error is not None:
            raise RuntimeError(f"proxy failed to start: {self._error}")

    def run_forever(self, on_ready=None) -> None:  # type: ignore[no-untyped-def]
        """Serve on the calling thread (``ccm-tui serve``) until SIGINT/SIGTERM; SIGHUP reloads the config."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._stop.set)
            reloads: set[asyncio.Task[bool]] = set()

            def on_hup() -> None:
                task = loop.create_task(self.session.reload("SIGHUP"))
                reloads.add(task)
                task.add_done_callback(reloads.discard)

            loop.add_signal_handler(signal.SIGHUP, on_hup)
            if on_ready is not None:
                loop.call_soon(on_ready)
            await self.serve()

        run_loop(main())

    def stop(self, timeout: float = 5.0) -> None:
        """Thread-safe; idempotent."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def child_env(self) -> dict[str, str]:
        """What claude needs to talk to this proxy and nothing else (see :func:`.endpoint.child_env`)."""
        return child_env(self.base_url, self.token, self.config)

    def token_env(self) -> dict[str, str]:
        return token_env(self.token, self.config)
