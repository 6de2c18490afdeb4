"""Age assurance: the lowest trustworthy age wins, unknown is teen, the selfie's challenge-25
rule over several frames, stored, audited and re-checkable."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from cameoguard.audit.log import recent
from cameoguard.db import session_scope
from tests.wellbeing.conftest import assure, upload
from wellbeing.age import (
    Attestation,
    Behavioural,
    Evidence,
    Facts,
    conclude,
    gather,
    selfie_evidence,
)
from wellbeing.faces import Person
from wellbeing.policy import wellbeing_policy

TODAY = date(2026, 12, 4)
RULES = wellbeing_policy().age_assurance


def _conclude(facts: Facts, selfie: Evidence | None = None) -> str:
    return conclude(gather(facts, selfie, RULES, TODAY)).age_group


def test_the_lowest_trustworthy_age_wins() -> None:
    assert _conclude(Facts()) == "unknown"
    # A declared minor is believed; a declared adult alone is no assurance.
    assert _conclude(Facts(declared_birth_date=date(2011, 1, 1))) == "teen"
    assert _conclude(Facts(declared_birth_date=date(1990, 1, 1))) == "unknown"
    confident_adult = Behavioural(age=35, confidence=0.9)
    assert _conclude(Facts(behavioural=confident_adult)) == "adult"
    assert _conclude(Facts(behavioural=Behavioural(age=35, confidence=0.5))) == "unknown"
    # Adult evidence does not outweigh a trusted teen.
    both = Facts(declared_birth_date=date(2011, 1, 1), behavioural=confident_adult)
    assert _conclude(both) == "teen"
    parent = Attestation(guardian_id="mum", birth_date=date(2010, 6, 1))
    assert _conclude(Facts(parent_attestation=parent, behavioural=confident_adult)) == "teen"


def test_challenge_25_needs_a_face_clearly_over_25_in_enough_frames() -> None:
    def reading(ages: list[float]) -> str:
        return selfie_evidence([Person((0, 0, 10, 10), ages)], len(ages), RULES).says

    assert reading([41, 40, 42, 41, 39]) == "adult"
    assert reading([24, 26, 25, 23, 27]) == "teen"  # around 25 is not clearly over
    assert reading([35, 12, 14, 36, 13, 15]) == "teen"  # too many frames read as a minor
    assert reading([40, 41]) == "unknown"  # fewer than min_frames
    assert selfie_evidence([], 0, RULES).says == "unknown"


def test_assurance_over_http_is_stored_audited_and_recheckable(
    client: TestClient, headers: dict[str, str], selfies: dict[str, Path]
) -> None:
    first = assure(client, headers, account_id="u1", declared_birth_date="1995-03-02")
    assert first["age_group"] == "unknown" and first["treated_as"] == "teen"
    assert first["evidence"][0]["trusted"] is False

    adult = assure(
        client, headers, account_id="u1", selfie_media_location=upload(client, headers,
                                                                        selfies["adult"])
    )  # fmt: skip
    assert adult["age_group"] == "adult", adult
    assert adult["method"] == "selfie" and adult["assurance_level"] == "high"
    selfie = next(e for e in adult["evidence"] if e["source"] == "selfie")
    assert selfie["detail"]["frames_with_face"] >= RULES.min_frames
    assert selfie["detail"]["median_age"] > 30
    # The birth date of the first check still counts (it said adult: untrusted, no conflict).
    assert {e["source"] for e in adult["evidence"]} == {"declared_birth_date", "selfie"}

    teen = assure(
        client, headers, account_id="u2", selfie_media_location=upload(client, headers,
                                                                        selfies["teen"])
    )  # fmt: skip
    assert teen["age_group"] == "teen", teen
    assert next(e for e in teen["evidence"] if e["source"] == "selfie")["detail"]["median_age"] < 25

    current = client.get("/v1/age/assurance/u1", headers=headers)
    assert current.status_code == 200 and current.json()["check_id"] == adult["check_id"]
    assert client.get("/v1/age/assurance/nobody", headers=headers).status_code == 404

    # Re-checked later with a parent's attestation of a minor: teen again (lowest wins).
    again = assure(
        client, headers, account_id="u1",
        parent_attestation={"guardian_id": "g1", "birth_date": "2012-05-05"},
    )  # fmt: skip
    assert again["age_group"] == "teen"
    with session_scope() as session:
        actions = [e.action for e in recent(session, 50)]
    assert actions.count("wellbeing.age_assured") == 4


def test_a_selfie_that_is_not_in_the_store_is_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.post(
        "/v1/age/assurance",
        json={"account_id": "u3", "selfie_media_location": "../etc/passwd"},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] in ("bad_media_location", "media_not_found")
