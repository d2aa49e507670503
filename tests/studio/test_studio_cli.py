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


def test_studio_weights_are_checked_before_it_listens(tmp_path: Path) -> None:
    """`--weights NAME=DIR` as in `hilite edit`: a malformed pair or a missing folder is exit 2, no server."""
    from typer.testing import CliRunner

    from hilite_cli.cli.app import app

    cases = [("instruct-pix2pix", "expects NAME=DIR"), (f"instruct-pix2pix={tmp_path / 'nope'}", "is not a folder")]
    for value, reason in cases:
        res = CliRunner().invoke(app, ["studio", "--data", str(tmp_path / "d"), "--port", "0", "--weights", value])
        assert res.exit_code == 2 and reason in res.stderr, res.stderr
        assert "hilite studio: http://" not in res.stderr
