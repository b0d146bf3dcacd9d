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
        assert shown[0].startswith("session sess-one… ") and "3 req" in shown[0] and "cache 50%" in shown[0]
        assert shown[1].startswith("  main thread  1 req")
        assert shown[2].startswith("    agent agent-aa…  1 req") and shown[3].startswith("      agent agent-cc…")
        assert shown[4].startswith("session unknown  1 req") and "1 err" in shown[4]
        first = tree.root.children[0]
        running = make_flow("sess-one-uuid-long", "agent-aaaa-bbbb", state="streaming")
        store.ingest([running])
        tree.refresh_from_store()
        await pilot.pause()
        assert tree.root.children[0] is first, "nodes are updated in place, not rebuilt"
        assert "4 req" in lines(tree)[0] and lines(tree)[0].endswith("model-a") and " · ●" in lines(tree)[0]
        tree.focus()
        tree.move_cursor(first.children[0].children[0])  # agent-aaaa
        await pilot.press("enter")
        await pilot.pause()
        [picked] = app.filters
        assert picked.label.startswith("agent agent-aa")
        chosen = [f for f in store.newest_first() if picked.predicate(f)]
        assert sorted(f.agent_id for f in chosen) == ["agent-aaaa-bbbb", "agent-aaaa-bbbb", "agent-cccc-dddd"]
