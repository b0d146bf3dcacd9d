"""History: every flow's record kept after the process exits, behind a store interface.

``store.HistoryStore`` is the seam (SQLite today, a server database when a team shares one);
``writer.HistoryWriter`` feeds it from the bus on its own thread, and ``process`` makes and writes
the records in a child process, so that writing never delays a request nor takes the proxy's CPU.
Nothing here imports the UI; this package's ``__init__`` imports nothing, so the CLI can name the
groupings without opening a database.
"""
