"""The Sessions pane: session → main thread → subagents, each with its traffic, cache rate and cost.

Newest session first, built from the flows the dashboard holds (the flow store's bounded window)
through the core's :func:`ccm_tui.sessions.build_tree`; the tree widget is updated in place (labels
change, nodes are added or removed), so what the user expanded or selected stays put as traffic comes
in. Selecting a node asks the requests table to show only that node's requests.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Tree
from textual.widgets._tree import TreeNode, UnknownNodeID

from ...flow import Flow
from ...sessions import Node, build_tree, flow_samples, node_filter
from ...stats import FlowStore
from .. import format as fmt

Key = tuple[str, ...]
ID_CHARS = 8  # session and agent ids are UUIDs: a prefix tells them apart


def node_key(node: Node) -> Key:
    return (node.kind, node.session) if node.kind != "agent" else ("agent", node.session, node.id)


def node_label(node: Node) -> Text:
    """``session 3f2a…  12 req · in 34.1k · out 2.0k · cache 81% · $0.42 · p50 1.2s · 1 err · ●``"""
    whole = node.total() if node.kind == "session" else node
    name = {"session": f"session {_short(node.id)}", "main": "main thread"}.get(node.kind, f"agent {_short(node.id)}")
    rate = whole.cache_hit_rate
    text = Text.assemble(
        (name, "bold" if node.kind == "session" else ""),
        f"  {whole.requests} req · in {fmt.tokens(whole.input_tokens)} · out {fmt.tokens(whole.output_tokens)}",
        f" · cache {'-' if rate is None else f'{rate:.0%}'} · {fmt.usd(whole.cost_usd)} · p50 {fmt.ms(whole.p50_ms)}",
    )
    if whole.errors:
        text.append(f" · {whole.errors} err", style="bold red")
    if whole.running:
        text.append(" · ●", style="green")
    if whole.targets:
        text.append("  " + " ".join(whole.targets), style="dim")  # models come from requests: plain text
    return text


def _short(identifier: str) -> str:
    return identifier if len(identifier) <= ID_CHARS + 1 else identifier[:ID_CHARS] + "…"


class SessionsTree(Tree[Key]):
    """The agent tree of the flows in the store; ``refresh_from`` keeps it current."""

    ALLOW_MAXIMIZE = True

    class Filter(Message):
        """The user picked a node: show only its requests (``predicate`` None: show all)."""

        def __init__(self, predicate: Callable[[Flow], bool] | None, label: str) -> None:
            super().__init__()
            self.predicate = predicate
            self.label = label

    def __init__(self, store: FlowStore, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__("sessions", **kwargs)
        self.store = store
        self.show_root = False
        self.guide_depth = 2
        self._by_key: dict[Key, TreeNode[Key]] = {}
        self._models: dict[Key, Node] = {}

    def refresh_from_store(self) -> None:
        trees = build_tree(flow_samples(reversed(self.store.newest_first())))
        seen: set[Key] = set()
        for tree in trees:
            self._place(tree, self.root, seen)
        for key in [k for k in self._by_key if k not in seen]:  # their flows left the store's window
            node = self._by_key.pop(key)
            self._models.pop(key, None)
            try:
                self.get_node_by_id(node.id)
            except UnknownNodeID:  # went with its parent
                continue
            node.remove()

    def _place(self, model: Node, parent: TreeNode[Key], seen: set[Key]) -> None:
        key = node_key(model)
        seen.add(key)
        label = node_label(model)
        node = self._by_key.get(key)
        if node is None or node.parent is not parent:
            if node is not None:
                node.remove()  # re-parented: a parent agent showed up after its child
            newest_first = model.kind == "session" and parent.children  # a new session goes on top
            node = self._by_key[key] = parent.add(label, data=key, expand=True, before=0 if newest_first else None)
        elif node.label != label:
            node.set_label(label)
        self._models[key] = model
        for child in model.children:
            self._place(child, node, seen)

    def on_tree_node_selected(self, event: Tree.NodeSelected[Key]) -> None:
        event.stop()
        model = self._models.get(event.node.data) if event.node.data else None
        if model is None:
            return
        self.post_message(self.Filter(node_filter(model), node_label(model).plain.split("  ", 1)[0]))


class SessionsPane(Vertical):
    """The tree in a titled, zoomable pane; refreshed at most once a second (building it walks the
    store's flows, which the proxy's thread must not wait for)."""

    ALLOW_MAXIMIZE = True
    REFRESH_S = 1.0
    DEFAULT_CSS = """
    SessionsPane { border: round $primary-darken-1; height: auto; max-height: 10; }
    SessionsPane:focus-within { border: round $accent; }
    SessionsPane SessionsTree { height: auto; max-height: 8; background: transparent; overflow-x: hidden; }
    """

    def __init__(self, store: FlowStore, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.store = store
        self.border_title = "Sessions"
        self._stale = False

    def compose(self):  # type: ignore[no-untyped-def]
        yield SessionsTree(self.store, id="sessions-tree")

    def on_mount(self) -> None:
        self.query_one(SessionsTree).refresh_from_store()
        self.set_interval(self.REFRESH_S, self._refresh_if_stale)

    def flows_changed(self) -> None:
        self._stale = True

    def _refresh_if_stale(self) -> None:
        if self._stale:
            self._stale = False
            self.query_one(SessionsTree).refresh_from_store()
