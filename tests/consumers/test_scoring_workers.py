"""The minors and deepfake signals on real media and real models (no broker needed: the runner
and the storage path are tested with the harassment signal)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cameoguard.contracts import ContentPublished
from cameoguard.settings import get_settings
from consumers.media_access import resolve_media
from consumers.runner import PermanentError
from consumers.signals import deepfake
from safety.consent.models import LikenessModels, get_models
from tests.consent.conftest import FACES
from tests.feed import score
from tests.media_factory import make_selfie

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models() -> LikenessModels:
    return get_models()


def _publish(name: str, source: Path, caption: str, **extra: object) -> ContentPublished:
    store = get_settings().effective_media_dir
    store.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, store / name)
    return ContentPublished(
        item_id=f"item-{name}",
        media_location=name,
        caption=caption,
        author_id="author_1",
        author_age_group="adult",
        published_at=datetime.now(UTC),
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("feed")
    return {
        "obama": make_selfie(root / "o.mp4", [FACES / "obama.jpg"], "hello there", seconds=10),
        "biden": make_selfie(root / "b.mp4", [FACES / "biden.jpg"], "hello there", seconds=10),
    }


def test_media_outside_the_store_is_refused(database: str) -> None:
    with pytest.raises(PermanentError, match="outside the media store"):
        resolve_media("../../etc/passwd")
    with pytest.raises(FileNotFoundError):
        resolve_media("missing.mp4")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_minors_risk_from_caption_faces_and_context(
    database: str, models: LikenessModels, clips: dict[str, Path]
) -> None:
    calm = score("minors", _publish("a.mp4", clips["obama"], "a speech about the economy"))
    assert calm.scores["risk"] < 0.3 and calm.scores["faces_under_threshold"] == 0
    kid = score(
        "minors", _publish("b.mp4", clips["obama"], "my daughter's first day of middle school")
    )
    assert 0.3 <= kid.scores["risk"] < 0.6 and kid.scores["caption_terms"] >= 2
    # With a huge margin the adult face counts as possibly young: the face path is exercised.
    wide = score("minors", _publish("c.mp4", clips["obama"], "hello"), minor_age_margin=40)
    assert wide.scores["faces_under_threshold"] > 0 and wide.scores["risk"] >= 0.35
    assert any(e["kind"] == "face" and e["apparent_age"] for e in wide.evidence)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_deepfake_risk_for_a_protected_face(
    database: str, models: LikenessModels, clips: dict[str, Path], tmp_path: Path
) -> None:
    from provenance.keys import create_dev_chain
    from provenance.records import GenerationFacts
    from provenance.service import mark_and_sign
    from safety.consent.protected import add_protected_person

    create_dev_chain(get_settings().home / "signing")
    add_protected_person("Joe Biden", "", models, [FACES / "biden.jpg"], actor="test")
    nobody = score("deepfake", _publish("o.mp4", clips["obama"], "hi"))
    assert nobody.scores["risk"] == 0.0 and nobody.scores["ai_generated"] == 0.0
    real = score("deepfake", _publish("b.mp4", clips["biden"], "hi"))
    assert real.scores["risk"] == deepfake.RISK_REAL_FOOTAGE
    assert any(e.get("match", "").startswith("protected:") for e in real.evidence)
    # The speech's synthetic-voice probability is evidence beside the risk, which it leaves alone.
    assert 0.0 <= real.scores["synthetic_voice"] <= 1.0
    assert any(e["kind"] == "synthetic_voice" for e in real.evidence)
    generated = tmp_path / "gen.mp4"
    facts = GenerationFacts("gen_df", "author_1", [], "pack@1", "allow", "test")
    mark_and_sign(clips["biden"], generated, facts, actor="test")
    fake = score("deepfake", _publish("g.mp4", generated, "hi"))
    assert fake.scores["risk"] == deepfake.RISK_PROTECTED and fake.scores["ai_generated"] == 1.0
    assert fake.scores["segment_0s"] == deepfake.RISK_PROTECTED
