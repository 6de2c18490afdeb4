"""Face detection and identity embeddings.

Default backend: dlib's HOG detector, its 5-point landmark model and its 128-d ResNet identity
embedding, all from `dlib-bin` + `face_recognition_models` (weights inside the PyPI package,
loaded from disk). dlib reports 99.38% on LFW with a Euclidean distance of 0.6 between
descriptors. The descriptors are about 1.39 long (measured on our photos), so after L2
normalisation, for cosine similarity, 0.6 Euclidean corresponds to 1 - 0.6**2 / (2 * 1.39**2)
= 0.907; we use 0.90.

Second backend: an operator-supplied insightface recognition pack (ArcFace ONNX, 112x112 input,
512-d output) in a configured folder. Its packs are not on PyPI and are licensed for
non-commercial use only, so nothing here ships or downloads one. Detection and landmarks stay
dlib's; the face chip is dlib's 5-point alignment at 112 px, which is close to but not the same
as insightface's own template (see the README).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from safety.models.text_embedder import ModelUnavailable

DLIB_MATCH_THRESHOLD = 0.90  # cosine; dlib's documented 0.6 Euclidean (see above)
DETECT_MAX_SIDE = 960  # detection runs on a copy no larger than this; landmarks on the original
MIN_FACE_PX = 40  # smaller faces carry too little identity to match


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom in the image's pixels
    embedding: np.ndarray  # float32, unit length
    detection_score: float
    # dlib's 5 points (eye corners 0-1 and 2-3, nose 4) as a (5, 2) float array, for the pose
    # part of safety.models.scoring.face_quality_issue; None when a backend has none.
    landmarks: np.ndarray | None = None

    @property
    def size(self) -> int:
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])


class FaceBackend(Protocol):
    name: str
    dim: int
    match_threshold: float

    def faces(self, rgb: np.ndarray) -> list[Face]: ...


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _import_dlib_models() -> tuple[object, str, str]:
    try:
        import dlib

        with warnings.catch_warnings():  # face_recognition_models imports pkg_resources
            warnings.simplefilter("ignore")
            import face_recognition_models as frm
    except Exception as exc:
        raise ModelUnavailable(f"dlib face models not installed: {exc}") from exc
    return (
        dlib,
        frm.pose_predictor_five_point_model_location(),
        frm.face_recognition_model_location(),
    )


class _DlibFrontEnd:
    """Detector + 5-point landmarks, shared by both backends."""

    def __init__(self) -> None:
        dlib, landmarks_path, recognition_path = _import_dlib_models()
        try:
            self.dlib = dlib
            self.detector = dlib.get_frontal_face_detector()  # type: ignore[attr-defined]
            self.landmarks = dlib.shape_predictor(landmarks_path)  # type: ignore[attr-defined]
        except Exception as exc:
            raise ModelUnavailable(f"cannot load dlib landmarks: {exc}") from exc
        self.recognition_path = recognition_path
        self.lock = threading.Lock()

    def detect(self, rgb: np.ndarray) -> list[tuple[object, float]]:
        """Face rectangles (in `rgb` coordinates) with their detector scores."""
        height, width = rgb.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
        small = rgb
        if scale < 1.0:
            step = int(np.ceil(1 / scale))  # integer decimation keeps this dependency-free
            small = np.ascontiguousarray(rgb[::step, ::step])
            scale = 1.0 / step
        upsample = 1 if max(small.shape[:2]) < 640 else 0
        rects, scores, _ = self.detector.run(small, upsample, 0.0)  # type: ignore[attr-defined]
        out = []
        for rect, score in zip(rects, scores, strict=True):
            r = self.dlib.rectangle(  # type: ignore[attr-defined]
                int(rect.left() / scale),
                int(rect.top() / scale),
                int(rect.right() / scale),
                int(rect.bottom() / scale),
            )
            if min(r.width(), r.height()) >= MIN_FACE_PX:
                out.append((r, float(score)))
        return out

    def faces(
        self, rgb: np.ndarray, embed: Callable[[np.ndarray, object], np.ndarray]
    ) -> list[Face]:
        """Detects faces, finds each one's landmarks and embeds it with `embed(rgb, shape)`."""
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        with self.lock:
            found = []
            for rect, score in self.detect(rgb):
                shape = self.landmarks(rgb, rect)  # type: ignore[attr-defined]
                points = np.array(
                    [(p.x, p.y) for p in shape.parts()],
                    dtype=np.float32,  # type: ignore[attr-defined]
                )
                found.append(Face(_box(rect), _unit(embed(rgb, shape)), score, points))
        return found


def _box(rect: object) -> tuple[int, int, int, int]:
    return (rect.left(), rect.top(), rect.right(), rect.bottom())  # type: ignore[attr-defined]


class DlibFaceBackend:
    name = "dlib-resnet-v1"
    dim = 128
    match_threshold = DLIB_MATCH_THRESHOLD

    def __init__(self) -> None:
        self.front = _DlibFrontEnd()
        try:
            self.encoder = self.front.dlib.face_recognition_model_v1(  # type: ignore[attr-defined]
                self.front.recognition_path
            )
        except Exception as exc:
            raise ModelUnavailable(f"cannot load the dlib face embedding: {exc}") from exc

    def _embed(self, rgb: np.ndarray, shape: object) -> np.ndarray:
        return np.array(self.encoder.compute_face_descriptor(rgb, shape, 0))  # type: ignore[attr-defined]

    def faces(self, rgb: np.ndarray) -> list[Face]:
        return self.front.faces(rgb, self._embed)


INSIGHTFACE_MATCH_THRESHOLD = 0.40  # cosine; ArcFace packs are usually operated around 0.3-0.5


class InsightFaceBackend:
    """An ArcFace recognition model from an insightface pack folder (operator supplied)."""

    dim = 512
    match_threshold = INSIGHTFACE_MATCH_THRESHOLD

    def __init__(self, pack_dir: Path, threads: int = 2) -> None:
        pack_dir = Path(pack_dir)
        candidates = sorted(pack_dir.glob("*.onnx")) if pack_dir.is_dir() else []
        model_path = self._recognition_model(candidates)
        if model_path is None:
            raise ModelUnavailable(
                f"no insightface recognition model (*.onnx taking 1x3x112x112) in {pack_dir}"
            )
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.name = f"insightface:{pack_dir.name}/{model_path.stem}"
        self.front = _DlibFrontEnd()

    @staticmethod
    def _recognition_model(candidates: list[Path]) -> Path | None:
        import onnx

        for path in candidates:
            try:
                graph = onnx.load(str(path), load_external_data=False).graph
            except Exception:
                continue
            dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
            if dims[1:] == [3, 112, 112]:
                return path
        return None

    def _embed(self, rgb: np.ndarray, shape: object) -> np.ndarray:
        chip = self.front.dlib.get_face_chip(rgb, shape, size=112, padding=0.1)  # type: ignore[attr-defined]
        blob = ((np.asarray(chip, dtype=np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
        return self.session.run(None, {self.input_name: blob})[0][0]

    def faces(self, rgb: np.ndarray) -> list[Face]:
        return self.front.faces(rgb, self._embed)
