from __future__ import annotations

import re
from pathlib import Path

import pytest

from safety.policy.engine import default_pack_path
from safety.policy.pack import CATEGORIES, PackError, PackStore, load_pack


def test_default_pack_loads_with_every_category() -> None:
    pack = load_pack(default_pack_path())
    assert set(pack.categories) == set(CATEGORIES)
    assert pack.ref.startswith("cameoguard-default@")
    assert "en" in pack.languages and "fr" in pack.languages


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = default_pack_path().read_text()
    assert old in text
    path = tmp_path / "pack.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_bad_threshold_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _broken(
        tmp_path,
        "thresholds: {review: 0.45, block: 0.8}",
        "thresholds: {review: 0.99, block: 0.8}",
    )
    with pytest.raises(PackError) as info:
        load_pack(path)
    expected_line = next(
        i for i, line in enumerate(path.read_text().splitlines(), 1) if "review: 0.99" in line
    )
    assert info.value.line == expected_line
    assert "above block" in info.value.reason
    assert str(path) in str(info.value)


def test_unknown_term_group_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, "all_of: [minor_terms, sexual_terms]", "all_of: [minor_terms, nope]")
    with pytest.raises(PackError, match="unknown term group 'nope'"):
        load_pack(path)


def test_bad_regex_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, '- "\\\\bje sais ou tu habites\\\\b"', '- "(unclosed"')
    with pytest.raises(PackError, match="does not compile") as info:
        load_pack(path)
    assert info.value.line is not None


def test_invalid_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text("id: x\nversion: [unclosed\n")
    with pytest.raises(PackError, match="invalid YAML") as info:
        load_pack(path)
    assert info.value.line == 3


def test_missing_category_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, "  impersonation:\n", "  impersonation_typo:\n")
    with pytest.raises(PackError, match="categories"):
        load_pack(path)


def test_store_keeps_the_last_good_pack(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(default_pack_path().read_text())
    store = PackStore(path)
    good = store.pack
    path.write_text("id: broken\n")
    with pytest.raises(PackError):
        store.reload()
    assert store.pack is good
    assert store.last_error is not None
    text = default_pack_path().read_text()
    path.write_text(re.sub(r'(?m)^version: ".*"$', 'version: "9"', text, count=1))
    assert store.reload().version == "9"
    assert store.last_error is None


def test_support_resources_need_known_categories_and_a_default_locale(tmp_path: Path) -> None:
    path = _broken(
        tmp_path,
        "categories: [self-harm, self-harm/intent, self-harm/instructions]",
        "categories: [self-harm, nope]",
    )
    with pytest.raises(PackError, match="support_resources: unknown category 'nope'"):
        load_pack(path)
    path = _broken(tmp_path, "default_locale: en", "default_locale: de")
    with pytest.raises(PackError, match="default locale"):
        load_pack(path)
