"""One published item's media, decoded and analysed at most once in this process, whichever
signals read it: the frames sampled at `feed_frames_per_second` for the face models and, in the
same pass over the video, every frame the provenance marks read (watermark, fingerprint); the
audio once (the voice and the audio watermark); the faces with apparent ages and embeddings and
the voice (one analysis); and the provenance report (C2PA manifest, marks, generation record).

What is decoded follows what the signals of the process need: no audio when none reads audio
or voice, nothing at all for caption-only signals."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cameoguard.contracts import ContentPublished
from consumers.media_access import resolve_media
from consumers.runner import PermanentError
from provenance.marks.base import Mark, MarkSource
from provenance.marks.registry import marks
from provenance.verify import (
    Credentials,
    assemble_report,
    detect_marks,
    marks_needed,
    read_credentials,
    watermark_key,
)
from safety.analysis import MediaAnalysis, analyse
from safety.media import FrameTap, Media, MediaError, load_media

if TYPE_CHECKING:
    from consumers.signals.base import Need, SignalTools

MAX_FRAMES = 30  # frames a feed item is sampled into, at most


class AnalysedMedia:
    def __init__(self, item: ContentPublished, tools: SignalTools, needs: frozenset[Need]):
        self.item = item
        self.tools = tools
        self.needs = needs

    @cached_property
    def path(self) -> Path:
        return resolve_media(self.item.media_location)

    @cached_property
    def credentials(self) -> Credentials:
        """What the file says of itself (type, digest, C2PA manifest, the record it names)."""
        return read_credentials(self.path)

    @cached_property
    def _marks(self) -> list[Mark]:
        """The marks to look for: none when no signal reads provenance, or when a trusted
        manifest names a generation on record (its hard binding already proves the bytes)."""
        if "provenance" not in self.needs or not marks_needed(self.credentials, thorough=False):
            return []
        return marks(watermark_key())

    @cached_property
    def _taps(self) -> dict[str, FrameTap]:
        return {m.name: tap for m in self._marks if (tap := m.frame_tap()) is not None}

    @cached_property
    def media(self) -> Media:
        """The one decode: frames sampled for the face models and, in the same pass, every
        frame the marks read; the audio once."""
        settings = self.tools.settings
        try:
            return load_media(
                self.path,
                max_seconds=settings.likeness_max_seconds,
                frames_per_second=settings.feed_frames_per_second,
                max_frames=MAX_FRAMES,
                want_audio=bool(self.needs & {"audio", "voice"}) or bool(self._marks),
                taps=list(self._taps.values()),
            )
        except MediaError as exc:
            raise PermanentError(f"unreadable media: {exc}") from exc

    @cached_property
    def analysis(self) -> MediaAnalysis:
        """Faces (with apparent ages and embeddings) in the sampled frames, and the voice."""
        return analyse(self.media, self.tools.models)

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """The verification report, from the credentials and the marks found in the one
        decode (the searches are skipped when a trusted manifest names a generation)."""
        detections = None
        if self._marks:
            source = MarkSource(self.path, self.media.audio, self._taps)
            detections = detect_marks(self._marks, source)
        return assemble_report(self.credentials, detections, full_record=True)
