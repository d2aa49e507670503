"""Pipeline stages start together and open one cache file: none may fail on its first migration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_many_processes_open_a_new_cache_at_once(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    code = ("import sys, time; from pathlib import Path; from hilite_cli.providers.cache import ResponseCache\n"
            "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
            "ResponseCache(Path(sys.argv[1])).close()")
    import time

    start = str(time.time() + 1.5)  # all processes open the file in the same instant
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), start], stderr=subprocess.PIPE) for _ in range(8)]
    errors = [p.communicate()[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [e for e in errors if e][:1]
    import sqlite3

    from hilite_cli.providers.cache import MIGRATIONS

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
