"""Fast tests of the consent area's pure parts: permissions, restrictions, sealing, the 1:N
indexes, and media reading with bad input."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag
from PIL import Image

from cameoguard.errors import RefusalKind
from safety.consent import permissions as perms
from safety.consent.index import ExactIndex, FaissIndex
from safety.consent.sealing import seal_vector, unseal_vector
from safety.media import MediaError, load_media
from tests.media_factory import make_clip

FACES = Path(__file__).parents[1] / "data" / "faces"


@pytest.mark.parametrize(
    ("permission", "approved", "requester", "mutual", "granted"),
    [
        ("only_me", [], "owner", False, True),
        ("only_me", [], "stranger", True, False),
        ("approved", ["friend"], "friend", False, True),
        ("approved", ["friend"], "stranger", True, False),
        ("mutuals", [], "stranger", True, True),
        ("mutuals", [], "stranger", False, False),
        ("everyone", [], "stranger", False, True),
    ],
)
def test_who_may_use(permission, approved, requester, mutual, granted) -> None:
    access = perms.who_may_use(
        owner_id="owner",
        owner_is_minor=False,
        permission=permission,
        approved=approved,
        requester_id=requester,
        requester_is_mutual=mutual,
    )
    assert access.granted is granted and access.reason


def test_a_minor_owner_cannot_open_up_even_in_an_old_row() -> None:
    with pytest.raises(perms.PermissionError_, match="under 18"):
        perms.validate_settings("everyone", [], [], owner_is_minor=True)
    access = perms.who_may_use(
        owner_id="kid",
        owner_is_minor=True,
        permission="everyone",
        approved=[],
        requester_id="stranger",
        requester_is_mutual=True,
    )
    assert not access.granted and "under 18" in access.reason


def test_settings_validation() -> None:
    with pytest.raises(perms.PermissionError_, match="one of"):
        perms.validate_settings("friends", [], [], False)
    with pytest.raises(perms.PermissionError_, match="approved user"):
        perms.validate_settings("approved", [], [], False)
    with pytest.raises(perms.PermissionError_, match="restriction"):
        perms.validate_settings("only_me", [], ["x" * 300], False)
    perms.validate_settings("approved", ["a"], ["no political content"], True)


def test_restriction_topics() -> None:
    assert perms.restriction_topic("no political content") == "political"
    assert perms.restriction_topic("Nothing romantic.") == "romantic"
    assert perms.restriction_topic("pas de contenu politique") == "politique"
    assert perms.topics_of("nothing romantic")[0].categories == ("sexual",)
    assert perms.anchor_texts("no cooking videos") == ["cooking"]  # no curated topic


def test_restriction_match_by_similarity_words_or_category() -> None:
    prompt = np.array([1.0, 0.0], np.float32)
    far = np.array([[0.0, 1.0]], np.float32)
    near = np.array([[0.0, 1.0], [0.9, 0.436]], np.float32)
    hits = perms.match_restrictions(["no cooking"], "a cake", prompt, [near], {}, False)
    assert hits and hits[0].similarity == pytest.approx(0.9, abs=1e-3)
    assert not perms.match_restrictions(["no cooking"], "a cake", prompt, [far], {}, False)
    by_score = perms.match_restrictions(
        ["nothing romantic"], "a walk", prompt, [far], {"sexual": 0.8}, False
    )
    assert by_score[0].categories == {"sexual": 0.8} and "sexual score" in by_score[0].reason()
    by_word = perms.match_restrictions(["no alcohol"], "Beers at a bar", prompt, [far], {}, False)
    assert by_word[0].words == ["bar", "beers"]
    assert not perms.match_restrictions(["no alcohol"], "a barbecue", prompt, [far], {}, False)
    # Owners under 18 get a lower similarity threshold.
    mid = np.array([[0.26, 0.966]], np.float32)
    assert not perms.match_restrictions(["no cooking"], "x", prompt, [mid], {}, False)
    assert perms.match_restrictions(["no cooking"], "x", prompt, [mid], {}, True)


def test_sealed_vectors_open_only_in_their_own_row_and_field(database: str) -> None:
    vector = np.arange(8, dtype=np.float32)
    blob = seal_vector(vector, "cam_1", "face_embedding")
    assert vector.tobytes() not in blob
    assert np.array_equal(unseal_vector(blob, "cam_1", "face_embedding"), vector)
    with pytest.raises(InvalidTag):
        unseal_vector(blob, "cam_2", "face_embedding")
    with pytest.raises(InvalidTag):
        unseal_vector(blob, "cam_1", "voice_embedding")


def test_registry_scores_a_multi_view_voice_by_its_best_view(database: str) -> None:
    """A voice enrolled as several channel views is one person in a 1:N search: its best view's
    score, its shape for the threshold, and never two hits for the same cameo."""
    from cameoguard.db import session_scope
    from safety.consent.registry import Registry
    from safety.consent.tables import Cameo

    rng = np.random.default_rng(5)
    views = rng.normal(size=(2, 4, 32)).astype(np.float32)
    views /= np.linalg.norm(views, axis=2, keepdims=True)
    with session_scope(write=True) as session:
        for i, cameo_views in enumerate(views):
            cameo_id = f"cam_views{i}"
            session.add(
                Cameo(
                    id=cameo_id,
                    owner_id=f"owner{i}",
                    permission="only_me",
                    face_model="face-test",
                    face_embedding=seal_vector(cameo_views[0], cameo_id, "face_embedding"),
                    voice_model="voice-test",
                    voice_embedding=seal_vector(
                        cameo_views.reshape(-1), cameo_id, "voice_embedding"
                    ),
                    voice_views=4,
                    voice_utterances=3,
                )
            )
    probe = views[0, 2] + 0.05 * rng.normal(size=32).astype(np.float32)
    with session_scope() as session:
        hits = Registry().search(session, "voice", "voice-test", probe, k=3)
    assert [entry.id for entry, _ in hits] == ["cam_views0", "cam_views1"]
    entry, score = hits[0]
    assert (entry.views, entry.utterances) == (4, 3)
    unit = probe / np.linalg.norm(probe)
    assert score == pytest.approx(float(np.max(views[0] @ unit)), abs=1e-5)


def test_exact_and_faiss_indexes_agree() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(2000, 128)).astype(np.float32)
    keys = [f"k{i}" for i in range(len(vectors))]
    exact, approx = ExactIndex(keys, vectors, 128), FaissIndex(keys, vectors, 128)
    agree = 0
    for i in range(50):
        query = vectors[i * 7] + 0.3 * rng.normal(size=128).astype(np.float32)
        top = exact.search(query, 3)
        assert top[0].key == f"k{i * 7}" and top[0].score >= top[1].score >= top[2].score
        agree += approx.search(query, 1)[0].key == top[0].key
    assert agree >= 49
    assert ExactIndex([], np.zeros((0, 128)), 128).search(vectors[0], 3) == []


def test_media_type_comes_from_the_bytes(tmp_path: Path) -> None:
    image = Image.open(FACES / "obama.jpg")
    for fmt in ("PNG", "WEBP", "JPEG"):
        path = tmp_path / "upload.mp4"  # a misleading name
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        path.write_bytes(buffer.getvalue())
        media = load_media(path, max_seconds=10)
        assert media.kind == "image" and media.frames[0][1].shape == (800, 640, 3)


def test_bad_media_is_refused_with_a_reason(tmp_path: Path) -> None:
    cases = {
        "empty": b"",
        "text": b"this is not a video at all\n" * 10,
        "truncated_jpeg": (FACES / "obama.jpg").read_bytes()[:5000],
    }
    statuses = {}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(MediaError) as info:
            load_media(path, max_seconds=10)
        statuses[name] = info.value.kind
        assert str(info.value)
    assert statuses["text"] is RefusalKind.unsupported
    clip = make_clip(tmp_path / "clip.mp4", seconds=3.0, width=160, height=96)
    with pytest.raises(MediaError, match="limit") as info:
        load_media(clip, max_seconds=1.0)
    assert info.value.kind is RefusalKind.too_large and info.value.code == "media_too_large"
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    with pytest.raises(MediaError):
        load_media(truncated, max_seconds=10)


def test_video_frames_and_audio_are_sampled(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=4.0, width=160, height=96)
    media = load_media(clip, max_seconds=10, frames_per_second=1.0)
    assert media.kind == "video" and 4 <= len(media.frames) <= 5
    assert media.audio is not None and abs(media.audio.size / 16_000 - 4.0) < 0.2
    sparse = load_media(clip, max_seconds=10, frames_per_second=5.0, max_frames=3)
    assert len(sparse.frames) == 3 and sparse.frames[-1][0] > 2.0
