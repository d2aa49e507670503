"""Tiny random-weight diffusers pipelines of each registered family, saved as local weight folders.

The sizes follow diffusers' own `get_dummy_components` test configs. Tokenizers are written from a
local vocabulary (CLIP: vocab.json + merges.txt; T5: a unigram list), so nothing is downloaded.
Tests load the saved folders through `load_model(name, weights={name: dir})`, the same path as real
weights. `build(name, dir)` dispatches on the registry name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLIP_VOCAB_SIZE = 1000
T5_WORDS = "a an the of in on with cat dog make it winter snow red blue photo painting remove add".split()


def _byte_chars() -> list[str]:
    """GPT-2/CLIP byte-to-unicode alphabet: every byte maps to one printable character."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def write_clip_tokenizer(directory: Path) -> Any:
    """A CLIPTokenizer over single characters, written as vocab.json + merges.txt and loaded back."""
    from transformers import CLIPTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    chars = _byte_chars()
    tokens = ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]
    (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(
        vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"), model_max_length=77
    )


def make_t5_tokenizer() -> Any:
    """A T5Tokenizer from an in-memory unigram vocabulary (special tokens first, as T5 expects)."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(f"▁{w}", -3.0) for w in T5_WORDS]
    pieces += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz.,!?'"]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=64)


def _clip_text_config(**extra: Any) -> Any:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=2,
        hidden_size=32,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=5,
        pad_token_id=1,
        vocab_size=CLIP_VOCAB_SIZE,
        **extra,
    )


def _sd_vae() -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
    )


def _sd_unet(in_channels: int, cross_attention_dim: int = 32) -> Any:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
    )


def _save(pipe: Any, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(directory, safe_serialization=True)
    return directory


def build_instruct_pix2pix(directory: Path) -> Path:
    """InstructPix2Pix: 8-channel UNet input (noise latents + source-image latents)."""
    import torch
    from diffusers import PNDMScheduler, StableDiffusionInstructPix2PixPipeline
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    unet = _sd_unet(in_channels=8)
    torch.manual_seed(0)
    vae = _sd_vae()
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_text_config())
    pipe = StableDiffusionInstructPix2PixPipeline(
        unet=unet,
        scheduler=PNDMScheduler(skip_prk_steps=True),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=write_clip_tokenizer(directory / "tokenizer"),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    return _save(pipe, directory)


def build_ledits(directory: Path) -> Path:
    """LEDITS++ over a tiny SD 1.5-shaped model (the registry's InfEdit substitute)."""
    import torch
    from diffusers import DPMSolverMultistepScheduler, LEditsPPPipelineStableDiffusion, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    # SD-shaped block layout: LEDITS++ reads cross-attention maps at 1/4 of the latent size.
    unet = UNet2DConditionModel(
        block_out_channels=(32, 32, 32, 32),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=8,
    )
    torch.manual_seed(0)
    vae = _sd_vae()
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_text_config())
    pipe = LEditsPPPipelineStableDiffusion(
        unet=unet,
        scheduler=DPMSolverMultistepScheduler(algorithm_type="sde-dpmsolver++", solver_order=2, steps_offset=1),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=write_clip_tokenizer(directory / "tokenizer"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return _save(pipe, directory)


def build_paint_by_example(directory: Path) -> Path:
    """Paint-by-Example: 9-channel UNet (latents + mask + masked image), CLIP-vision example encoder."""
    import torch
    from diffusers import PaintByExamplePipeline, PNDMScheduler
    from diffusers.pipelines.deprecated.paint_by_example import PaintByExampleImageEncoder
    from transformers import CLIPImageProcessor, CLIPVisionConfig

    torch.manual_seed(0)
    unet = _sd_unet(in_channels=9)
    torch.manual_seed(0)
    vae = _sd_vae()
    torch.manual_seed(0)
    vision = CLIPVisionConfig(
        hidden_size=32,
        projection_dim=32,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=5,
        image_size=32,
        patch_size=4,
    )
    pipe = PaintByExamplePipeline(
        vae=vae,
        image_encoder=PaintByExampleImageEncoder(vision, proj_size=32),
        unet=unet,
        scheduler=PNDMScheduler(skip_prk_steps=True),
        safety_checker=None,
        feature_extractor=CLIPImageProcessor(crop_size=32, size=32),
        requires_safety_checker=False,
    )
    return _save(pipe, directory)


def _flux_components(directory: Path) -> dict[str, Any]:
    """FLUX components after diffusers' Flux tests: 1+1 transformer blocks, 1-channel VAE latents."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextModel, T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8],
    )
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_text_config(hidden_act="gelu", projection_dim=32))
    tokenizer_2 = make_t5_tokenizer()
    torch.manual_seed(0)
    text_encoder_2 = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer_2), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                 relative_attention_num_buckets=8, decoder_start_token_id=0)
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=(4,),
        layers_per_block=1,
        latent_channels=1,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    return {
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "text_encoder": text_encoder,
        "text_encoder_2": text_encoder_2,
        "tokenizer": write_clip_tokenizer(directory / "tokenizer"),
        "tokenizer_2": tokenizer_2,
        "transformer": transformer,
        "vae": vae,
    }


def build_flux_schnell(directory: Path) -> Path:
    from diffusers import FluxPipeline

    return _save(FluxPipeline(**_flux_components(directory)), directory)


def build_flux_kontext(directory: Path) -> Path:
    from diffusers import FluxKontextPipeline

    return _save(FluxKontextPipeline(**_flux_components(directory), image_encoder=None, feature_extractor=None), directory)


SDXL_UNET = dict(
    block_out_channels=(32, 64),
    layers_per_block=2,
    in_channels=4,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    attention_head_dim=(2, 4),
    use_linear_projection=True,
    addition_embed_type="text_time",
    addition_time_embed_dim=8,
    transformer_layers_per_block=(1, 2),
    projection_class_embeddings_input_dim=80,
    cross_attention_dim=64,
)


def _sdxl_components(directory: Path) -> dict[str, Any]:
    """SDXL after diffusers' SDXL tests: two CLIP text encoders, text_time embeddings."""
    import torch
    from diffusers import EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=32, out_channels=4, up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), **SDXL_UNET
    )
    torch.manual_seed(0)
    vae = _sd_vae()
    config = _clip_text_config(hidden_act="gelu", projection_dim=32)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(config)
    torch.manual_seed(0)
    text_encoder_2 = CLIPTextModelWithProjection(config)
    return {
        "vae": vae,
        "text_encoder": text_encoder,
        "text_encoder_2": text_encoder_2,
        "tokenizer": write_clip_tokenizer(directory / "tokenizer"),
        "tokenizer_2": write_clip_tokenizer(directory / "tokenizer_2"),
        "unet": unet,
        "scheduler": EulerDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, steps_offset=1, beta_schedule="scaled_linear", timestep_spacing="leading"
        ),
        "feature_extractor": None,
        "image_encoder": None,
    }


def build_controlnet_sdxl(directory: Path) -> Path:
    """SDXL + a ControlNet with the UNet's down-path layout (diffusers' ControlNet-SDXL tests)."""
    import torch
    from diffusers import ControlNetModel, StableDiffusionXLControlNetPipeline

    components = _sdxl_components(directory)
    torch.manual_seed(0)
    controlnet = ControlNetModel(conditioning_embedding_out_channels=(16, 32), **SDXL_UNET)
    return _save(StableDiffusionXLControlNetPipeline(**components, controlnet=controlnet), directory)


def write_ip_adapter(unet: Any, folder: Path, weight_name: str) -> None:
    """A random IP-Adapter for `unet` laid out like h94/IP-Adapter: weights + image_encoder/ in `folder`.

    One to_k_ip/to_v_ip pair per cross-attention layer (numbered 1, 3, 5, ... as the released files
    are), a 4-token image projection, and a tiny CLIP vision encoder taking 224-px inputs.
    """
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    embed_dim, cross_dim = 32, unet.config.cross_attention_dim
    image_proj = {
        "proj.weight": torch.randn(cross_dim * 4, embed_dim) * 0.02,
        "proj.bias": torch.zeros(cross_dim * 4),
        "norm.weight": torch.ones(cross_dim),
        "norm.bias": torch.zeros(cross_dim),
    }
    ip_layers: dict[str, Any] = {}
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        to_k = unet.get_submodule(name.removesuffix(".processor")).to_k.weight
        ip_layers[f"{key_id}.to_k_ip.weight"] = torch.randn(to_k.shape[0], cross_dim) * 0.02
        ip_layers[f"{key_id}.to_v_ip.weight"] = torch.randn(to_k.shape[0], cross_dim) * 0.02
        key_id += 2
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"image_proj": image_proj, "ip_adapter": ip_layers}, folder / weight_name)
    vision = CLIPVisionConfig(hidden_size=32, projection_dim=embed_dim, intermediate_size=37, num_attention_heads=4,
                              num_hidden_layers=2, image_size=224, patch_size=32)
    CLIPVisionModelWithProjection(vision).save_pretrained(folder / "image_encoder")


def build_deadiff(directory: Path) -> Path:
    """SDXL img2img plus, under ip_adapter/, a tiny IP-Adapter in the h94/IP-Adapter layout (DEADiff substitute)."""
    from diffusers import StableDiffusionXLImg2ImgPipeline

    from hilite_cli.models.registry import get_spec

    components = _sdxl_components(directory)
    pipe = StableDiffusionXLImg2ImgPipeline(**components, requires_aesthetics_score=False)
    _save(pipe, directory)
    options = get_spec("deadiff").options
    write_ip_adapter(components["unet"], directory / "ip_adapter" / options["ip_adapter_subfolder"], options["ip_adapter_weight"])
    return directory


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "instruct-pix2pix": build_instruct_pix2pix,
    "controlnet-sdxl-canny": build_controlnet_sdxl,
    "deadiff": build_deadiff,
    "paint-by-example": build_paint_by_example,
    "anydoor": build_flux_kontext,  # the AnyDoor stand-in runs FLUX.1 Kontext inpainting over Kontext weights
    "infedit": build_ledits,
    "flux-kontext": build_flux_kontext,
    "flux-schnell": build_flux_schnell,
}


def build(name: str, directory: Path) -> Path:
    """Build and save the tiny pipeline registered as `name` into `directory`."""
    return BUILDERS[name](Path(directory))


QWEN_CHAT_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_qwen_chat_tokenizer() -> Any:
    """A character-level tokenizer with Qwen's chat tokens and a chat template (FLUX.2 [klein] formats prompts as chat)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(QWEN_CHAT_SPECIAL + [chr(c) for c in range(32, 127)] + ["\n"])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(QWEN_CHAT_SPECIAL)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = QWEN_CHAT_TEMPLATE
    return fast


def build_flux2_klein(directory: Path) -> Path:
    """FLUX.2 [klein]: Flux2 transformer over a 4-channel Flux2 VAE (16 after 2x2 patching), a 27-layer
    Qwen3 text encoder (the pipeline stacks hidden states 9, 18 and 27: joint dim 3 x 16), step-distilled."""
    import torch
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2KleinPipeline, Flux2Transformer2DModel
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = make_qwen_chat_tokenizer()
    torch.manual_seed(0)
    text_encoder = Qwen3ForCausalLM(Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=27, num_attention_heads=2,
        num_key_value_heads=1, head_dim=8, max_position_embeddings=1024))
    torch.manual_seed(0)
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16, num_attention_heads=2,
        joint_attention_dim=48, timestep_guidance_channels=32, axes_dims_rope=(4, 4, 4, 4), guidance_embeds=False)
    torch.manual_seed(0)
    vae = AutoencoderKLFlux2(
        block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=1, latent_channels=4, norm_num_groups=4, sample_size=32)
    pipe = Flux2KleinPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
                              tokenizer=tokenizer, transformer=transformer, is_distilled=True)
    return _save(pipe, directory)


BUILDERS["flux2-klein"] = build_flux2_klein
BUILDERS["flux2-klein-9b"] = build_flux2_klein
BUILDERS["flux2-klein-t2i"] = build_flux2_klein


def build_z_image(directory: Path) -> Path:
    """Z-Image: a 1+1-layer S3-DiT over a 4-channel SD-style VAE, a 2-layer Qwen3 text encoder (cap dim 16)."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, ZImagePipeline, ZImageTransformer2DModel
    from transformers import Qwen3Config, Qwen3Model

    tokenizer = make_qwen_chat_tokenizer()
    torch.manual_seed(0)
    text_encoder = Qwen3Model(Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=8, max_position_embeddings=1024))
    torch.manual_seed(0)
    transformer = ZImageTransformer2DModel(in_channels=4, dim=32, n_layers=1, n_refiner_layers=1, n_heads=2, n_kv_heads=2,
                                           cap_feat_dim=16, axes_dims=[4, 6, 6], axes_lens=[256, 64, 64])
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=[8, 16], in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        shift_factor=0.0, scaling_factor=1.0)
    pipe = ZImagePipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
                          tokenizer=tokenizer, transformer=transformer)
    return _save(pipe, directory)


BUILDERS["z-image-turbo"] = build_z_image
