"""The development chain and C2PA signing and reading, on real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from provenance.c2pa_manifest import (
    TRAINED_ALGORITHMIC_MEDIA,
    GenerationClaim,
    read_manifest,
    sign_file,
)
from provenance.keys import SigningMaterial, create_dev_chain
from tests.media_factory import make_clip

CLAIM = GenerationClaim(
    generation_id="gen_test", watermark_id=0x0123456789ABCDEF, policy_pack="p@1",
    decision="allow", model="test-backend",
)  # fmt: skip


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return create_dev_chain(tmp_path_factory.mktemp("signing"))


@pytest.fixture(scope="module")
def material(chain: dict[str, Path]) -> SigningMaterial:
    return SigningMaterial(
        cert_chain_pem=chain["chain"].read_bytes(),
        private_key_pem=chain["key"].read_bytes(),
        trust_anchors_pem=chain["anchors"].read_bytes(),
        source="development",
    )


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, material: SigningMaterial) -> Path:
    folder = tmp_path_factory.mktemp("c2pa")
    clip = make_clip(folder / "clip.mp4", seconds=2)
    out = folder / "signed.mp4"
    sign_file(clip, out, CLAIM, material)
    return out


def test_dev_chain_has_the_usages_c2pa_requires(chain: dict[str, Path]) -> None:
    leaf, intermediate = x509.load_pem_x509_certificates(chain["chain"].read_bytes())
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    ekus = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in ekus
    assert leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert leaf.issuer == intermediate.subject
    root = x509.load_pem_x509_certificate(chain["root"].read_bytes())
    assert intermediate.issuer == root.subject
    assert oct(chain["key"].stat().st_mode & 0o777) == "0o600"


def test_signed_output_is_trusted_with_our_anchor(signed: Path, material: SigningMaterial) -> None:
    report = read_manifest(signed.read_bytes(), material.trust_anchors_pem, "video/mp4")
    assert report.present and report.state == "Trusted"
    assert "signingCredential.trusted" in report.status_codes
    assert report.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert [a["action"] for a in report.actions] == ["c2pa.created", "c2pa.watermarked"]
    assert report.generation == {
        "generation_id": "gen_test",
        "watermark_id": "0123456789abcdef",
        "policy_pack": "p@1",
        "decision": "allow",
    }
    assert report.soft_binding["alg"] == "com.cameoguard.sswm.v1"
    assert report.claim_generator.startswith("cameoguard")


def test_unknown_signer_reads_valid_but_untrusted(signed: Path, tmp_path: Path) -> None:
    other = create_dev_chain(tmp_path / "other")
    report = read_manifest(signed.read_bytes(), other["anchors"].read_bytes(), "video/mp4")
    assert report.state == "Valid"
    assert "signingCredential.untrusted" in report.status_codes


def test_tampered_media_is_invalid_with_codes(signed: Path, material: SigningMaterial) -> None:
    data = bytearray(signed.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 5000] ^= 0xFF
    report = read_manifest(bytes(data), material.trust_anchors_pem, "video/mp4")
    assert report.state == "Invalid"
    assert any("mismatch" in code for code in report.status_codes), report.status_codes


def test_unsigned_media_has_no_manifest(tmp_path: Path, material: SigningMaterial) -> None:
    clip = make_clip(tmp_path / "plain.mp4", seconds=1)
    report = read_manifest(clip.read_bytes(), material.trust_anchors_pem, "video/mp4")
    assert report.present is False


@pytest.mark.parametrize("cut", [100, 2000, 20000])
def test_truncated_signed_file_never_raises(
    signed: Path, material: SigningMaterial, cut: int
) -> None:
    report = read_manifest(signed.read_bytes()[:cut], material.trust_anchors_pem, "video/mp4")
    assert report.state in (None, "Invalid")


def test_remux_strips_the_manifest(signed: Path, tmp_path: Path, material: SigningMaterial) -> None:
    from tests.media_factory import transcode

    copy = transcode(signed, tmp_path / "reencoded.mp4", crf=23)
    assert (
        read_manifest(copy.read_bytes(), material.trust_anchors_pem, "video/mp4").present is False
    )
