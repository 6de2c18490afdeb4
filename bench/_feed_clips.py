"""The feed's clip mix for the feed benchmarks: our generator's output, marked and signed, and
an upload of real-looking footage with a face and no manifest."""

from __future__ import annotations

from pathlib import Path


def feed_clips(home: Path, signed: int, seed: int) -> list[str]:
    """Makes `signed` 10 s generator clips (visible mark, watermarks, C2PA manifest, generation
    record) and one unsigned selfie clip; stores them in the media store and returns their
    locations, the signed ones first. Migrates the database and loads the signing key first."""
    from assembly.migrate import upgrade
    from cameoguard import media_store
    from cameoguard.settings import get_settings
    from provenance.keys import load_signing_material
    from provenance.records import GenerationFacts
    from provenance.service import mark_and_sign
    from tests.consent.conftest import FACES
    from tests.media_factory import make_clip, make_selfie

    upgrade(get_settings().effective_database_url)
    load_signing_material()
    locations = []
    for i in range(signed):
        source = make_clip(home / f"source{i}.mp4", 10.0, 640, 360, seed=seed + i)
        facts = GenerationFacts(
            generation_id=f"gen_bench{seed}_{i}", creator_id="bench", cameo_ids=[],
            policy_pack="bench", decision="allow", generator="bench",
        )  # fmt: skip
        mark_and_sign(source, home / f"signed{i}.mp4", facts, actor="bench")
        locations.append(media_store.put(home / f"signed{i}.mp4"))
    face = make_selfie(home / "face.mp4", [FACES / "obama.jpg"], "hello from the lake",
                       size=(640, 360), seconds=10)  # fmt: skip
    locations.append(media_store.put(face))
    return locations
