"""Modal dialogs: route picker, text, exit countdown."""
