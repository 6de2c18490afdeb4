"""The auditor's verification, over the API and the CLI: signed, stripped, foreign, broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assembly.cli import app
from provenance.records import GenerationFacts
from provenance.service import mark_and_sign
from provenance.verify import verify_file
from tests.conftest import auth, make_key
from tests.media_factory import make_clip, transcode


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 10 s, like a feed clip: the audio watermark needs about 8 s to survive AAC at 64 kbit/s.
    return make_clip(tmp_path_factory.mktemp("src") / "clip.mp4", seconds=10, seed=9)


@pytest.fixture
def signed(client: TestClient, source: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out.mp4"
    facts = GenerationFacts(
        generation_id="gen_auditor", creator_id="user_7", cameo_ids=["cam_1"],
        policy_pack="cameoguard-default@x", decision="allow", generator="test",
    )  # fmt: skip
    mark_and_sign(source, out, facts, actor="test")
    return out


def post(client: TestClient, key: str, data: bytes):
    return client.post(
        "/v1/provenance/verify",
        content=data,
        headers={**auth(key), "Content-Type": "application/octet-stream"},
    )


def test_signed_output_verifies_as_trusted_with_record(client: TestClient, signed: Path) -> None:
    response = post(client, make_key("auditor"), signed.read_bytes())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["c2pa"]["present"] and report["c2pa"]["state"] == "Trusted"
    assert report["watermark"]["found"] is True
    assert report["record"]["generation_id"] == "gen_auditor"
    assert report["record"]["creator_id"] == "user_7" and report["record"]["cameo_ids"] == ["cam_1"]
    assert report["record_source"] == "c2pa"
    assert report["fingerprint"]["match"] is True
    assert "trusted signer" in report["verdict"]


def test_the_feeds_quick_check_skips_the_searches_only_under_a_trusted_manifest(
    client: TestClient, signed: Path, tmp_path: Path
) -> None:
    quick = verify_file(signed, full_record=True, thorough=False)
    assert quick["record"]["generation_id"] == "gen_auditor" and quick["record_source"] == "c2pa"
    assert quick["watermark"]["checked"] is False and "skipped" in quick["watermark"]["reason"]
    copy = transcode(signed, tmp_path / "reupload.mp4", crf=28, height=240)
    stripped = verify_file(copy, full_record=True, thorough=False)
    assert stripped["watermark"]["checked"] and stripped["watermark"]["found"]
    assert stripped["record_source"] in ("watermark", "fingerprint")


def test_stripped_copy_is_traced_by_its_watermark(
    client: TestClient, signed: Path, tmp_path: Path
) -> None:
    copy = transcode(signed, tmp_path / "reupload.mp4", crf=28, height=240)
    report = post(client, make_key("auditor"), copy.read_bytes()).json()
    assert report["c2pa"]["present"] is False
    assert report["watermark"]["found"] is True
    assert report["record"]["generation_id"] == "gen_auditor"
    assert report["record_source"] == "watermark"
    assert report["fingerprint"]["match"] is True  # the 240p copy still looks like the original
    assert report["fingerprint"]["watermark_id"] == report["watermark"]["id"]
    assert report["watermark"]["found_in"] == ["video", "audio"]  # AAC 64 kbit/s in the copy


def test_soundtrack_alone_is_traced_by_the_audio_watermark(
    client: TestClient, signed: Path, tmp_path: Path
) -> None:
    """Only the sound, re-encoded as a 64 kbit/s MP3: the audio watermark finds the record."""
    import av

    mp3 = tmp_path / "soundtrack.mp3"
    with av.open(str(signed)) as inp, av.open(str(mp3), "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=44_100)
        stream.bit_rate, stream.layout = 64_000, "mono"
        resampler = av.AudioResampler(format="s16p", layout="mono", rate=44_100)
        for frame in inp.decode(audio=0):
            for converted in resampler.resample(frame):
                for packet in stream.encode(converted):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    report = post(client, make_key("auditor"), mp3.read_bytes()).json()
    assert report["watermark"]["found_in"] == ["audio"]
    assert report["record"]["generation_id"] == "gen_auditor"
    assert report["record_source"] == "watermark"


def test_platform_scope_gets_the_record_without_personal_data(
    client: TestClient, signed: Path
) -> None:
    report = post(client, make_key("platform"), signed.read_bytes()).json()
    assert report["record"]["generation_id"] == "gen_auditor"
    assert "creator_id" not in report["record"] and "cameo_ids" not in report["record"]


def test_reviewer_cannot_verify(client: TestClient, signed: Path) -> None:
    assert post(client, make_key("reviewer"), signed.read_bytes()).status_code == 403


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,  # a PNG that is cut short
        b"\xff\xd8\xff\xe0" + b"garbage" * 50,  # a broken JPEG
        b"RIFF\x10\x00\x00\x00WAVEfmt ",  # a truncated WAV
        b"just some text, not media",
        b"\x00\x00\x00\x18ftypisom" + b"\x01" * 3000,  # an MP4 header and nothing sound behind it
    ],
)
def test_broken_or_foreign_files_get_a_report_not_an_error(client: TestClient, data: bytes) -> None:
    response = post(client, make_key("auditor"), data)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["record"] is None
    assert report["verdict"]


def test_file_that_lies_about_its_type(client: TestClient, signed: Path, tmp_path: Path) -> None:
    report = post(client, make_key("auditor"), signed.read_bytes()).json()
    assert report["file"]["type"] == "video/mp4"  # sniffed from the bytes, not from any name


def test_empty_upload_is_422(client: TestClient) -> None:
    response = post(client, make_key("auditor"), b"")
    assert response.status_code == 422


def test_cli_verify_readable_and_json(client: TestClient, signed: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(app, ["verify", str(signed)])
    assert text.exit_code == 0, text.output
    assert "trusted signer" in text.stdout and "gen_auditor" in text.stdout
    as_json = runner.invoke(app, ["verify", str(signed), "--json"])
    assert '"state": "Trusted"' in as_json.stdout


def test_unrelated_video_matches_no_fingerprint(
    client: TestClient, signed: Path, tmp_path: Path
) -> None:
    other = make_clip(tmp_path / "other.mp4", seconds=4, seed=77)
    report = post(client, make_key("auditor"), other.read_bytes()).json()
    assert report["fingerprint"]["checked"] is True
    assert report["fingerprint"]["match"] is False
    assert report["record"] is None


def test_cli_verify_exits_non_zero_for_invalid_or_unreadable(
    client: TestClient, signed: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    text = tmp_path / "notes.txt"
    text.write_bytes(b"just some text, not media")
    unreadable = runner.invoke(app, ["verify", str(text)])
    assert unreadable.exit_code == 1, unreadable.output
    data = bytearray(signed.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    invalid = runner.invoke(app, ["verify", str(tampered), "--json"])
    assert '"state": "Invalid"' in invalid.stdout
    assert invalid.exit_code == 2, invalid.output


def test_cli_verify_shows_the_finding_marks_score(client: TestClient, signed: Path) -> None:
    result = CliRunner().invoke(app, ["verify", str(signed), "--json"])
    report = json.loads(result.stdout)
    shown = CliRunner().invoke(app, ["verify", str(signed)]).stdout
    line = next(row for row in shown.splitlines() if row.strip().startswith("watermark"))
    finder = "video" if "video" in report["watermark"]["found_in"] else "audio"
    z = report["watermark"]["confidence"]["sync_z"]
    assert f"in {' and '.join(report['watermark']['found_in'])}" in line and str(z) in line
    if finder == "audio":
        assert z == report["watermark"]["audio"]["sync_z"]


def test_a_multipart_upload_is_refused_with_a_hint_to_send_raw_bytes(
    client: TestClient, signed: Path
) -> None:
    response = client.post(
        "/v1/provenance/verify",
        files={"file": ("clip.mp4", signed.read_bytes(), "video/mp4")},
        headers=auth(make_key("auditor")),
    )
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["code"] == "raw_body_expected"
    assert "application/octet-stream" in error["message"]
