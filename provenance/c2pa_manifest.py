"""Signing a C2PA manifest into our output (the last step: any remux strips it) and reading the
manifest of any C2PA producer's media for the auditor's report."""

from __future__ import annotations

import base64
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import c2pa

from cameoguard import __version__
from provenance.keys import SigningMaterial

log = logging.getLogger("cameoguard.provenance")

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATION_ASSERTION = "com.cameoguard.generation"

MIME_BY_SUFFIX = {
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".wav": "audio/wav",
    ".webp": "image/webp",
    ".mp3": "audio/mpeg",
    ".mov": "video/quicktime",
    ".pdf": "application/pdf",
    ".gif": "image/gif",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".avif": "image/avif",
    ".heic": "image/heic",
    ".flac": "audio/flac",
}


@dataclass(frozen=True)
class GenerationClaim:
    """What our manifest says about a generated video (no personal data)."""

    generation_id: str
    watermark_id: int  # the 64-bit payload of the invisible watermark
    policy_pack: str
    decision: str
    model: str  # the generator backend and its version
    title: str = "generated.mp4"


def _soft_bindings(watermark_id: int) -> list[dict[str, Any]]:
    """One soft-binding assertion per algorithm of the registered marks (the video and audio
    watermarks share one: the same id spread in luma and in sound)."""
    from provenance.marks.registry import MARKS

    value = base64.b64encode(watermark_id.to_bytes(8, "big")).decode()
    algorithms = list(dict.fromkeys(m.soft_binding_alg for m in MARKS if m.soft_binding_alg))
    return [
        {
            "label": "c2pa.soft-binding",
            "data": {
                "alg": alg,
                "name": "cameoguard invisible watermark",
                "blocks": [{"scope": {}, "value": value}],
            },
        }
        for alg in algorithms
    ]


def build_manifest(claim: GenerationClaim) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": "cameoguard", "version": __version__}],
        "title": claim.title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": claim.model, "version": __version__},
                        },
                        {
                            "action": "c2pa.watermarked",
                            "softwareAgent": {"name": "cameoguard-watermark", "version": "1"},
                            "parameters": {
                                "description": "invisible spread-spectrum watermark in video "
                                "luma and audio, 64-bit id",
                            },
                        },
                    ]
                },
            },
            *_soft_bindings(claim.watermark_id),
            {
                "label": GENERATION_ASSERTION,
                "data": {
                    "generation_id": claim.generation_id,
                    "watermark_id": f"{claim.watermark_id:016x}",
                    "policy_pack": claim.policy_pack,
                    "decision": claim.decision,
                },
            },
        ],
    }


def sign_file(source: Path, dest: Path, claim: GenerationClaim, material: SigningMaterial) -> None:
    """Writes `dest`: `source` with a signed manifest. Raises on any signing error."""
    mime = MIME_BY_SUFFIX.get(source.suffix.lower())
    if mime is None:
        raise ValueError(f"cannot sign {source.suffix} files")
    info = c2pa.C2paSignerInfo(
        alg="es256",
        sign_cert=material.cert_chain_pem,
        private_key=material.private_key_pem,
        ta_url=material.tsa_url.encode() if material.tsa_url else None,
    )
    signer = c2pa.Signer.from_info(info)
    try:
        with (
            c2pa.Builder(json.dumps(build_manifest(claim))) as builder,
            source.open("rb") as src,
            dest.open("wb") as dst,
        ):
            builder.sign(signer, mime, src, dst)
    finally:
        signer.close()


@dataclass
class C2paReport:
    present: bool
    # exactly the library's validation_state: Trusted, Valid, Invalid; or "unsupported" (a format
    # the library does not read)
    state: str | None = None
    status_codes: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    claim_generator: str | None = None
    signer: dict[str, Any] | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    digital_source_type: str | None = None
    ingredients: list[dict[str, Any]] = field(default_factory=list)
    generation: dict[str, Any] | None = None  # our assertion, when the manifest is ours
    soft_binding: dict[str, Any] | None = None
    error: str | None = None


def _trust_context(anchors_pem: bytes) -> c2pa.Context:
    settings = {
        "version": 1,
        "trust": {"trust_anchors": anchors_pem.decode()},
        "verify": {"verify_trust": True, "remote_manifest_fetch": False, "ocsp_fetch": False},
    }
    return c2pa.Context(c2pa.Settings.from_json(json.dumps(settings)))


def _codes(results: dict[str, Any]) -> tuple[list[str], list[dict[str, str]]]:
    codes: list[str] = []
    failures: list[dict[str, str]] = []
    active = results.get("activeManifest") or {}
    for kind in ("success", "informational", "failure"):
        for entry in active.get(kind, []) or []:
            codes.append(entry.get("code", ""))
            if kind == "failure":
                failures.append(
                    {"code": entry.get("code", ""), "explanation": entry.get("explanation", "")}
                )
    for ingredient in results.get("ingredientDeltas", []) or []:
        for entry in (ingredient.get("validationDeltas") or {}).get("failure", []) or []:
            codes.append(entry.get("code", ""))
            failures.append(
                {"code": entry.get("code", ""), "explanation": entry.get("explanation", "")}
            )
    return list(dict.fromkeys(c for c in codes if c)), failures


def read_manifest(
    data: bytes | BinaryIO, anchors_pem: bytes, mime: str | None = None
) -> C2paReport:
    """Reads and validates the manifest in `data` (bytes, or a binary stream such as an open file,
    which the library reads without loading it whole). Never raises: a library error is
    `Invalid`."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with c2pa.Reader(mime or "", stream, context=_trust_context(anchors_pem)) as r:
            store = json.loads(r.json())
    except Exception as exc:
        message = str(exc)
        if (
            "ManifestNotFound" in type(exc).__name__
            or "no JUMBF" in message.lower()
            or ("manifest" in message.lower() and "not found" in message.lower())
        ):
            return C2paReport(present=False)
        log.info("c2pa reader error", extra={"error": message[:300]})
        return C2paReport(
            present=True, state="Invalid", error=f"{type(exc).__name__}: {message[:500]}"
        )
    active_label = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(active_label or "", {})
    codes, failures = _codes(store.get("validation_results") or {})
    for entry in store.get("validation_status") or []:
        code = entry.get("code", "")
        if code and code not in codes:
            codes.append(code)
            failures.append({"code": code, "explanation": entry.get("explanation", "")})
    report = C2paReport(
        present=True,
        state=store.get("validation_state"),
        status_codes=codes,
        failures=failures,
        signer=manifest.get("signature_info"),
        ingredients=[
            {
                k: v
                for k, v in ing.items()
                if k in ("title", "format", "relationship", "instance_id")
            }
            for ing in manifest.get("ingredients", []) or []
        ],
    )
    generators = manifest.get("claim_generator_info") or []
    if generators:
        first = generators[0]
        report.claim_generator = f"{first.get('name', '?')} {first.get('version', '')}".strip()
    elif manifest.get("claim_generator"):
        report.claim_generator = manifest["claim_generator"]
    for assertion in manifest.get("assertions", []) or []:
        label = assertion.get("label", "")
        data = assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            for action in data.get("actions", []) or []:
                report.actions.append(
                    {
                        k: action[k]
                        for k in ("action", "digitalSourceType", "softwareAgent")
                        if k in action
                    }
                )
                if action.get("digitalSourceType") and report.digital_source_type is None:
                    report.digital_source_type = action["digitalSourceType"]
        elif label == GENERATION_ASSERTION:
            report.generation = data
        elif label.startswith("c2pa.soft-binding"):
            report.soft_binding = data
    return report
