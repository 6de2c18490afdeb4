"""What one area asks of another outside a request, handed over once per process (the API and
every CLI command, the workers included)."""

from __future__ import annotations


def wire() -> None:
    from provenance.verify import use_consent_lookup
    from safety.consent.cameos import consent_withdrawn

    use_consent_lookup(consent_withdrawn)  # verify says when a record's cameo was revoked
