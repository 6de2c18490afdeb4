"""Marking and signing one output: the public function the generator calls after the scan."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from cameoguard.db import session_scope
from cameoguard.settings import get_settings
from provenance import records
from provenance.c2pa_manifest import GenerationClaim, sign_file
from provenance.fingerprint import fingerprint_video
from provenance.keys import load_signing_material
from provenance.marking import mark_file
from provenance.records import GenerationFacts
from provenance.verify import file_sha256, watermark_key
from provenance.visible_mark import mark_text


@dataclass(frozen=True)
class MarkedOutput:
    path: Path
    watermark_id: str
    sha256: str
    generation_id: str


def mark_and_sign(src: Path, dst: Path, facts: GenerationFacts, *, actor: str) -> MarkedOutput:
    """Watermarks `src`, signs the C2PA manifest (the last step), writes `dst` and records it.
    Nothing is written to `dst` or the database unless every step succeeds."""
    material = load_signing_material()
    with session_scope(write=True) as session:
        watermark_id = records.new_watermark_id(session)
    with tempfile.TemporaryDirectory(dir=dst.parent) as tmp:
        marked = Path(tmp) / "marked.mp4"
        visible = mark_text(get_settings().visible_mark_brand, facts.creator_handle)
        mark_file(src, marked, watermark_key(), watermark_id, visible_text=visible)
        signed = Path(tmp) / "signed.mp4"
        claim = GenerationClaim(
            generation_id=facts.generation_id,
            watermark_id=watermark_id,
            policy_pack=facts.policy_pack,
            decision=facts.decision,
            model=facts.generator,
        )
        sign_file(marked, signed, claim, material)
        digest = file_sha256(signed)
        fingerprints = fingerprint_video(signed)
        with session_scope(write=True) as session:
            records.register(
                session,
                facts,
                watermark_id=watermark_id,
                sha256=digest,
                fingerprints=fingerprints,
                actor=actor,
            )
            signed.replace(dst)
    return MarkedOutput(dst, f"{watermark_id:016x}", digest, facts.generation_id)
