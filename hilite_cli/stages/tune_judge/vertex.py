"""Tune Gemini on Vertex AI (google-genai `client.tunings.tune`, supervised, with a validation set).

1. Stage: the images and one Vertex tuning JSONL per split are written under the `gs://` prefix
   through fsspec (gcsfs, the `vertex` extra). `HILITE_GCS_STAND_IN=<fsspec URL>` writes what would
   go to `gs://B/P` to `<stand-in>/B/P` instead, while the job is still given the gs:// URIs: the
   tests' (and a dry run's) stand-in for Cloud Storage.
2. Create: the job's display name is derived from the training set, and a `creating` event is
   fsynced to the ledger before the call, the job name after it; a `--resume` after a kill in between
   finds the job by that name (tunings.list) instead of creating a second one.
3. Poll until the job ends: success records and returns the tuned model and endpoint; a failed,
   cancelled or expired job raises TuningJobFailed naming the job and its state.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.config import load_config

LEDGER = "vertex_tuning.jsonl"
STAND_IN = "HILITE_GCS_STAND_IN"
SUCCEEDED = "JOB_STATE_SUCCEEDED"
FAILED = frozenset({"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"})


class TuningJobFailed(RuntimeError):
    """A tuning job that ended without a model: its name, state and the service's message."""

    def __init__(self, job: str, state: str, message: str | None) -> None:
        self.job, self.state = job, state
        super().__init__(f"tuning job {job} ended {state.removeprefix('JOB_STATE_').lower()}"
                         + (f": {message}" if message else ""))


class StillRunning(RuntimeError):
    """The wait limit passed with the job still running; `--resume` picks it up."""


@dataclass(frozen=True)
class Tuned:
    job: str
    model: str | None
    endpoint: str | None

    @property
    def judge(self) -> str:
        return f"gemini:{self.endpoint or self.model}"


def local_url(gs_url: str) -> str:
    """Where a gs:// URL is written: itself, or under the HILITE_GCS_STAND_IN root."""
    root = os.environ.get(STAND_IN, "").strip()
    return f"{root.rstrip('/')}/{gs_url.removeprefix('gs://')}" if root else gs_url


def _put(fs_url: str, data: bytes) -> None:
    import fsspec

    with fsspec.open(fs_url, "wb") as fh:
        fh.write(data)


def vertex_rows(set_dir: Path, split: str, staging: str) -> list[dict[str, Any]]:
    """The split as Vertex tuning examples: user = both images (fileData gs:// URIs) then A.2, model = the answer."""
    from hilite_cli.providers.media import image_mime

    rows = []
    folder = set_dir / split
    for line in (folder / "metadata.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        user, assistant = row["messages"]
        parts = []
        for name in row["file_names"]:
            path = (folder / name).resolve()
            parts.append({"fileData": {"mimeType": image_mime(path.read_bytes()[:64]),
                                       "fileUri": f"{staging}/images/{path.name}"}})
        parts.append({"text": next(c["text"] for c in user["content"] if c["type"] == "text")})
        rows.append({"contents": [{"role": "user", "parts": parts},
                                  {"role": "model", "parts": [{"text": assistant["content"][0]["text"]}]}]})
    return rows


def stage(set_dir: Path, staging: str) -> dict[str, str]:
    """Upload images and both JSONL files; returns the gs:// URI of each split's JSONL."""
    staging = staging.rstrip("/")
    for image in sorted((set_dir / "images").iterdir()):
        _put(local_url(f"{staging}/images/{image.name}"), image.read_bytes())
    uris = {}
    for split in ("train", "validation"):
        uris[split] = f"{staging}/{split}.jsonl"
        _put(local_url(uris[split]), b"".join(orjson.dumps(r) + b"\n" for r in vertex_rows(set_dir, split, staging)))
    return uris


class Ledger:
    """`<out>/vertex_tuning.jsonl`: append-only events, each fsynced before the next step."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []

    def last(self, event: str) -> dict[str, Any] | None:
        return next((e for e in reversed(self.events) if e["event"] == event), None)

    def write(self, **event: Any) -> None:
        event = {**event, "at": time.time()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as fh:
            fh.write(orjson.dumps(event) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.events.append(event)


def display_name(set_dir: Path, base_model: str) -> str:
    digest = hashlib.sha256((set_dir / "split.json").read_bytes() + base_model.encode()).hexdigest()
    return f"hilite-judge-{digest[:12]}"


def _state(job: Any) -> str:
    return getattr(job.state, "value", None) or str(job.state)


def _find(client: Any, name: str) -> str | None:
    """The job created under display name `name`, if the service has one."""
    for job in client.tunings.list():
        if job.tuned_model_display_name == name:
            return job.name
    return None


def tune_vertex(
    client: Any, set_dir: Path, out: Path, *, staging: str, base_model: str | None = None, resume: bool = False,
    poll_seconds: float | None = None, max_wait: float | None = None, sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda _: None,
) -> Tuned:
    """Stage, create (once) and wait for a supervised tuning job; see the module docstring."""
    from google.genai import types

    cfg = load_config("tuning")["vertex"]
    base_model = base_model or cfg["base_model"]
    poll = float(cfg["poll_seconds"] if poll_seconds is None else poll_seconds)
    limit = float(cfg["max_wait_seconds"] if max_wait is None else max_wait)
    ledger = Ledger(out / LEDGER)
    created = ledger.last("created")
    name = display_name(set_dir, base_model)
    # 1. the job: the one in the ledger, the one a killed run created before recording it, or a new one
    job_name = created["job"] if created else None
    if job_name is None and ledger.last("creating") is not None:
        job_name = _find(client, name)
        if job_name:
            ledger.write(event="created", job=job_name, found_by="display_name")
    if job_name is None:
        uris = stage(set_dir, staging)
        ledger.write(event="staged", uris=uris)
        ledger.write(event="creating", display_name=name, base_model=base_model)
        job = client.tunings.tune(
            base_model=base_model,
            training_dataset=types.TuningDataset(gcs_uri=uris["train"]),
            config=types.CreateTuningJobConfig(
                tuned_model_display_name=name, epoch_count=int(cfg["epochs"]),
                validation_dataset=types.TuningValidationDataset(gcs_uri=uris["validation"]),
            ),
        )
        job_name = job.name
        ledger.write(event="created", job=job_name)
    log(f"tuning job {job_name}")
    # 2. wait
    start = time.monotonic()
    while True:
        job = client.tunings.get(name=job_name)
        state = _state(job)
        if state == SUCCEEDED:
            tuned = Tuned(job=job_name, model=job.tuned_model.model if job.tuned_model else None,
                          endpoint=job.tuned_model.endpoint if job.tuned_model else None)
            ledger.write(event="ended", job=job_name, state=state, model=tuned.model, endpoint=tuned.endpoint)
            return tuned
        if state in FAILED:
            message = job.error.message if job.error is not None else None
            ledger.write(event="ended", job=job_name, state=state, message=message)
            raise TuningJobFailed(job_name, state, message)
        if time.monotonic() - start >= limit:
            raise StillRunning(f"tuning job {job_name} is still {state}; run again with --resume to keep waiting")
        sleep(poll)
