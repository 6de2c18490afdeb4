"""Provenance reads every format the C2PA library reads: files of each type signed here with the
library's Builder (WebP, GIF, TIFF, PDF, MP3, FLAC, M4A, MOV) read back as signed (`Valid` with
`signingCredential.untrusted` for a signer the service does not trust, as the reference library
says of the C2PA public test files; `Trusted` under our anchors). A type the library does not
read is "unsupported format", never "no manifest"."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from PIL import Image
from typer.testing import CliRunner

from assembly.cli import app
from provenance.c2pa_manifest import GenerationClaim, read_manifest, sign_file
from provenance.keys import SigningMaterial, create_dev_chain
from provenance.verify import sniff_file, verify_file
from tests.media_factory import make_clip

CLAIM = GenerationClaim(
    generation_id="gen_formats", watermark_id=0x0123456789ABCDEF, policy_pack="p@1",
    decision="allow", model="test-backend",
)  # fmt: skip


def _remux(src: Path, dst: Path, fmt: str) -> Path:
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux(*inp.streams):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def _audio(src: Path, dst: Path, fmt: str, codec: str) -> Path:
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt) as out:
        audio = inp.streams.audio[0]
        encoder = out.add_stream(codec, rate=audio.codec_context.sample_rate)
        for frame in inp.decode(audio):
            frame.pts = None
            for packet in encoder.encode(frame):
                out.mux(packet)
        for packet in encoder.encode():
            out.mux(packet)
    return dst


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    made = {}
    for ext in ("webp", "gif", "tiff", "pdf"):
        image.save(folder / f"src.{ext}")
        made[ext] = folder / f"src.{ext}"
    clip = make_clip(folder / "clip.mp4", seconds=2)
    made["mov"] = _remux(clip, folder / "src.mov", "mov")
    made["mp3"] = _audio(clip, folder / "src.mp3", "mp3", "mp3")
    made["flac"] = _audio(clip, folder / "src.flac", "flac", "flac")
    made["m4a"] = _audio(clip, folder / "src.m4a", "ipod", "aac")
    return made


@pytest.fixture(scope="module")
def outside_signer(tmp_path_factory: pytest.TempPathFactory) -> SigningMaterial:
    chain = create_dev_chain(tmp_path_factory.mktemp("outside-signer"))
    return SigningMaterial(
        cert_chain_pem=chain["chain"].read_bytes(),
        private_key_pem=chain["key"].read_bytes(),
        trust_anchors_pem=chain["anchors"].read_bytes(),
        source="development",
    )


EXPECTED = {
    "webp": "image/webp", "gif": "image/gif", "tiff": "image/tiff", "pdf": "application/pdf",
    "mov": "video/quicktime", "mp3": "audio/mpeg", "flac": "audio/flac", "m4a": "audio/mp4",
}  # fmt: skip


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("ext", list(EXPECTED))
def test_a_signed_file_of_each_format_reads_as_signed(
    database: str,
    ext: str,
    sources: dict[str, Path],
    outside_signer: SigningMaterial,
    tmp_path: Path,
) -> None:
    signed = tmp_path / f"signed.{ext}"
    sign_file(sources[ext], signed, CLAIM, outside_signer)
    assert sniff_file(signed) == EXPECTED[ext]
    with signed.open("rb") as fh:
        assert read_manifest(fh, outside_signer.trust_anchors_pem, EXPECTED[ext]).state == "Trusted"
    report = verify_file(signed, full_record=True, thorough=False)
    assert report["c2pa"]["present"] is True
    assert report["c2pa"]["state"] == "Valid"  # a signer this service does not trust
    assert "signingCredential.untrusted" in report["c2pa"]["status_codes"]
    assert "unknown signer" in report["verdict"]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_unsigned_supported_is_no_manifest_and_unknown_is_unsupported(
    database: str, sources: dict[str, Path], tmp_path: Path
) -> None:
    unsigned = verify_file(sources["pdf"], full_record=True, thorough=False)
    assert unsigned["c2pa"]["present"] is False and unsigned["c2pa"].get("state") is None
    assert unsigned["verdict"].startswith("No content credentials")

    bmp = tmp_path / "picture.bmp"
    Image.new("RGB", (8, 8)).save(bmp)
    report = verify_file(bmp, full_record=True, thorough=False)
    assert report["c2pa"]["state"] == "unsupported"
    assert "unsupported format" in report["c2pa"]["error"]
    assert report["verdict"].startswith("Unsupported format")
    shown = CliRunner().invoke(app, ["verify", str(bmp)])
    assert shown.exit_code == 1 and "unsupported format" in shown.stdout
    assert "no manifest" not in shown.stdout
