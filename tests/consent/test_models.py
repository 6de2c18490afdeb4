"""The real face, age and voice models on real photos and synthesised speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from safety.analysis import cluster_identities
from safety.consent.models import LikenessModels
from safety.media import load_media
from safety.models.face import InsightFaceBackend
from safety.models.text_embedder import ModelUnavailable
from tests.consent.conftest import FACES
from tests.media_factory import speech

pytestmark = pytest.mark.slow


def _embedding(models: LikenessModels, name: str) -> np.ndarray:
    faces = models.face.faces(load_media(FACES / name, max_seconds=1).frames[0][1])
    assert len(faces) == 1, name
    return faces[0].embedding


def test_same_person_matches_and_another_does_not(models: LikenessModels) -> None:
    obama = [_embedding(models, f) for f in ("obama.jpg", "obama2.jpg", "obama3.jpg")]
    biden = _embedding(models, "biden.jpg")
    threshold = models.face.match_threshold
    genuine = [float(a @ b) for i, a in enumerate(obama) for b in obama[i + 1 :]]
    impostor = [float(a @ biden) for a in obama]
    assert min(genuine) >= threshold > max(impostor)
    assert cluster_identities([*obama, biden], threshold) == [[0, 1, 2], [3]]


def test_two_faces_are_found_in_one_picture(models: LikenessModels, media: dict[str, Path]) -> None:
    rgb = load_media(media["two_people.jpg"], max_seconds=1).frames[0][1]
    faces = models.face.faces(rgb)
    assert len(faces) == 2
    ages = models.age.estimate(rgb, [f.box for f in faces])
    assert all(30 <= a.years <= 75 for a in ages), ages  # two adults in their 40s-60s
    assert not models.face.faces(load_media(media["no_face.png"], max_seconds=1).frames[0][1])


def test_voice_embedding_needs_speech(models: LikenessModels) -> None:
    voice = models.voice.embed(speech("four seven one nine three eight, my name is on file"))
    assert voice is not None and voice.embedding.shape == (256,)
    assert abs(float(np.linalg.norm(voice.embedding)) - 1.0) < 1e-5
    assert voice.speech_seconds > 1.5
    assert models.voice.embed(np.zeros(48_000, np.float32)) is None
    noise = np.random.default_rng(0).normal(0, 1e-5, 48_000).astype(np.float32)
    assert models.voice.embed(noise) is None


def test_same_synthetic_voice_scores_higher_than_another(models: LikenessModels) -> None:
    a = models.voice.embed(speech("the quick brown fox jumps over the lazy dog", "en-us"))
    b = models.voice.embed(speech("seven eight nine four two one, verify me", "en-us"))
    c = models.voice.embed(speech("seven eight nine four two one, verify me", "en-us+f3"))
    assert a and b and c
    assert float(a.embedding @ b.embedding) > float(a.embedding @ c.embedding)


def _tiny_arcface(folder: Path) -> Path:
    """A randomly initialised ONNX network with an ArcFace pack's input and output shapes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).normal(size=(3 * 14 * 14, 512)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node(
                "AveragePool", ["input.1"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]
            ),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["683"]),
        ],
        "tiny_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, 512])],
        initializer=[numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = folder / "w600k_tiny.onnx"
    onnx.save(model, str(path))
    (folder / "det_not_a_model.onnx").write_bytes(b"not onnx")
    return path


def test_insightface_pack_loading_with_a_tiny_random_pack(tmp_path: Path) -> None:
    _tiny_arcface(tmp_path)
    backend = InsightFaceBackend(tmp_path, threads=1)
    assert backend.dim == 512 and backend.name.endswith("w600k_tiny")
    faces = backend.faces(load_media(FACES / "obama.jpg", max_seconds=1).frames[0][1])
    assert len(faces) == 1 and faces[0].embedding.shape == (512,)
    assert abs(float(np.linalg.norm(faces[0].embedding)) - 1.0) < 1e-5
    with pytest.raises(ModelUnavailable, match="no insightface recognition model"):
        InsightFaceBackend(tmp_path / "missing")


def test_insightface_real_pack_when_an_operator_supplies_one() -> None:
    import os

    pack = os.environ.get("CAMEOGUARD_TEST_INSIGHTFACE_PACK")
    if not pack:
        pytest.skip(
            "no insightface pack: set CAMEOGUARD_TEST_INSIGHTFACE_PACK to a folder holding one "
            "(e.g. buffalo_l; non-commercial licence, not shipped or downloaded by us)"
        )
    backend = InsightFaceBackend(Path(pack))
    a = backend.faces(load_media(FACES / "obama.jpg", max_seconds=1).frames[0][1])[0]
    b = backend.faces(load_media(FACES / "obama2.jpg", max_seconds=1).frames[0][1])[0]
    c = backend.faces(load_media(FACES / "biden.jpg", max_seconds=1).frames[0][1])[0]
    assert (
        float(a.embedding @ b.embedding)
        > backend.match_threshold
        > float(a.embedding @ c.embedding)
    )


def test_real_speech_same_reader_scores_above_other_speakers(models: LikenessModels) -> None:
    voices = Path(__file__).parents[1] / "data" / "voices"

    def embed(name: str) -> np.ndarray:
        audio = load_media(voices / name, max_seconds=60).audio
        assert audio is not None
        result = models.voice.embed(audio)
        assert result is not None, name
        return result.embedding

    reader_a, reader_b = embed("librivox_austen_0870.wav"), embed("librivox_austen_0890.wav")
    other = embed("cmu_an4_chan3.wav")
    same = float(reader_a @ reader_b)
    assert same >= models.voice.match_threshold
    assert float(reader_a @ other) < models.voice.match_threshold < same


def test_multi_condition_voice_enrollment_hears_the_speaker_through_a_phone(
    models: LikenessModels,
) -> None:
    """A cameo keeps its voice as heard through each simulated channel: another recording of the
    same reader, heard through a phone or a noisy room, matches it where the clean enrollment
    embedding alone misses."""
    from safety.models.voice import multi_condition_score
    from safety.models.voice_channels import CHANNELS, channel

    voices = Path(__file__).parents[1] / "data" / "voices"

    def audio(name: str) -> np.ndarray:
        samples = load_media(voices / name, max_seconds=60).audio
        assert samples is not None
        return samples

    enrollment = models.voice.enroll([audio("librivox_austen_0870.wav")])
    assert enrollment is not None and enrollment.views.shape == (len(CHANNELS), 256)
    assert enrollment.utterances == 1
    threshold = models.voice.threshold_for_enrollment(len(CHANNELS), 1)
    assert threshold == models.voice.multi_condition_threshold
    reader, other = audio("librivox_austen_0890.wav"), audio("cmu_an4_chan3.wav")
    for name in ("phone", "noisy"):
        probe = models.voice.embed(channel(reader, name))
        stranger = models.voice.embed(channel(other, name))
        assert probe is not None and stranger is not None
        clean_only = float(enrollment.views[0] @ probe.embedding)
        assert clean_only < models.voice.match_threshold  # the single embedding misses
        genuine = multi_condition_score(enrollment.views, probe.embedding)
        assert genuine >= threshold
        assert genuine > multi_condition_score(enrollment.views, stranger.embedding)
    # Too little speech: no enrollment at all.
    assert models.voice.enroll([np.zeros(32_000, np.float32)]) is None
