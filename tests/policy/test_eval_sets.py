"""The blind evaluation sets keep the shape `bench/_style_sets.py` scores them by."""

from __future__ import annotations

from bench._style_sets import COMMENT_CATEGORIES, COMMENTS_FILE, T2V_FILE, read_rows

OPENAI_LABELS = {
    *COMMENT_CATEGORIES,
    "harassment/threatening",
    "self-harm/intent",
    "self-harm/instructions",
}
T2V_CATEGORIES = {
    "pornography",
    "sexual_minors",
    "gore",
    "violence",
    "public_figure",
    "discrimination",
    "harassment",
    "self_harm",
    "misinformation",
    "illegal",
}
DISGUISES = {"plain", "descriptive", "euphemism", "framing", "spelling"}


def test_comment_rows_carry_taxonomy_labels_with_their_parents() -> None:
    rows = read_rows(COMMENTS_FILE)
    assert len(rows) >= 400
    for row in rows:
        assert set(row) == {"text", "lang", "labels"} and row["lang"] in ("en", "fr")
        assert isinstance(row["labels"], list) and set(row["labels"]) <= OPENAI_LABELS
        for label in row["labels"]:
            parent = label.split("/")[0]
            # Accident gore is violence/graphic without violence (see the set's README).
            if "/" in label and label != "violence/graphic":
                assert parent in row["labels"], (label, row["labels"])
    for language in ("en", "fr"):
        mine = [r for r in rows if r["lang"] == language]
        assert any(not r["labels"] for r in mine)
        for category in COMMENT_CATEGORIES:
            assert sum(category in r["labels"] for r in mine) >= 5, (language, category)


def test_text_to_video_rows_name_a_category_and_a_disguise() -> None:
    rows = read_rows(T2V_FILE)
    assert len(rows) >= 400
    for row in rows:
        assert set(row) == {"text", "lang", "harmful", "category", "disguise"}
        assert row["lang"] in ("en", "fr") and row["disguise"] in DISGUISES
        if row["harmful"]:
            assert row["category"] in T2V_CATEGORIES
        else:
            assert row["category"] == "benign"
    assert {r["category"] for r in rows if r["harmful"]} == T2V_CATEGORIES
