"""`hilite studio` itself: off loopback it generates and prints a token, and every request needs it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_studio_off_loopback_generates_a_token(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hilite_cli", "studio", "--data", str(tmp_path / "d"), "--host", "0.0.0.0",
         "--port", str(port)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=os.environ.copy())
    try:
        banner = ""
        deadline = time.monotonic() + 60
        while "hilite studio: http://" not in banner and time.monotonic() < deadline:
            line = proc.stderr.readline().decode()
            assert line, f"the studio exited: {banner}"
            banner += line
        token = re.search(r"generated one: (\S+)", banner).group(1)
        assert f"/?token={token}" in banner
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                assert httpx.get(f"{url}/edit").status_code == 401
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert httpx.get(f"{url}/edit", params={"token": token}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
