"""A real two-node Ray cluster on this machine for the Ray tests: a head and one worker node, each
bound to 127.0.0.1 with 1 CPU and its own temp dir, token authentication on (RAY_AUTH_MODE=token
with a fresh RAY_AUTH_TOKEN, as Ray's token-auth docs describe). Each node is a `ray start --block`
process in its own session; teardown signals exactly those process groups (never `ray stop`)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

RAY = str(Path(sys.executable).with_name("ray"))
START_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    address: str
    env: dict[str, str]  # what a driver needs: RAY_ADDRESS and the auth token
    nodes: list[subprocess.Popen[bytes]]
    logs: list[Path]


def _start(args: list[str], temp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log = temp / "start.log"
    node = subprocess.Popen(
        [RAY, "start", *args, "--temp-dir", str(temp), "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
         "--object-store-memory", str(200 * 1024 * 1024), "--disable-usage-stats", "--block"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while b"Ray runtime started" not in log.read_bytes():
        if node.poll() is not None or time.monotonic() > deadline:
            _stop([node])
            pytest.fail(f"ray start {' '.join(args)} did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return node, log


def _stop(nodes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each node's process group (the PIDs started here), SIGKILL what is left after 10 s."""
    for node in nodes:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGTERM)
    for node in nodes:
        try:
            node.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    head_dir, worker_dir = tmp_path_factory.mktemp("ray-head"), tmp_path_factory.mktemp("ray-worker")
    head, head_log = _start(["--head", "--port", str(port), "--include-dashboard=false"], head_dir, env)
    nodes = [head]
    try:
        worker, worker_log = _start(["--address", address], worker_dir, env)
        nodes.append(worker)
        yield Cluster(address, {k: env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_USAGE_STATS_ENABLED",
                                                    "RAY_ENABLE_UV_RUN_RUNTIME_ENV")} | {"RAY_ADDRESS": address},
                      nodes, [head_log, worker_log])
    finally:
        _stop(list(reversed(nodes)))


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random-weight T2I and editor pipelines (the mining tests' models)."""
    from support.tiny_models import build

    root = tmp_path_factory.mktemp("tiny-weights")
    return {name: build(name, root / name) for name in ("flux-schnell", "instruct-pix2pix")}
