"""Pick a ``provider,model``: the configured models, filterable, or any typed value."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from ...config import parse_target

UNSET = "\x00unset"  # the "no value" choice (route → default, or unpin)


class RoutePicker(ModalScreen[str | None]):
    """Dismisses with the chosen target, :data:`UNSET`, or None when cancelled."""

    DEFAULT_CSS = """
    RoutePicker { align: center middle; }
    RoutePicker > Vertical { width: 72; height: auto; max-height: 80%; border: thick $accent; background: $surface;
                             padding: 0 1; }
    RoutePicker #picker-title { text-style: bold; margin-bottom: 1; }
    RoutePicker OptionList { height: auto; max-height: 16; }
    RoutePicker #picker-error { color: $error; height: auto; }
    RoutePicker #picker-help { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("down", "to_list", show=False)]

    def __init__(self, title: str, models: list[str], current: str | None, unset_label: str | None = None,
                 providers: list[str] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.models = models
        self.current = current
        self.unset_label = unset_label
        self.providers = providers

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, id="picker-title", markup=False)
            yield Input(placeholder="provider,model — type one, or pick below", id="picker-input")
            yield OptionList(id="picker-list", markup=False)  # model names are not markup
            yield Label("", id="picker-error", markup=False)  # echoes what was typed
            yield Label("Enter: choose · ↓: list · Esc: cancel", id="picker-help")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, text: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        needle = text.lower()
        if self.unset_label and not needle:
            options.add_option(Option(self.unset_label, id=UNSET))
        for model in self.models:
            if needle in model.lower():
                mark = "● " if model == self.current else "  "
                options.add_option(Option(mark + model, id=model))
        if options.option_count:
            options.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value.strip())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if "," in text:
            self._choose(text)
            return
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            option = options.get_option_at_index(options.highlighted)
            self._choose(option.id or "")
        else:
            self.query_one("#picker-error", Label).update(
                f"no configured model matches {text!r}: pick one, or type provider,model (a new model is added to "
                "the provider's models)" if text else "type provider,model or pick one below")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id or "")

    def _choose(self, value: str) -> None:
        if value != UNSET:
            try:
                provider, _ = parse_target(value)
            except ValueError as exc:
                self.query_one("#picker-error", Label).update(str(exc))
                return
            if self.providers is not None and provider not in self.providers:
                self.query_one("#picker-error", Label).update(
                    f"unknown provider {provider!r} (configured: {', '.join(self.providers)})")
                return
        self.dismiss(value)

    def action_to_list(self) -> None:
        self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
