"""The Textual UI: claude in a terminal pane beside a live view of the proxy's flows."""
