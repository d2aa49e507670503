"""`hilite mask`: draw masks for mask-guided editors and change analysis."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hilite_cli.cli.aliases import renamed
from hilite_cli.cli.oneoff import is_image_path
from hilite_cli.cli.options import Errors, Executor, GpusPerWorker, MaxWorkers, Output, Overwrite, Progress, Resume, Workers
from hilite_cli.cli.runner import exit_with, guard_outputs, run_manifest, usage_error
from hilite_cli.core import PATH_FIELDS

if TYPE_CHECKING:
    from hilite_cli.stages.mask import MaskSpec

SHORT = "Draw masks (box, polygon, brush strokes, image difference, text) as single-channel PNGs."
HELP = f"""{SHORT}

\b
One image:  hilite mask photo.jpg --box 0.25,0.25,0.75,0.75 -o mask.png
A manifest: cat tasks.jsonl | hilite mask - --box 0.25,0.25,0.75,0.75 --out masks/ > out.jsonl
(adds a `mask` field to each task record).

Box and polygon coordinates are pixels, or fractions of the size when all lie in [0, 1].
Shapes are unioned; --dilate, --invert and --feather then apply in that order.
"""


def command(
    input: Annotated[str, typer.Argument(help="An image (one-off), a JSONL manifest of tasks, or - for stdin.")],
    box: Annotated[str | None, typer.Option(help="x0,y0,x1,y1 in pixels or 0–1 fractions.")] = None,
    polygon: Annotated[str | None, typer.Option(help="'x,y x,y x,y …' vertices, pixels or fractions.")] = None,
    strokes: Annotated[
        Path | None, typer.Option(help="Brush strokes JSON ({strokes:[{points,radius}]} or a fabric.js canvas export).")
    ] = None,
    diff: Annotated[
        str | None,
        typer.Option(help="Edited image (or, for a manifest, a record field such as `output`): mask |edited − source| > --diff-threshold."),
    ] = None,
    diff_threshold: Annotated[int, typer.Option(help="Pixel difference (0–255) above which --diff marks a pixel (NHR uses 40).")] = 40,
    text: Annotated[str | None, typer.Option(help="Mask what this text names, with a segmentation model (CLIPSeg).")] = None,
    text_threshold: Annotated[float, typer.Option(help="Probability threshold for --text.")] = 0.4,
    segmenter: Annotated[str, typer.Option(help="Hub id or local folder of the --text segmentation model.")] = "CIDAS/clipseg-rd64-refined",
    dilate: Annotated[int, typer.Option(help="Grow the mask by this many pixels.")] = 0,
    invert: Annotated[bool, typer.Option("--invert", help="Swap masked and unmasked.")] = False,
    feather: Annotated[float, typer.Option(help="Soften edges: Gaussian sigma in pixels (mask becomes 0–255).")] = 0.0,
    field: Annotated[str, typer.Option(help="Record field that receives the mask path.")] = "mask",
    out: Annotated[Path, typer.Option("--out", help="Folder for mask PNGs (manifest form).")] = Path("masks"),
    output: Output = "-",
    errors: Errors = None,
    resume: Resume = False,
    overwrite: Overwrite = False,
    progress: Progress = True,
    executor: Executor = "local",
    workers: Workers = 1,
    gpus_per_worker: GpusPerWorker = 0.0,
    threshold: Annotated[int | None, typer.Option("--threshold", hidden=True)] = None,
    max_workers: MaxWorkers = None,
) -> None:
    from hilite_cli.stages.mask import MaskSpec, MaskStage, load_strokes, parse_box, parse_polygon

    threshold = renamed(diff_threshold, threshold, "--diff-threshold", "--threshold", 40)
    try:
        stroke_list, canvas = load_strokes(strokes) if strokes else ([], None)
        spec = MaskSpec(
            box=parse_box(box) if box else None,
            polygon=parse_polygon(polygon) if polygon else None,
            strokes=stroke_list,
            canvas=canvas,
            diff=diff,
            threshold=threshold,
            dilate=dilate,
            invert=invert,
            feather=feather,
            text=text,
            text_threshold=text_threshold,
            segmenter=segmenter,
        )
        spec.check()
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    if text and executor == "local":  # loaded here, it is the one the local run uses
        from hilite_cli.models.segment import SegmentError, ensure_loaded

        try:
            ensure_loaded(str(Path(segmenter)) if Path(segmenter).is_dir() else segmenter)  # the stage's key
        except SegmentError as exc:
            raise usage_error(str(exc)) from None

    if is_image_path(input):
        _one_image(spec, input, output, strokes)
        return
    stage = MaskStage(spec, out, field)
    # a --diff or --field naming the user's own field holds an image path too
    extra = tuple(f for f in (diff, field) if f and "." not in f and "/" not in f and f not in PATH_FIELDS)
    summary = run_manifest(stage, input, output, errors, resume=resume, overwrite=overwrite, progress=progress,
                           executor=executor, workers=workers, gpus_per_worker=gpus_per_worker, max_workers=max_workers,
                           path_fields=extra, reads=[("--strokes", strokes)])
    exit_with(summary)


def _one_image(spec: MaskSpec, image: str, output: str, strokes: Path | None) -> None:
    """Write the mask of one image straight to `-o` (default `<image>.mask.png`)."""
    import numpy as np

    from hilite_cli.images import ImageError, encode_image, load_image, mask_to_image, write_bytes_atomic
    from hilite_cli.records import RecordError

    target = Path(f"{Path(image).with_suffix('')}.mask.png") if output == "-" else Path(output)
    guard_outputs([("the image", image), ("--diff", spec.diff), ("--strokes", strokes)], [("-o", target)])
    try:
        source = np.asarray(load_image(image))
        edited = np.asarray(load_image(spec.diff)) if spec.diff else None
        mask = spec.draw(source, edited)
    except (ImageError, RecordError) as exc:
        raise usage_error(str(exc)) from None
    write_bytes_atomic(target, encode_image(mask_to_image(mask)))
    print(f"mask written to {target}", file=sys.stderr)
