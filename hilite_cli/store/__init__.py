"""HILITE's human loop on disk: one SQLite (WAL) store for sessions, publications and rating tasks.

The terminal (`hilite edit --session`, `hilite session`, `hilite rate-tasks`) and the web studio
(`hilite studio`) share it, so a session started in one continues in the other.
"""

from hilite_cli.store.db import Store, StoreError, default_data_dir

__all__ = ["Store", "StoreError", "default_data_dir"]
