"""Gemini batch mode through google-genai: `client.batches` with inline requests, or a JSONL file
uploaded with `client.files` when the requests exceed the inline size limit.

Each request carries its cache key (inline: `metadata.key`; file: the line's `key`), so results are
matched by key, never by position.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from hilite_cli.providers.batch.jobs import (
    LINE_ERRORS, BadLine, BatchError, BatchSettings, JobStatus, RawResult, read_results_file,
)
from hilite_cli.providers.errors import TransientError
from hilite_cli.providers.gemini import api_error_reason

if TYPE_CHECKING:
    from hilite_cli.providers.base import Ask
    from hilite_cli.providers.gemini import GeminiProvider

STATES = {
    "JOB_STATE_SUCCEEDED": "succeeded", "JOB_STATE_FAILED": "failed", "JOB_STATE_CANCELLED": "cancelled",
    "JOB_STATE_EXPIRED": "expired", "JOB_STATE_PARTIALLY_SUCCEEDED": "succeeded",
}


class GeminiBatches:
    def __init__(self, provider: GeminiProvider, settings: BatchSettings) -> None:
        self.provider = provider
        self.settings = settings

    def _sdk(self, step: Callable[[], Any]) -> Any:
        """Run an SDK call; 429/5xx/timeouts are transient, other API errors are final."""
        import httpx2
        from google.genai import errors

        try:
            return step()
        except errors.APIError as exc:
            raise BatchError(api_error_reason(exc)) from None
        except httpx2.TimeoutException:
            raise TransientError("timeout", "no reply from the batch endpoint") from None
        except httpx2.TransportError as exc:
            raise TransientError("http_error", f"connection failed: {type(exc).__name__}") from None

    def _request(self, key: str, ask: Ask) -> Any:
        from google.genai import types

        return types.InlinedRequest(
            contents=self.provider.contents(ask), config=self.provider._config(ask), metadata={"key": key}
        )

    def submit(self, items: list[tuple[str, Ask]]) -> str:
        from google.genai import _common, types
        from google.genai.batches import _InlinedRequest_to_mldev

        client = self.provider._client_once()
        requests = [self._request(key, ask) for key, ask in items]
        # The REST form of each request, as the SDK itself would send it inline.
        wire = [
            _common.encode_unserializable_types(_common.convert_to_dict(_InlinedRequest_to_mldev(client._api_client, r)))
            for r in requests
        ]
        size = sum(len(orjson.dumps(w)) for w in wire)
        config = types.CreateBatchJobConfig(display_name=f"hilite-{items[0][0][:12]}")
        if size <= self.settings.inline_limit_bytes:
            job = self._sdk(lambda: client.batches.create(model=self.provider.model, src=requests, config=config))
        else:
            lines = b"".join(orjson.dumps({"key": r.metadata["key"], "request": w["request"]}) + b"\n"
                             for r, w in zip(requests, wire, strict=True))
            upload = types.UploadFileConfig(display_name=config.display_name, mime_type="jsonl")
            uploaded = self._sdk(lambda: client.files.upload(file=io.BytesIO(lines), config=upload))
            job = self._sdk(lambda: client.batches.create(model=self.provider.model, src=uploaded.name, config=config))
        if not job.name:
            raise BatchError("the server created a batch job without a name")
        return job.name

    def _job(self, job: str) -> Any:
        """The SDK's BatchJob, or None when the SDK cannot read it: one inline response that is not
        an object breaks the parse of the whole job, so `_raw_job` then reads its JSON instead."""
        try:
            return self._sdk(lambda: self.provider._client_once().batches.get(name=job))
        except LINE_ERRORS:
            return None

    def _raw_job(self, job: str) -> dict[str, Any]:
        """The job's JSON as the server sent it (REST field names)."""
        client = self.provider._client_once()
        reply = self._sdk(lambda: client._api_client.request("get", job, {}))
        try:
            data = orjson.loads(reply.body or "{}")
        except orjson.JSONDecodeError as exc:
            raise BatchError(f"the status of {job} is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise BatchError(f"the status of {job} is not a JSON object")
        return data

    def poll(self, job: str) -> JobStatus:
        got = self._job(job)
        if got is None:
            state = str(_field(self._raw_job(job), "metadata", "state") or "").replace("BATCH_STATE_", "JOB_STATE_")
            return JobStatus(STATES.get(state, "running"), state.removeprefix("JOB_STATE_").lower())  # type: ignore[arg-type]
        state = getattr(got.state, "value", None) or str(got.state)
        detail = (got.error.message or "") if got.error is not None else state.removeprefix("JOB_STATE_").lower()
        return JobStatus(STATES.get(state, "running"), detail)  # type: ignore[arg-type]

    def results(self, job: str) -> dict[str, RawResult]:
        got = self._job(job)
        if got is None:
            return self._raw_results(job)
        dest = got.dest
        if dest is None:
            return {}
        if dest.inlined_responses is not None:
            return {
                (item.metadata or {}).get("key", ""): _result(
                    item.response, item.error, item.response.model_dump_json(exclude_none=True) if item.response else None)
                for item in dest.inlined_responses
            }
        if dest.file_name:
            return self._file_results(job, dest.file_name)
        return {}

    def _file_results(self, job: str, file_name: str) -> dict[str, RawResult]:
        data = self._sdk(lambda: self.provider._client_once().files.download(file=file_name))
        return read_results_file(job, data, "key", _file_result)

    def _raw_results(self, job: str) -> dict[str, RawResult]:
        """A job the SDK cannot read, read one response at a time: a bad one is that request's broken reply."""
        output = _field(self._raw_job(job), "metadata", "output")
        if isinstance(file_name := _field(output, "responsesFile"), str):
            return self._file_results(job, file_name)
        inlined = _field(output, "inlinedResponses", "inlinedResponses")
        if not isinstance(inlined, list):
            return {}
        lines = b"".join(orjson.dumps(_as_line(item)) + b"\n" for item in inlined)
        return read_results_file(job, lines, "key", _file_result)


def _field(data: Any, *path: str) -> Any:
    """`data[path[0]][path[1]]…`, or None where a step is missing or not an object."""
    for name in path:
        data = data.get(name) if isinstance(data, dict) else None
    return data


def _as_line(item: Any) -> Any:
    """An inline response in the form of a responses-file line (`key` beside `response` or `error`)."""
    if not isinstance(item, dict):
        return item
    return {"key": _field(item, "metadata", "key"), **{field: item[field] for field in ("response", "error") if field in item}}


def _file_result(item: dict[str, Any], line: bytes) -> RawResult:
    """One line of a responses file: `{"key", "response"}` or `{"key", "error"}`; a response that is
    not a GenerateContentResponse is that request's broken reply (raised, and kept with its line)."""
    from google.genai import types

    response = item.get("response")
    if response is not None and not isinstance(response, dict):
        raise BadLine("the line's `response` is not a JSON object")
    error = types.JobError.model_validate(item["error"]) if item.get("error") else None
    return _result(
        types.GenerateContentResponse.model_validate(response) if response is not None else None, error,
        orjson.dumps(response).decode() if response is not None else None,
    )


def _result(response: Any, error: Any, body: str | None) -> RawResult:
    if error is not None:
        code = error.code or 0
        return RawResult(error=f"request failed: {code} {error.message or ''}".strip(),
                         transient=code == 429 or code >= 500 or code == 0)
    if response is None:
        return RawResult(error="the job returned neither a response nor an error", transient=True)
    return RawResult(response=response, body=body)
