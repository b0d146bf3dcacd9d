"""Dashboard panes: requests, providers, tokens, routes."""
