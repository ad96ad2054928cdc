"""Finnish, Swedish and English: every text the console, the error e-mails and the solutions show has all three."""

from __future__ import annotations

import pytest

from foundation.i18n import LANGUAGES, catalogue, company_language, negotiate, translate
from sevpro.catalogues import message_ids, problems
from streams.mapping.errors import SOLUTIONS, size_code, solution_for, solution_text


def baseline(ids: dict[str, object]) -> list[str]:
    """What the real catalogues lack (nothing, unless the first test fails too): these tests check only the check."""
    return problems(ids, {language: catalogue(language) for language in LANGUAGES})


def test_every_message_has_a_translation_in_finnish_swedish_and_english() -> None:
    ids = message_ids()
    assert len(ids) > 150 and "Needs your action" in ids and SOLUTIONS["ERROR_BRN_CODE"] in ids
    found = problems(ids, {language: catalogue(language) for language in LANGUAGES})
    assert not found, "run `python -m sevpro.catalogues` and translate:\n" + "\n".join(found)


def test_the_check_fails_when_one_translation_is_missing_or_loses_a_placeholder() -> None:
    ids = message_ids()
    catalogues = {language: dict(catalogue(language)) for language in LANGUAGES}
    del catalogues["sv"]["Needs your action"]
    catalogues["fi"]["page {n} of {m}"] = "sivu {n}"
    assert problems(ids, catalogues) == ["fi: the placeholders of 'page {n} of {m}' differ in 'sivu {n}'",
                                         "sv: no translation of 'Needs your action'"] + baseline(ids)


def test_a_new_solution_without_translations_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    before = baseline(message_ids())
    monkeypatch.setitem(SOLUTIONS, "NEW_CODE", "A solution nobody translated yet.")
    found = problems(message_ids(), {language: catalogue(language) for language in LANGUAGES})
    assert [f for f in found if f not in before] == [
        f"{language}: no translation of 'A solution nobody translated yet.'" for language in LANGUAGES]


def test_solutions_are_shown_in_the_chosen_language_and_unknown_texts_stay_as_they_are() -> None:
    assert solution_text("ERROR_BRN_CODE", SOLUTIONS["ERROR_BRN_CODE"], "fi").startswith("Laskun asiakkaan Y-tunnus")
    assert "organisationsnummer" in solution_text("ERROR_BRN_CODE", SOLUTIONS["ERROR_BRN_CODE"], "sv")
    assert solution_text("ERROR_BRN_CODE", SOLUTIONS["ERROR_BRN_CODE"], "en") == SOLUTIONS["ERROR_BRN_CODE"]
    size = size_code(37)
    assert "(37)" in solution_text(size, solution_for(size), "sv") and "tecken" in solution_text(
        size, solution_for(size), "sv")
    assert solution_text("V001", "A text of another time", "fi") == "A text of another time"
    assert solution_text("V001", None, "fi") == ""
    assert translate("Overview", "de") == "Overview"  # an unknown language: English


@pytest.mark.parametrize(("header", "language"), [
    ("fi-FI,fi;q=0.9,en-US;q=0.8,en;q=0.7", "fi"), ("sv-SE", "sv"), ("de-DE,sv;q=0.5,fi;q=0.4", "sv"),
    ("en-GB,fi;q=0.9", "en"), ("de-DE,fr;q=0.9", "en"), ("", "en"), (None, "en"), ("fi;q=0,sv;q=0.1", "sv"),
    ("fil-PH", "en"), ("*", "en"), ("fi;q=abc,sv", "sv"),
])
def test_the_browsers_language_picks_the_best_of_ours_else_english(header: str | None, language: str) -> None:
    assert negotiate(header) == language


@pytest.mark.parametrize(("setting", "country", "language"), [
    (None, "FI", "fi"), (None, "SE", "sv"), ("en", "FI", "en"), ("sv", "FI", "sv"), (None, None, "en"),
])
def test_a_companys_email_language_is_its_setting_else_its_countrys(setting: str | None, country: str | None,
                                                                     language: str) -> None:
    assert company_language(setting, country) == language
