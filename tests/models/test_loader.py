"""Loading: local folders and hub ids, clear errors, device/dtype choice, one load per process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hilite_cli.models.base import ModelLoadError
from hilite_cli.models.diffusers_editors import oom_guard
from hilite_cli.models.loader import load_model, load_pipeline, resolve_dtype, resolve_device
from hilite_cli.models.registry import get_spec
from hilite_cli.records import RecordError


def test_missing_hub_weights_name_the_hub_id_and_both_fixes() -> None:
    with pytest.raises(ModelLoadError) as err:
        load_model("instruct-pix2pix", device="cpu")
    message = str(err.value)
    assert err.value.kind == "weights_missing"
    assert "hf download timbrooks/instruct-pix2pix" in message
    assert "--weights instruct-pix2pix=DIR" in message


def test_fetch_hint_names_every_repo_a_model_needs() -> None:
    with pytest.raises(ModelLoadError) as err:
        load_model("controlnet-sdxl-canny", device="cpu")
    message = str(err.value)
    assert "hf download stabilityai/stable-diffusion-xl-base-1.0" in message
    assert "hf download diffusers/controlnet-canny-sdxl-1.0" in message


def test_weights_folder_that_is_not_a_pipeline(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="paint-by-example"):
        load_model("paint-by-example", weights={"paint-by-example": tmp_path / "missing"}, device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="Fantasy-Studio/Paint-by-Example"):
        load_model("paint-by-example", weights={"paint-by-example": tmp_path / "empty"}, device="cpu")


def test_pipeline_is_loaded_once_per_process(tiny_dir: Callable[[str], Path]) -> None:
    weights = {"instruct-pix2pix": tiny_dir("instruct-pix2pix")}
    first = load_model("instruct-pix2pix", weights=weights, device="cpu")
    second = load_model("instruct-pix2pix", weights=weights, device="cpu", dtype="fp32")
    assert first.pipe is second.pipe


def test_two_pipelines_over_the_same_weights_share_their_modules(tiny_dir: Callable[[str], Path]) -> None:
    folder = tiny_dir("flux-kontext")
    kontext = load_model("flux-kontext", weights={"flux-kontext": folder}, device="cpu")
    anydoor = load_model("anydoor", weights={"anydoor": folder}, device="cpu")
    assert type(anydoor.pipe).__name__ == "FluxKontextInpaintPipeline" and anydoor.spec.name == "anydoor"
    assert anydoor.pipe.transformer is kontext.pipe.transformer  # one copy of the weights in memory


def test_wrong_input_kinds_name_the_missing_field(tiny_dir: Callable[[str], Path], photo: Image.Image) -> None:
    editor = load_model("paint-by-example", weights={"paint-by-example": tiny_dir("paint-by-example")})
    with pytest.raises(RecordError, match="mask") as err:
        editor.edit(photo, prompt=None, seeds=[1], params={}, reference=photo)
    assert err.value.kind == "missing_input"
    with pytest.raises(RecordError, match="reference_image"):
        editor.edit(photo, prompt=None, seeds=[1], params={}, mask=np.ones((36, 44), bool))
    ip2p = load_model("instruct-pix2pix", weights={"instruct-pix2pix": tiny_dir("instruct-pix2pix")})
    with pytest.raises(RecordError, match="prompt"):
        ip2p.edit(photo, prompt=None, seeds=[1], params={})


def test_out_of_memory_becomes_an_actionable_record_error() -> None:
    import torch

    with pytest.raises(RecordError, match="fewer seeds") as err:
        with oom_guard(get_spec("flux-kontext"), 16, (1024, 1024)):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
    assert err.value.kind == "out_of_memory"


def test_device_and_dtype_choice() -> None:
    import torch

    assert resolve_device("cpu") == "cpu"
    assert resolve_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_dtype("cpu", None) is torch.float32
    assert resolve_dtype("cpu", "bf16") is torch.bfloat16
    assert resolve_dtype("cuda", "fp16") is torch.float16
    with pytest.raises(ValueError, match="dtype"):
        resolve_dtype("cpu", "int4")


@pytest.mark.parametrize(
    ("device", "words"),
    [("tpu", "not a device torch knows"), ("cuda", "no CUDA GPU is visible"), ("cuda:7", "CUDA"), ("quantum", "not a device")],
)
def test_bad_devices_are_refused_in_one_line(device: str, words: str) -> None:
    import torch

    from hilite_cli.models.loader import check_device

    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible here")
    with pytest.raises(ValueError, match=words) as err:
        check_device(device)
    assert "\n" not in str(err.value)
    check_device("cpu")


def test_unknown_dtype_and_weights_names_are_refused(tmp_path: Path) -> None:
    from hilite_cli.models.loader import check_dtype, check_weights

    with pytest.raises(ValueError, match="'foo' is not a dtype"):
        check_dtype("foo")
    with pytest.raises(ValueError, match="no model 'instruct-pix2px' is registered"):
        check_weights({"instruct-pix2px": tmp_path})
    check_weights({"instruct-pix2pix": tmp_path})


def test_load_pipeline_rejects_a_file_as_weights(tmp_path: Path) -> None:
    import torch

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="not a directory"):
        load_pipeline(get_spec("instruct-pix2pix"), weights=weights, device="cpu", dtype=torch.float32)


def test_classic_is_served_by_the_opencv_editor() -> None:
    from hilite_cli.models.classic import ClassicEditor

    editor = load_model("classic")
    assert isinstance(editor, ClassicEditor) and editor.spec.name == "classic"
