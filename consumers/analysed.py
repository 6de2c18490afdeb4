"""One published item's media, decoded and analysed at most once in this process, whichever
signals read it: the frames sampled at `feed_frames_per_second` and the audio (one decode), the
faces in them with apparent ages and embeddings and the voice (one analysis), and the
provenance report (C2PA manifest, watermarks, fingerprints, generation record).

What is decoded follows what the signals of the process need: no audio when none reads audio
or voice, nothing at all for caption-only signals."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cameoguard.contracts import ContentPublished
from consumers.media_access import resolve_media
from consumers.runner import PermanentError
from safety.consent.analysis import MediaAnalysis, analyse
from safety.media import Media, MediaError, load_media

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
    def media(self) -> Media:
        settings = self.tools.settings
        try:
            return load_media(
                self.path,
                max_seconds=settings.likeness_max_seconds,
                frames_per_second=settings.feed_frames_per_second,
                max_frames=MAX_FRAMES,
                want_audio=bool(self.needs & {"audio", "voice"}),
            )
        except MediaError as exc:
            raise PermanentError(f"unreadable media: {exc}") from exc

    @cached_property
    def analysis(self) -> MediaAnalysis:
        """Faces (with apparent ages and embeddings) in the sampled frames, and the voice."""
        return analyse(self.media, self.tools.models)

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """The verification report. A trusted manifest naming a generation on record skips the
        watermark and fingerprint searches (its hard binding already proves the bytes)."""
        from provenance.verify import verify_file

        return verify_file(self.path, full_record=True, thorough=False)
