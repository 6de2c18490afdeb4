"""The diffusers backend's loading and rendering code, on a tiny randomly initialised
text-to-video pipeline (3D UNet, VAE, CLIP text encoder and a byte-level tokenizer written
here) that the test saves to a folder: the backend loads it from that folder only (offline),
renders, resizes and retimes the frames, and the MP4 writer encodes them. Real weights are the
operator's: none ship in any package."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from generator.backends import BackendError, RenderRequest
from generator.encode import write_mp4


def _byte_tokens() -> list[str]:
    """The 256 printable stand-ins GPT-2/CLIP byte-level BPE uses for bytes."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = [], 0
    for b in range(256):
        chars.append(chr(b) if b in keep else chr(256 + extra))
        extra += b not in keep
    return chars


def _tiny_pipeline(folder: Path) -> None:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 2}
    for token in _byte_tokens():
        for form in (token, token + "</w>"):
            vocab.setdefault(form, len(vocab) + (1 if len(vocab) == 1 else 0))
    (folder / "tok").mkdir(parents=True)
    (folder / "tok" / "vocab.json").write_text(json.dumps(vocab))
    (folder / "tok" / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        vocab_file=str(folder / "tok" / "vocab.json"),
        merges_file=str(folder / "tok" / "merges.txt"),
        model_max_length=16,
    )
    torch.manual_seed(0)
    unet = UNet3DConditionModel(
        block_out_channels=(4, 8),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=4,
        attention_head_dim=4,
        norm_num_groups=2,
    )
    vae = AutoencoderKL(
        block_out_channels=(8,),
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D"],
        latent_channels=4,
        sample_size=32,
        norm_num_groups=2,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=2,
            pad_token_id=1,
            hidden_size=4,
            intermediate_size=16,
            num_attention_heads=2,
            num_hidden_layers=2,
            vocab_size=1000,
            projection_dim=32,
            max_position_embeddings=16,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False
    )
    pipe = TextToVideoSDPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler
    )
    pipe.save_pretrained(str(folder / "pipeline"))


@pytest.mark.slow
def test_the_diffusers_backend_loads_a_saved_pipeline_and_renders(tmp_path: Path) -> None:
    from generator.backends.diffusion import DiffusersBackend

    _tiny_pipeline(tmp_path)
    backend = DiffusersBackend(
        tmp_path / "pipeline", native_width=32, native_height=32, native_fps=4, steps=2
    )
    assert backend.name.startswith("diffusers:TextToVideoSDPipeline")
    request = RenderRequest(prompt='a kite says "hello"', duration_s=2, width=64, height=48)
    rendering = backend.render(request)
    out = tmp_path / "clip.mp4"
    assert write_mp4(rendering, out) == pytest.approx(2.0)
    assert rendering.transcript == "hello" and len(rendering.audio) == 2 * 48000
    again = list(backend.render(request).frames)
    assert len(again) == 50 and again[0].shape == (48, 64, 3)
    assert len({frame.tobytes() for frame in again}) == 8  # 4 native frames per second
    assert np.ptp(np.stack(again)) > 0  # random weights still paint something


def test_a_folder_without_a_pipeline_is_refused(tmp_path: Path) -> None:
    from generator.backends.diffusion import DiffusersBackend

    with pytest.raises(BackendError, match=r"model_index\.json"):
        DiffusersBackend(tmp_path)
