#!/usr/bin/env python3
"""Regenerate ``screenshots/*.svg`` from a scripted session: fake upstream, the real claude, Textual pilot.

    python scripts/screenshots.py [--out screenshots] [--claude PATH]

Writes main.svg (claude pane + dashboard with traffic), inspector.svg, route_picker.svg, replay.svg and
statusline.svg (claude's statusline showing the routed model), with the real claude CLI in the pane
(``--claude PATH``, else the copy ``.ci/run`` installs; without one, a stand-in and no statusline.svg).
Nothing leaves 127.0.0.1; the config, state and claude's HOME live in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from ccm_tui.claude_env import claude_env  # noqa: E402
from ccm_tui.claude_launch import launch_args, launch_env  # noqa: E402
from ccm_tui.config import load_config  # noqa: E402
from ccm_tui.events import EventBus  # noqa: E402
from ccm_tui.proxy.server import ProxyServer  # noqa: E402
from ccm_tui.tui.app import CcmApp  # noqa: E402
from ccm_tui.tui.dialogs.route_picker import RoutePicker  # noqa: E402
from ccm_tui.tui.panes.requests import RequestsTable  # noqa: E402
from ccm_tui.tui.screens.inspector import Inspector, ReplayView  # noqa: E402
from tests.fakes.anthropic_server import FakeAnthropic, Reply  # noqa: E402
from tests.fakes.server import run_asgi  # noqa: E402

CONFIG = """\
# ccm-tui demo config
[providers.anthropic]
type = "anthropic"
base_url = "{url}"
api_key = "$DEMO_KEY"
models = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]

[providers.backup]
type = "anthropic"
base_url = "{url}"
api_key = "$DEMO_KEY"
models = ["claude-sonnet-4-5"]

[router]
default = "anthropic,claude-sonnet-4-5"
background = "anthropic,claude-haiku-4-5"
think = "anthropic,claude-opus-4-1"
"""
COUNTS = 8
ANSWER = ("Routing works: this answer came through ccm-tui's embedded proxy, which picked the model "
          "from the route table and recorded the request for the dashboard.")


async def wait_for(predicate, pilot, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            where = predicate.__code__.co_firstlineno
            raise SystemExit(f"screenshots: the scripted session did not reach the expected state (line {where})")
        await pilot.pause(0.05)


async def traffic(server: ProxyServer) -> None:
    """A background title request, a thinking request, token counts and one failing upstream."""
    headers = {"x-api-key": server.token.reveal(), "anthropic-version": "2023-06-01"}
    base = {"max_tokens": 512, "messages": [{"role": "user", "content": "Explain the routing table."}]}
    bodies = [
        {**base, "model": "claude-haiku-4-5", "system": "Summarize this coding conversation in a title."},
        {**base, "model": "claude-sonnet-4-5", "stream": True, "thinking": {"type": "enabled", "budget_tokens": 2048},
         "tools": [{"name": "Bash", "description": "run a command", "input_schema": {"type": "object"}}]},
        {**base, "model": "claude-sonnet-4-5", "stream": True,
         "tools": [{"name": "Bash", "description": "run a command", "input_schema": {"type": "object"}}]},
        {**base, "model": "claude-sonnet-4-5", "stream": True,
         "tools": [{"name": "Bash", "description": "run a command", "input_schema": {"type": "object"}}]},
    ]
    async with httpx.AsyncClient(timeout=30) as client:
        for body in bodies:
            await client.post(server.base_url + "/v1/messages", json=body, headers=headers)
        for _ in range(COUNTS):  # what /context does: a burst of token counts, collapsed into one row
            await client.post(server.base_url + "/v1/messages/count_tokens",
                              json={"model": "claude-sonnet-4-5", "messages": base["messages"]}, headers=headers)


def claude_home(workdir: Path) -> Path:
    """A HOME where claude starts without its first-run dialogs; returns the project folder it trusts."""
    home, project = workdir / "home", workdir / "project"
    if not project.exists():
        home.mkdir()
        project.mkdir()
        (home / ".claude.json").write_text(json.dumps({
            "hasCompletedOnboarding": True, "theme": "dark",
            "projects": {str(project.resolve()): {"hasTrustDialogAccepted": True}}}))
    os.environ.update(HOME=str(home), PYTHONPATH=str(REPO), CLAUDE_CODE_MAX_RETRIES="1")
    return project


def real_claude_app(server: ProxyServer, config, claude: str, workdir: Path) -> CcmApp:  # type: ignore[no-untyped-def]
    """The app as ``ccm-tui`` launches the real claude in its pane."""
    project = claude_home(workdir)
    argv = [claude, *launch_args(config, [], project)]
    return CcmApp(server, argv, claude_env(config, {**server.child_env(), **launch_env(config)}, embedded=True),
                  claude_cwd=str(project), exit_grace=0)


async def subagent_traffic(server: ProxyServer) -> None:
    """Another claude session with a subagent that started one of its own, for the Sessions pane."""
    headers = {"x-api-key": server.token.reveal(), "x-claude-code-session-id": "5f0c2a9e-demo"}
    body = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "look around"}]}
    async with httpx.AsyncClient(timeout=30) as client:
        for agent, parent in ((None, None), ("a1b2c3d4-explore", None), ("e5f6a7b8-grep", "a1b2c3d4-explore")):
            extra = {"x-claude-code-agent-id": agent} if agent else {}
            if parent:
                extra["x-claude-code-parent-agent-id"] = parent
            await client.post(server.base_url + "/v1/messages", json=body, headers={**headers, **extra})


async def session(out: Path, workdir: Path, fake: FakeAnthropic, url: str, claude: str | None) -> None:
    config_path = workdir / "config.toml"
    config_path.write_text(CONFIG.format(url=url))
    config = load_config(config_path)
    server = ProxyServer(config, EventBus(), host="127.0.0.1", port=0)
    server.start_in_thread()
    if claude is not None:
        app = real_claude_app(server, config, claude, workdir)
    else:
        argv = [sys.executable, str(REPO / "tests/fakes/fake_claude.py"), "--requests", "2", "--interactive"]
        app = CcmApp(server, argv, {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **server.child_env()},
                     exit_grace=0)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            if claude is not None:
                from ccm_tui.tui.panes.claude import ClaudePane

                pane = app.screen.query_one(ClaudePane)
                app.focus_now(pane)
                await wait_for(lambda: "❯" in "\n".join(pane.emulator.display), pilot, 60)
                await pilot.pause(1.0)
                await pilot.press(*"what does the router do?", "enter")
                await wait_for(lambda: app.store.session.requests >= 1, pilot, 60)
            else:
                await wait_for(lambda: app.store.session.requests >= 2, pilot)
            before = app.store.session.requests
            fake.script = [Reply(text=ANSWER, usage={"input_tokens": 412, "output_tokens": 31})] * 3 + [
                Reply(status=400, error_body={"type": "error", "error": {
                    "type": "invalid_request_error", "message": "prompt is too long: 212000 tokens > 200000 maximum"}})]
            await traffic(server)
            await subagent_traffic(server)
            await wait_for(lambda: app.store.session.requests >= before + 7 and len(app.store) >= 7 + COUNTS, pilot)
            await pilot.pause(1.5)  # the Sessions pane refreshes once a second
            await pilot.pause(0.5)
            await pilot.press("f2")
            await pilot.press("down", "down")
            await pilot.pause(0.3)
            app.save_screenshot("main.svg", str(out))

            await pilot.press("enter")
            await wait_for(lambda: isinstance(app.screen, Inspector), pilot)
            await pilot.pause(0.3)
            app.save_screenshot("inspector.svg", str(out))

            await pilot.press("r")
            await wait_for(lambda: isinstance(app.screen, RoutePicker), pilot)
            await pilot.press(*"backup", "enter")
            await wait_for(lambda: isinstance(app.screen, ReplayView), pilot)
            await pilot.pause(1.0)
            app.save_screenshot("replay.svg", str(out))
            await pilot.press("escape", "escape")

            app.screen.query_one(RequestsTable).focus()
            await pilot.press("f4", "up", "up", "up", "up", "up", "up", "up", "down", "f4")
            await wait_for(lambda: isinstance(app.screen, RoutePicker), pilot)
            await pilot.press(*"son")
            await pilot.pause(0.3)
            app.save_screenshot("route_picker.svg", str(out))
            await pilot.press("escape")
            await pilot.press("f10")
    finally:
        server.stop()


STATUSLINE_CONFIG = """\
[providers.deepseek]
type = "anthropic"
base_url = "{url}"
api_key = "$DEMO_KEY"
models = ["deepseek-chat", "deepseek-reasoner"]

[router]
default = "deepseek,deepseek-reasoner"
"""


async def statusline_session(out: Path, workdir: Path, claude: str, url: str) -> None:
    """The real claude in the pane, launched as ``ccm-tui`` does, after its first answer."""
    config_path = workdir / "statusline.toml"
    config_path.write_text(STATUSLINE_CONFIG.format(url=url))
    config = load_config(config_path)
    server = ProxyServer(config, EventBus(), host="127.0.0.1", port=0)
    server.start_in_thread()
    app = real_claude_app(server, config, claude, workdir)
    try:
        async with app.run_test(size=(200, 40)) as pilot:
            from ccm_tui.tui.panes.claude import ClaudePane

            app.action_resize(20)
            pane = app.screen.query_one(ClaudePane)
            app.focus_now(pane)  # the first session's focused pane is remembered (same state folder)

            def shown() -> str:
                return "\n".join(pane.emulator.display)

            await wait_for(lambda: "❯" in shown(), pilot, 60)
            await pilot.pause(1.0)
            await pilot.press(*"which model answers me?", "enter")
            await wait_for(lambda: "⇢ default → deepseek,deepseek-reasoner · $" in shown(), pilot, 60)
            await pilot.pause(0.5)
            app.save_screenshot("statusline.svg", str(out))
            await pilot.press("f10")
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "screenshots"))
    parser.add_argument("--claude", default=str(REPO / ".cache/claude-cli/node_modules/.bin/claude"),
                        help="the real claude CLI for statusline.svg (skipped when missing)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ccm-shots-") as tmp:
        os.environ.update(DEMO_KEY="sk-demo-not-a-real-key", XDG_STATE_HOME=str(Path(tmp) / "state"),
                          CCM_LOG_FILE=str(Path(tmp) / "ccm.log"))
        fake = FakeAnthropic()
        fake.default = Reply(text=ANSWER, usage={"input_tokens": 18240, "output_tokens": 64})
        claude = args.claude if os.access(args.claude, os.X_OK) else None
        with run_asgi(fake.app) as url:
            asyncio.run(session(out, Path(tmp), fake, url, claude))
            names = ["main", "inspector", "route_picker", "replay"]
            if claude is not None:
                fake.default = Reply(text="deepseek-reasoner, routed by ccm-tui: the statusline below says so.",
                                     usage={"input_tokens": 23180, "output_tokens": 42,
                                            "cache_read_input_tokens": 19800})
                asyncio.run(statusline_session(out, Path(tmp), args.claude, url))
                names.append("statusline")
            else:
                print(f"no claude at {args.claude}: statusline.svg not made", file=sys.stderr)
    for name in names:
        print(out / f"{name}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
