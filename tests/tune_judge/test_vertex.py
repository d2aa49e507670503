"""`tune-judge train --backend vertex` against a loopback Vertex AI speaking google-genai's tuning-jobs
wire format; the gs:// staging goes to a local stand-in folder (HILITE_GCS_STAND_IN)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from support.cli import hilite
from support.loopback_tuning import VertexLoopback, service_account_key

from hilite_cli.providers.parsing import parse_json
from hilite_cli.providers.schemas import EditScores

STAGING = "gs://bucket/judge"


@pytest.fixture
def built_set(rated_store, tmp_path: Path) -> Path:
    store, ratings = rated_store
    out = tmp_path / "set"
    assert hilite("tune-judge", "dataset", str(ratings), "--data", str(store.root), "--out", str(out)).returncode == 0
    return out


@pytest.fixture
def vertex(tmp_path: Path):
    with VertexLoopback() as server:
        env = {
            "GOOGLE_APPLICATION_CREDENTIALS": str(service_account_key(tmp_path, f"{server.url}/token")),
            "GOOGLE_CLOUD_PROJECT": "proj", "GOOGLE_CLOUD_LOCATION": "us-central1",
            "GOOGLE_VERTEX_BASE_URL": server.url, "HILITE_GCS_STAND_IN": (tmp_path / "gcs").as_uri(),
        }
        yield server, env


def _train(built_set: Path, env: dict[str, str], *extra: str):
    return hilite("tune-judge", "train", str(built_set), "--backend", "vertex", "--staging", STAGING,
                  "--poll-seconds", "0.05", *extra, env=env)


def test_killed_run_resumes_the_same_job_with_one_create(built_set: Path, vertex, tmp_path: Path) -> None:
    server, env = vertex
    ledger = built_set / "vertex_tuning.jsonl"
    cmd = [sys.executable, "-m", "hilite_cli", "tune-judge", "train", str(built_set), "--backend", "vertex",
           "--staging", STAGING, "--poll-seconds", "0.05"]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (ledger.exists() and b'"created"' in ledger.read_bytes()):
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(server.creates) == 1

    again = _train(built_set, env)
    assert again.returncode == 2 and b"--resume" in again.stderr  # no second job by accident

    server.final_state = "JOB_STATE_SUCCEEDED"
    res = _train(built_set, env, "--resume")
    assert res.returncode == 0, res.stderr.decode()
    assert len(server.creates) == 1
    line = orjson.loads(res.stdout)
    assert line["judge"] == "gemini:projects/proj/locations/us-central1/endpoints/7"
    assert line["job"] == "projects/proj/locations/us-central1/tuningJobs/1"
    assert json.loads(ledger.read_text().splitlines()[-1])["endpoint"].endswith("/endpoints/7")

    # what the job was given: gs:// URIs, a validation set, and A.2 examples staged under the prefix
    create = server.creates[0]
    assert create["supervisedTuningSpec"]["trainingDatasetUri"] == f"{STAGING}/train.jsonl"
    assert create["supervisedTuningSpec"]["validationDatasetUri"] == f"{STAGING}/validation.jsonl"
    assert any(path == "/token" for _, path, _ in server.requests)
    assert all(h.get("Authorization") == "Bearer loopback-token" for m, p, h in server.requests if "tuningJobs" in p)
    staged = tmp_path / "gcs" / "bucket" / "judge"
    rows = [json.loads(x) for x in (staged / "train.jsonl").read_text().splitlines()]
    assert len(rows) == len((built_set / "train" / "metadata.jsonl").read_text().splitlines())
    user, model = rows[0]["contents"]
    uris = [p["fileData"]["fileUri"] for p in user["parts"] if "fileData" in p]
    assert len(uris) == 2 and all(u.startswith(f"{STAGING}/images/") for u in uris)
    assert all((staged / "images" / u.rsplit("/", 1)[1]).is_file() for u in uris)
    assert parse_json(model["parts"][0]["text"], EditScores).status == "ok"


def test_a_killed_create_is_found_by_its_display_name(built_set: Path, vertex) -> None:
    """Killed after the create call was sent but before its job name was recorded: --resume adopts it."""
    from hilite_cli.stages.tune_judge.vertex import Ledger, display_name

    server, env = vertex
    name = display_name(built_set, "gemini-2.0-flash-001")
    Ledger(built_set / "vertex_tuning.jsonl").write(event="creating", display_name=name, base_model="gemini-2.0-flash-001")
    job = server.add_job("proj", "us-central1", name)
    server.final_state = "JOB_STATE_SUCCEEDED"
    res = _train(built_set, env, "--resume")
    assert res.returncode == 0, res.stderr.decode()
    assert server.creates == [] and orjson.loads(res.stdout)["job"] == job


@pytest.mark.parametrize("state", ["JOB_STATE_FAILED", "JOB_STATE_CANCELLED"])
def test_failed_or_cancelled_job_is_named(built_set: Path, vertex, state: str) -> None:
    server, env = vertex
    server.final_state = state
    res = _train(built_set, env)
    word = state.removeprefix("JOB_STATE_").lower()
    assert res.returncode == 1
    assert f"tuning job projects/proj/locations/us-central1/tuningJobs/1 ended {word}".encode() in res.stderr
    assert b"malformed line" in res.stderr and res.stdout == b""


def test_bad_staging_and_missing_settings_are_one_line_usage_errors(built_set: Path, vertex) -> None:
    _, env = vertex
    res = hilite("tune-judge", "train", str(built_set), "--backend", "vertex", "--staging", "/tmp/x", env=env)
    assert res.returncode == 2 and b"gs://" in res.stderr
    for variable in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION"):
        res = _train(built_set, {**env, variable: ""})
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and variable.encode() in res.stderr
    res = _train(built_set, {**env, "GOOGLE_APPLICATION_CREDENTIALS": "", "HOME": str(built_set),
                             "CLOUDSDK_CONFIG": str(built_set)})
    assert res.returncode == 2 and b"GOOGLE_APPLICATION_CREDENTIALS" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_gemini_judge_calls_the_tuned_vertex_endpoint(vertex, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from hilite_cli.images import encode_image
    from hilite_cli.providers import get_provider
    from hilite_cli.stages.judging import scoring_ask

    server, env = vertex
    for key, value in {**env, "GOOGLE_GENAI_USE_VERTEXAI": "true"}.items():
        monkeypatch.setenv(key, value)
    endpoint = "projects/proj/locations/us-central1/endpoints/7"
    png = encode_image(Image.new("RGB", (8, 8), (200, 30, 30)))
    answer = get_provider(f"gemini:{endpoint}", use_cache=False).ask(scoring_ask(png, png, "make it winter"))
    assert answer.status == "ok" and answer.value.InstructionAdherence == 4.5
    assert any(p == f"/v1beta1/{endpoint}:generateContent" for _, p, _ in server.requests)
