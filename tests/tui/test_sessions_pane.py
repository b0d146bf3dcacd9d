"""The Sessions pane's agent tree under the Textual pilot: nesting, live updates in place, selection filters."""

from __future__ import annotations

from textual.app import App, ComposeResult

from ccm_tui.stats import FlowStore
from ccm_tui.tui.panes.sessions import SessionsTree
from tests.history.test_store import make_flow


class TreeApp(App[None]):
    def __init__(self, store: FlowStore) -> None:
        super().__init__()
        self.store = store
        self.filters: list[SessionsTree.Filter] = []

    def compose(self) -> ComposeResult:
        yield SessionsTree(self.store, id="sessions")

    def on_sessions_tree_filter(self, message: SessionsTree.Filter) -> None:
        self.filters.append(message)


def lines(tree: SessionsTree) -> list[str]:
    out = []

    def walk(node, depth: int) -> None:  # type: ignore[no-untyped-def]
        for child in node.children:
            out.append("  " * depth + str(child.label.plain))
            walk(child, depth + 1)

    walk(tree.root, 0)
    return out


async def test_tree_nests_agents_updates_in_place_and_filters_on_select() -> None:
    store = FlowStore()
    flows = [make_flow("sess-one-uuid-long", cache_read=300), make_flow("sess-one-uuid-long", "agent-aaaa-bbbb"),
             make_flow("sess-one-uuid-long", "agent-cccc-dddd", parent="agent-aaaa-bbbb"),
             make_flow(None, state="failed", status=529)]
    store.ingest(flows)
    app = TreeApp(store)
    async with app.run_test(size=(140, 20)) as pilot:
        tree = app.query_one(SessionsTree)
        tree.refresh_from_store()
        await pilot.pause()
        shown = lines(tree)
        assert shown[0].startswith("session unknown  1 req") and "1 err" in shown[0], "newest session first"
        assert shown[2].startswith("session sess-one… ") and "3 req" in shown[2] and "cache 50%" in shown[2]
        assert shown[3].startswith("  main thread  1 req")
        assert shown[4].startswith("    agent agent-aa…  1 req") and shown[5].startswith("      agent agent-cc…")
        first = tree.root.children[1]
        running = make_flow("sess-one-uuid-long", "agent-aaaa-bbbb", state="streaming")
        store.ingest([running])
        tree.refresh_from_store()
        await pilot.pause()
        assert tree.root.children[1] is first, "nodes are updated in place, not rebuilt"
        assert "4 req" in lines(tree)[2] and lines(tree)[2].endswith("model-a") and " · ●" in lines(tree)[2]
        tree.focus()
        tree.move_cursor(first.children[0].children[0])  # agent-aaaa
        await pilot.press("enter")
        await pilot.pause()
        [picked] = app.filters
        assert picked.label.startswith("agent agent-aa")
        chosen = [f for f in store.newest_first() if picked.predicate(f)]
        assert sorted(f.agent_id for f in chosen) == ["agent-aaaa-bbbb", "agent-aaaa-bbbb", "agent-cccc-dddd"]


async def test_sessions_pane_in_the_dashboard_filters_the_requests_table(make_app, server) -> None:  # type: ignore[no-untyped-def]
    """Real traffic with Claude Code's session/agent headers through the proxy; pick the subagent node."""
    import httpx

    from ccm_tui.tui.panes.requests import RequestsPane
    from ccm_tui.tui.panes.sessions import SessionsPane
    from tests.tui.conftest import wait_for

    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        body = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        base = {"x-api-key": server.token.reveal(), "x-claude-code-session-id": "sess-42"}
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            for agent in (None, "agent-7", "agent-7", None):
                headers = {**base, **({"x-claude-code-agent-id": agent} if agent else {})}
                assert (await client.post("/v1/messages", json=body, headers=headers)).status_code == 200
        table = app.screen.query_one(RequestsPane).table
        await wait_for(lambda: len(table.rows) == 4, pilot)
        tree = app.screen.query_one(SessionsPane).query_one(SessionsTree)
        await wait_for(lambda: len(lines(tree)) == 3, pilot)
        assert lines(tree)[0].startswith("session sess-42  4 req")
        assert lines(tree)[2].startswith("    agent agent-7  2 req")
        tree.focus()
        tree.move_cursor(tree.root.children[0].children[0].children[0])
        await pilot.press("enter")
        await wait_for(lambda: len(table.rows) == 2, pilot)
        assert {row.agent_id for row in table.rows} == {"agent-7"}
        assert "agent agent-7" in str(app.screen.query_one(RequestsPane).border_subtitle)
        table.focus()
        await pilot.press("escape")
        await wait_for(lambda: len(table.rows) == 4, pilot)
