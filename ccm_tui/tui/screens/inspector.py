"""One request in full: bodies in and out, decision, upstream status/headers, answer or events, timings."""

from __future__ import annotations

import json
from typing import Any

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Collapsible, Footer, Input, Static

from ...flow import Flow
from ...secrets import Redactor
from .. import format as fmt

BIG_BODY = 6_000  # characters: bodies longer than this start collapsed


def pretty_json(data: Any, redactor: Redactor) -> Syntax:
    text = json.dumps(redactor.data(data), indent=2, ensure_ascii=False, default=str)
    return Syntax(text, "json", theme="ansi_dark", word_wrap=True)  # ansi_dark: no background of its own


def _kv(rows: list[tuple[str, RenderableType]]) -> Table:
    """Key/value grid. Strings are shown as text: notes, errors and headers come from clients and
    upstreams, and Rich would parse them as markup (``[/]`` raises, ``[b]`` vanishes)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, value in rows:
        table.add_row(Text(key), Text(value) if isinstance(value, str) else value)
    return table


def summary(flow: Flow, redactor: Redactor | None = None) -> Table:
    """The flow at a glance; notes and errors quote upstreams, so they go through ``redactor``."""
    clean = redactor.text if redactor is not None else str
    d = flow.decision
    u = flow.usage
    rows: list[tuple[str, RenderableType]] = [
        ("request", f"#{flow.id} {flow.method} {flow.path} · {fmt.clock(flow.started_at)} · "
                    f"{'stream' if flow.stream else 'json'} · session {flow.session_id or '–'}"),
        ("requested model", flow.requested_model or "–"),
        ("route", Text.assemble((d.route + " ", "bold cyan"), "→ ", (f"{d.provider},{d.model}", "bold"))
         if d else Text("not routed", style="dim")),
        ("reason", d.reason if d else "–"),
        ("status", Text.assemble(fmt.status(flow).append(" "), f"· state {flow.state} · upstream "
                                 f"{flow.upstream_status or '–'}")),
        ("timings", f"first byte {fmt.ms(flow.first_byte_ms)} · total {fmt.ms(flow.duration_ms)}"),
        ("usage", f"in {u.input_tokens} · cache read {u.cache_read_input_tokens} · cache write "
                  f"{u.cache_creation_input_tokens} · out {u.output_tokens}"
                  + (f" · estimated in {flow.estimated_input_tokens}" if flow.estimated_input_tokens else "")
                  + (f" · {fmt.usd(flow.cost_usd)}" if flow.cost_usd else "")),
        ("stop reason", flow.stop_reason or "–"),
    ]
    if flow.attempts:
        rows.append(("attempts", "\n".join(
            " · ".join(filter(None, (f"{a.provider},{a.model} → {a.status or '–'}", a.error and clean(a.error),
                                     fmt.ms(a.duration_ms))))
            for a in flow.attempts)))
    if flow.notes:
        rows.append(("notes", clean("\n".join(flow.notes))))
    if flow.error:
        rows.append(("error", Text(clean(f"{flow.error_type or 'error'}: {flow.error}"), style="bold red")))
    return _kv(rows)


def _plain(body: Any) -> str:
    """What ``/`` searches in a section."""
    if isinstance(body, Syntax):
        return body.code
    if isinstance(body, Text):
        return body.plain
    if isinstance(body, Table):
        return "\n".join(" ".join(str(getattr(c, "plain", c)) for c in row) for row in zip(
            *(col._cells for col in body.columns), strict=False))
    return ""


def _section(title: str, body: RenderableType, *, collapsed: bool, id: str) -> Collapsible:
    section = Collapsible(Static(body, classes="section-body"), title=Content(title), collapsed=collapsed, id=id)
    section.search_text = f"{title}\n{_plain(body)}".lower()  # type: ignore[attr-defined]
    return section


def raw_beside_sent(flow: Flow, redactor: Redactor) -> Collapsible | None:
    """The upstream's answer as received (before translation) beside what claude was sent."""
    if not flow.upstream_raw and flow.response_body is None and not flow.events:
        return None
    raw = Text(redactor.text(flow.upstream_raw.decode("utf-8", "replace")) or "(nothing received)")
    if flow.upstream_raw_dropped:
        raw.append(f"\n… {flow.upstream_raw_dropped:,} more bytes not kept", style="dim")
    if flow.events:
        sent = Text("".join(redactor.text(f"event: {e.get('type', '?')}\ndata: "
                                          f"{json.dumps(e, ensure_ascii=False, default=str)}\n\n")
                            for e in flow.events))
    else:
        sent = Text(redactor.text(json.dumps(flow.response_body, indent=2, ensure_ascii=False, default=str)))
    left, right = Static(raw, classes="section-body raw-side"), Static(sent, classes="section-body raw-side")
    left.border_title, right.border_title = f"from {flow.target or 'upstream'} ({len(flow.upstream_raw):,} bytes)", \
        "sent to claude"
    section = Collapsible(Horizontal(left, right, classes="raw-pair"), collapsed=True, id="sec-raw",
                          title=Content("Upstream raw ⇄ sent to claude (translation)"))
    section.search_text = f"{raw.plain}\n{sent.plain}".lower()  # type: ignore[attr-defined]
    return section


def sections(flow: Flow, redactor: Redactor) -> list[Collapsible]:
    """The inspector's parts, every one through the redactor."""
    out = []
    incoming = json.dumps(flow.request_body, default=str) if flow.request_body is not None else ""
    out.append(_section(f"Incoming Anthropic body ({len(incoming):,} chars)",
                        pretty_json(flow.request_body, redactor), collapsed=len(incoming) > BIG_BODY, id="sec-in"))
    out.append(_section("Request headers", _kv(sorted(redactor.headers(flow.request_headers).items())),
                        collapsed=True, id="sec-in-headers"))
    upstream = json.dumps(flow.upstream_body, default=str) if flow.upstream_body is not None else ""
    title = f"Sent upstream: {redactor.text(flow.upstream_url or '–')} ({len(upstream):,} chars)"
    out.append(_section(title, pretty_json(flow.upstream_body, redactor) if flow.upstream_body is not None
                        else Text("nothing sent upstream (yet)", style="dim"),
                        collapsed=len(upstream) > BIG_BODY, id="sec-up"))
    out.append(_section(f"Upstream status {flow.upstream_status or '–'} and headers",
                        _kv(sorted(redactor.headers(flow.upstream_headers).items())), collapsed=True, id="sec-up-headers"))
    from ...export import answer_text

    answer = answer_text(flow)
    if answer:
        out.append(_section("Answer", Text(redactor.text(answer)), collapsed=False, id="sec-answer"))
    if flow.response_body is not None:
        out.append(_section("Response body", pretty_json(flow.response_body, redactor), collapsed=False, id="sec-resp"))
    if flow.events or flow.events_dropped:
        lines = Text()
        for event in list(flow.events):
            lines.append(redactor.text(json.dumps(event, ensure_ascii=False, default=str)) + "\n")
        if flow.events_dropped:
            lines.append(f"… {flow.events_dropped} more events not kept\n", style="dim")
        out.append(_section(f"Stream events ({len(flow.events) + flow.events_dropped})", lines,
                            collapsed=True, id="sec-events"))
    pair = raw_beside_sent(flow, redactor)
    if pair is not None:
        out.append(pair)
    return out


class Inspector(Screen[None]):
    DEFAULT_CSS = """
    Inspector #inspector-summary { padding: 0 1; border: round $accent; height: auto; }
    Inspector .section-body { padding: 0 1; }
    Inspector #inspector-scroll { height: 1fr; }
    Inspector .raw-pair { height: auto; }
    Inspector .raw-side { width: 1fr; border: round $primary-darken-1; }
    Inspector #inspector-search { dock: top; display: none; }
    Inspector #inspector-search.shown { display: block; }
    """
    BINDINGS = [
        Binding("escape,q", "close", "Back", tooltip="back to the dashboard"),
        Binding("c", "copy_curl", "Copy curl", tooltip="copy the request as curl (redacted)"),
        Binding("e", "export", "Export JSONL", tooltip="export this session as JSONL (redacted)"),
        Binding("r", "replay", "Replay", tooltip="replay on another model, side by side"),
        Binding("o", "expand_all", "Expand all", tooltip="expand every section"),
        Binding("tab", "app.focus_next", "Next section", tooltip="next section"),
        Binding("slash", "search", "Search", tooltip="search the request: matching sections open"),
    ]

    def __init__(self, flow: Flow, redactor: Redactor) -> None:
        super().__init__()
        self.flow = flow
        self.redactor = redactor

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search (Enter: next match, Esc: close)", id="inspector-search")
        with VerticalScroll(id="inspector-scroll"):
            yield Static(summary(self.flow, self.redactor), id="inspector-summary")
            yield from sections(self.flow, self.redactor)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"request #{self.flow.id}"
        self.query_one("#inspector-scroll").focus()
        if self.flow.state not in ("done", "failed"):  # still running: keep the summary current
            self._timer = self.set_interval(0.5, self._refresh_summary)

    def _refresh_summary(self) -> None:
        self.query_one("#inspector-summary", Static).update(summary(self.flow, self.redactor))
        if self.flow.state in ("done", "failed"):
            self._timer.stop()  # this cancels the timer's task: rebuild outside it
            self.call_later(self._rebuild)

    async def _rebuild(self) -> None:
        await self.query(Collapsible).remove()
        await self.query_one("#inspector-scroll").mount_all(sections(self.flow, self.redactor))

    def action_close(self) -> None:
        box = self.query_one("#inspector-search", Input)
        if box.has_focus:  # Esc in the search box closes the box, not the inspector
            box.remove_class("shown")
            self.query_one("#inspector-scroll").focus()
            return
        self.dismiss(None)

    def action_search(self) -> None:
        box = self.query_one("#inspector-search", Input)
        box.add_class("shown")
        box.focus()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        """Open the sections that contain the text, close the others, and go to the next one."""
        needle = message.value.strip().lower()
        if not needle:
            return
        hits = [c for c in self.query(Collapsible) if needle in getattr(c, "search_text", "")]
        for section in self.query(Collapsible):
            section.collapsed = section not in hits
        if not hits:
            self.notify(f"{message.value.strip()!r} is not in this request", severity="warning", timeout=3)
            return
        self._hit = (getattr(self, "_hit", -1) + 1) % len(hits) if getattr(self, "_needle", "") == needle else 0
        self._needle = needle
        self.call_after_refresh(hits[self._hit].scroll_visible, top=True, animate=False)
        self.notify(f"match {self._hit + 1} of {len(hits)} sections", timeout=2)

    def action_expand_all(self) -> None:
        collapsibles = list(self.query(Collapsible))
        expand = any(c.collapsed for c in collapsibles)
        for c in collapsibles:
            c.collapsed = not expand

    def action_copy_curl(self) -> None:
        self.app.copy_curl(self.flow)  # type: ignore[attr-defined]

    def action_export(self) -> None:
        self.app.export_session(self.flow.session_id)  # type: ignore[attr-defined]

    def action_replay(self) -> None:
        self.app.replay(self.flow)  # type: ignore[attr-defined]


class ReplayView(Screen[None]):
    """Original answer and replayed answer, side by side."""

    DEFAULT_CSS = """
    ReplayView Horizontal { height: 1fr; }
    ReplayView VerticalScroll { width: 1fr; border: round $primary; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q", "close", "Back")]

    def __init__(self, flow: Flow, target: str, redactor: Redactor) -> None:
        super().__init__()
        self.flow = flow
        self.target = target
        self.redactor = redactor

    def compose(self) -> ComposeResult:
        from ...export import answer_text

        with Horizontal():
            with VerticalScroll(id="replay-left") as left:
                left.border_title = Content(f"original #{self.flow.id}: {self.flow.target or '–'}")
                left.border_subtitle = f"{fmt.ms(self.flow.duration_ms)} · out {self.flow.usage.output_tokens}"
                answer = self.redactor.text(answer_text(self.flow)).strip()  # Text: answers are not markup
                yield Static(Text(answer or "(no answer)", style="red" if self.flow.state == "failed" else ""),
                             id="replay-original")
            with VerticalScroll(id="replay-right") as right:
                right.border_title = Content(f"replay: {self.target}")  # typed
                yield Static(Text("waiting for the replay…", style="dim"), id="replay-answer")
        yield Footer()

    def show_result(self, text: str, subtitle: str, error: bool = False) -> None:
        self.query_one("#replay-answer", Static).update(Text(self.redactor.text(text), style="red" if error else ""))
        self.query_one("#replay-right", VerticalScroll).border_subtitle = Content(subtitle)

    def action_close(self) -> None:
        self.dismiss(None)
