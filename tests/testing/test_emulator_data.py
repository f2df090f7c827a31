"""The emulator's tables as data files: shipped, tied to the enums, loaded once, checked."""

from __future__ import annotations

import hashlib
import json
import string
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import dumgum_async as dg
from dumgum_async.testing import _data, _replies, _samples, sample_requests
from dumgum_async.testing._data import DataFileError
from dumgum_async.testing._replies import phrasebook_for, phrasebooks, suggestions_for

# Pinned from the emulator before its tables moved out of Python: the move (and any later
# reformatting of the data) must not change a single reply or sample for a given seed.
_SAMPLES_SHA256 = "629634bc9e337bbfde69ebcf9a1b85d587700e9511687e3cc18503c1b19e575f"
_REPLIES_SHA256 = "33c400aea406d3dfa9c375c99fd29841bca3f28ba4ee84192bb5380e1a4ddcb6"

# Which placeholders each group of reply templates may use (str.format would raise on others).
_PLACEHOLDERS = {
    "opener": {"name"},
    "gift": {"name", "gift"},
    "poke": {"name"},
    "sticker": {"name", "sticker"},
    "echo_word": {"word"},
    "echo_quote": {"quote"},
    "shared_interest": {"interest"},
    "user_interest": {"interest"},
    "city": {"city"},
    "question": set(),
}


def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def _clear_caches() -> None:
    for cached in (
        _data.load_json,
        _replies.phrasebooks,
        _replies._variants,
        _replies._stopwords,
        _replies.keyword,
        _samples._table,
    ):
        cached.cache_clear()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the loader at a throwaway package whose ``data/`` folder the test fills."""
    package = tmp_path / "fake_dumgum_data"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_data, "_PACKAGE", "fake_dumgum_data")
    # Each test gets its own folder: forget the package imported from the last one.
    monkeypatch.delitem(sys.modules, "fake_dumgum_data", raising=False)
    _clear_caches()
    yield package / "data"
    sys.modules.pop("fake_dumgum_data", None)
    monkeypatch.undo()
    _clear_caches()


def _real(name: str) -> Any:
    return json.loads(
        Path(_data.__file__).with_name("data").joinpath(name).read_text(encoding="utf-8")
    )


def test_samples_are_byte_identical_to_those_before_the_tables_became_data() -> None:
    languages = [language.value for language in dg.Language]
    samples = [*sample_requests(200, seed=0), *sample_requests(200, seed=13, languages=languages)]
    assert hashlib.sha256(orjson.dumps(samples)).hexdigest() == _SAMPLES_SHA256


def test_replies_are_byte_identical_to_those_before_the_tables_became_data() -> None:
    languages = [language.value for language in dg.Language]
    samples = [*sample_requests(200, seed=0), *sample_requests(200, seed=13, languages=languages)]
    replies = [suggestions_for(s, orjson.dumps(s, option=orjson.OPT_SORT_KEYS)) for s in samples]
    assert hashlib.sha256(orjson.dumps(replies)).hexdigest() == _REPLIES_SHA256


@pytest.mark.parametrize("code", sorted(phrasebooks()))
def test_every_phrasebook_names_each_interest_of_the_enum_once(code: str) -> None:
    assert list(phrasebooks()[code].interests) == [i.value for i in dg.Interest]


@pytest.mark.parametrize("code", sorted(phrasebooks()))
def test_reply_templates_use_only_the_placeholders_their_slot_fills(code: str) -> None:
    book = phrasebooks()[code]
    for group, allowed in _PLACEHOLDERS.items():
        for template in getattr(book, group):
            assert _fields(template) <= allowed, (code, group, template)


def test_spelling_variants_are_for_known_languages() -> None:
    known = {language.value for language in dg.Language}
    assert set(_replies._variants()) <= known
    assert set(phrasebooks()) - {"PT"} <= known  # PT: every Portuguese but PT_BR


@pytest.mark.parametrize("code", sorted(_real("samples.json")["phrases"]))
def test_sample_phrases_fit_the_enums_and_the_templates(code: str) -> None:
    phrases = _samples._table()[0][code]
    assert {tier for _, tier in phrases.gifts} <= {t.value for t in dg.GiftTier}
    for _, _, zone, _ in phrases.places:
        assert zoneinfo.ZoneInfo(zone).key == zone
    for template in (*phrases.greetings, *phrases.lines):
        assert _fields(template) <= {"name"}, template


def test_importing_the_emulator_reads_no_data_file() -> None:
    code = (
        "import dumgum_async.testing, dumgum_async.testing.pytest_plugin\n"
        "from dumgum_async.testing._data import load_json\n"
        "assert load_json.cache_info().currsize == 0, load_json.cache_info()\n"
        "from dumgum_async.testing import sample_requests\n"
        "next(sample_requests(1))\n"
        "assert load_json.cache_info().currsize == 1, load_json.cache_info()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_each_data_file_is_parsed_once() -> None:
    assert _data.load_json("stopwords.json") is _data.load_json("stopwords.json")


@pytest.mark.usefixtures("data_dir")
def test_a_missing_data_file_raises_an_error_naming_it() -> None:
    with pytest.raises(DataFileError, match=r"fake_dumgum_data/data/phrasebooks\.json"):
        phrasebook_for("EN")


def test_malformed_json_raises_an_error_naming_the_file(data_dir: Path) -> None:
    (data_dir / "samples.json").write_text('{"phrases": {', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"data/samples\.json is not valid JSON"):
        next(sample_requests(1))


def test_a_key_given_twice_raises_an_error_naming_it(data_dir: Path) -> None:
    (data_dir / "stopwords.json").write_text('{"a": 1, "a": 2}', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"stopwords\.json: the key 'a' appears twice"):
        _data.load_json("stopwords.json")


def test_a_phrasebook_missing_a_group_raises_an_error_naming_the_entry(data_dir: Path) -> None:
    table = _real("phrasebooks.json")
    del table["phrasebooks"]["FR"]["opener"]
    (data_dir / "phrasebooks.json").write_text(json.dumps(table), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"phrasebooks\.FR\.opener must be a non-empty list"):
        phrasebook_for("FR")


def test_a_sample_place_of_the_wrong_width_raises_an_error_naming_it(data_dir: Path) -> None:
    table = _real("samples.json")
    table["phrases"]["DE"]["places"][1] = ["DE", "Berlin"]
    (data_dir / "samples.json").write_text(json.dumps(table), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"phrases\.DE\.places\[1\] must hold 4 strings"):
        next(sample_requests(1))


def test_stopwords_that_are_not_strings_raise_an_error_naming_the_file(data_dir: Path) -> None:
    (data_dir / "stopwords.json").write_text('["also", 3]', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"stopwords\.json: the list must be"):
        _replies.keyword("something longer")
