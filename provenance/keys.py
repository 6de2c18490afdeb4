"""Signing keys and trust anchors for C2PA manifests.

Development: `cameoguard keys dev-ca` (and the run command on first start) writes a three-level
chain into `$CAMEOGUARD_HOME/signing/`: a root CA, an intermediate CA and a leaf with the usages
C2PA requires (CA:false, digitalSignature, EKU emailProtection, SKI and AKI), EC P-256 (ES256).
The root becomes the service's trust anchor, so its own output verifies as Trusted.

Production: point CAMEOGUARD_SIGNING_CERT (PEM chain, leaf first), CAMEOGUARD_SIGNING_KEY (PEM
private key) and CAMEOGUARD_TRUST_ANCHORS (PEM bundle) at the operator's files. A hardware or KMS
key plugs in behind `SigningMaterial.sign` (see c2pa_sign.py).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cameoguard.files import private_dir
from cameoguard.settings import Settings, get_settings

DEV_DIR_NAME = "signing"
LEAF_DAYS = 365
CA_DAYS = 3650


@dataclass(frozen=True)
class SigningMaterial:
    cert_chain_pem: bytes  # leaf first, then intermediates (not the root)
    private_key_pem: bytes
    trust_anchors_pem: bytes
    source: str  # "development" or "operator"
    tsa_url: str | None = None

    @property
    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.cert_chain_pem)[0]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cameoguard development"),
        ]
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer_name: x509.Name | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer_cert: x509.Certificate | None,
    *,
    ca: bool,
    path_length: int | None,
    days: int,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name or _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if ca:
        usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False,
        )  # fmt: skip
    else:
        usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False,
        )  # fmt: skip
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
    builder = builder.add_extension(usage, critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def create_dev_chain(directory: Path, organization: str = "cameoguard") -> dict[str, Path]:
    """Writes root.pem, chain.pem (leaf + intermediate), leaf.key (0600) and anchors.pem, in a
    0700 folder."""
    private_dir(directory)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert(
        f"{organization} dev root CA", root_key, None, root_key, None,
        ca=True, path_length=1, days=CA_DAYS,
    )  # fmt: skip
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = _cert(
        f"{organization} dev intermediate CA", inter_key, root.subject, root_key, root,
        ca=True, path_length=0, days=CA_DAYS,
    )  # fmt: skip
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(
        f"{organization} content signing", leaf_key, inter.subject, inter_key, inter,
        ca=False, path_length=None, days=LEAF_DAYS,
    )  # fmt: skip
    paths = {
        "root": directory / "root.pem",
        "chain": directory / "chain.pem",
        "key": directory / "leaf.key",
        "anchors": directory / "anchors.pem",
    }
    paths["root"].write_bytes(_pem(root))
    paths["anchors"].write_bytes(_pem(root))
    paths["chain"].write_bytes(_pem(leaf) + _pem(inter))
    fd = os.open(paths["key"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(_key_pem(leaf_key))
    return paths


def dev_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / DEV_DIR_NAME


def load_signing_material(settings: Settings | None = None) -> SigningMaterial:
    """The operator's files when configured, else the development chain (created if missing)."""
    settings = settings or get_settings()
    if settings.signing_cert or settings.signing_key:
        if not (settings.signing_cert and settings.signing_key and settings.trust_anchors):
            raise ValueError(
                "operator signing needs CAMEOGUARD_SIGNING_CERT, _SIGNING_KEY and _TRUST_ANCHORS"
            )
        return SigningMaterial(
            cert_chain_pem=Path(settings.signing_cert).read_bytes(),
            private_key_pem=Path(settings.signing_key).read_bytes(),
            trust_anchors_pem=Path(settings.trust_anchors).read_bytes(),
            source="operator",
            tsa_url=settings.tsa_url,
        )
    directory = dev_dir(settings)
    if not (directory / "chain.pem").is_file():
        create_dev_chain(directory)
    anchors = (directory / "anchors.pem").read_bytes()
    if settings.trust_anchors:
        anchors += b"\n" + Path(settings.trust_anchors).read_bytes()
    return SigningMaterial(
        cert_chain_pem=(directory / "chain.pem").read_bytes(),
        private_key_pem=(directory / "leaf.key").read_bytes(),
        trust_anchors_pem=anchors,
        source="development",
        tsa_url=settings.tsa_url,
    )


def trust_anchors(settings: Settings | None = None) -> bytes:
    """Every configured trust anchor (PEM), for verification."""
    return load_signing_material(settings).trust_anchors_pem
