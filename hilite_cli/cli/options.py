"""Options shared by every stage command, declared once so each signature reads like its help."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

InputManifest = Annotated[str, typer.Argument(help="Input JSONL manifest, or - for stdin.", show_default=False)]
InputOrImage = Annotated[
    str,
    typer.Argument(help="Input JSONL manifest, - for stdin, or one image (then give the instruction).", show_default=False),
]
Output = Annotated[str, typer.Option("--output", "-o", help="Output JSONL manifest, or - for stdout.")]
Errors = Annotated[
    str | None,
    typer.Option("--errors", help="Manifest for failed records [default: <output>.errors.jsonl].", show_default=False),
]
Resume = Annotated[
    bool, typer.Option("--resume", help="Skip records already in the output manifest; repair a torn last line.")
]
Overwrite = Annotated[
    bool,
    typer.Option("--overwrite", help="Start the output over although it holds an earlier run's work (its resume ledger or state)."),
]
OutDir = Annotated[Path, typer.Option("--out", help="Folder for the images this stage writes.")]
Progress = Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")]
Executor = Annotated[
    str, typer.Option("--executor", help="local (this process) or ray (RAY_ADDRESS, or a local Ray instance).")
]
Workers = Annotated[int, typer.Option("--workers", min=1, help="Ray workers (actors); each loads the stage once.")]
MaxWorkers = Annotated[
    int | None,
    typer.Option("--max-workers", min=1, help="Ray: let the actor pool grow from --workers up to this many.", show_default=False),
]
GpusPerWorker = Annotated[
    float, typer.Option("--gpus-per-worker", min=0.0, help="GPUs Ray gives each worker (1 = one GPU per worker).")
]
BaseUrl = Annotated[
    str | None,
    typer.Option("--base-url", help="Server URL: an OpenAI-compatible server (vLLM, SGLang, Ollama) or a Gemini proxy."),
]
Concurrency = Annotated[int | None, typer.Option("--concurrency", min=1, help="Provider calls in flight at once.")]
Timeout = Annotated[float | None, typer.Option("--timeout", help="Seconds allowed per provider call.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Ask every call afresh: the response cache is neither read nor written.")]
Weights = Annotated[
    list[str] | None,
    typer.Option("--weights", help="NAME=DIR: load model NAME from a local folder instead of the HF cache (repeatable)."),
]
Device = Annotated[str | None, typer.Option("--device", help="cuda, cuda:1, cpu … [default: cuda if available].")]
Dtype = Annotated[
    str | None,
    typer.Option("--dtype", help="bfloat16, float16 or float32 (or bf16, fp16, fp32) [default: bf16/fp16 on CUDA, fp32 on CPU]."),
]
BatchApi = Annotated[
    bool,
    typer.Option("--batch-api", help="Send provider calls as batch jobs (Gemini batch mode, OpenAI Batch API): about "
                 "half the price; job ids kept in <output>.batches.jsonl, so a later run over the same output "
                 "collects finished jobs and never pays twice."),
]
BatchWait = Annotated[
    float | None,
    typer.Option("--batch-wait", min=0.0, help="Seconds to wait for batch jobs [configs/providers.toml]; 0 submits "
                 "and exits (records fail as `timeout`); a later run over the same output collects them."),
]
MaxRetries = Annotated[int | None, typer.Option("--max-retries", min=0, help="Retries per call on 429/5xx/timeouts and on malformed or safety-blocked answers.")]
