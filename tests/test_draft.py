"""Drafting a mapping, piece by piece: header matching, value recodes, date formats, YAML."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tce_cli.draft import DraftOptions, draft_from_table, render
from tce_cli.draft.build import match_pattern
from tce_cli.draft.dates import SERIAL, infer_date_formats
from tce_cli.draft.headers import compact, normalise
from tce_cli.draft.render import scalar
from tce_cli.draft.values import column_coding, distinct_counts, matcher, value_key
from tce_cli.draft.vocab import header_scorer, load_vocabulary, parse_vocabulary
from tce_cli.mapping import parse_mapping
from tce_cli.read import RawTable, ReadInfo
from tce_cli.schema import load_schema

# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Date_Of-Birth (DOB)", "date of birth dob"),
        ("PersonBirthDate", "person birth date"),
        ("PNHSNumber", "pnhs number"),
        ("  NHS No. ", "nhs no"),
        ("Child's Legal Status", "child s legal status"),
        ("Missing? (Y/N)", "missing y n"),
    ],
)
def test_normalise_headers(header: str, expected: str) -> None:
    assert normalise(header) == expected


def test_spaceless_form_matches_run_together_headers() -> None:
    assert compact("LAchildID") == compact("la child id") == "lachildid"
    assert header_scorer().score("DATEOFBIRTH", "date of birth").score == 1.0


@pytest.mark.parametrize(
    ("header", "synonym", "at_least"),
    [
        ("D.O.B.", "dob", 1.0),
        ("RHI <72hrs", "rhi 72 hrs", 1.0),
        ("RHI_IN_72HRS", "rhi 72h", 0.97),  # the same words once 72hrs is split
        ("Child's NHS Number", "nhs number", 0.8),  # contains the synonym
        ("Ethnicty", "ethnicity", 0.8),  # a typo: edit distance
    ],
)
def test_header_scores(header: str, synonym: str, at_least: float) -> None:
    assert header_scorer().score(header, synonym).score >= at_least


def test_unrelated_headers_score_low() -> None:
    assert header_scorer().score("Favourite Colour", "ethnicity").score < 0.5


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("sex", "a) Male", "M"),  # Annex A lettered label
        ("sex", "b) Female", "F"),
        ("sex", "1", "M"),  # legacy DfE codes
        ("sex", "9", "U"),
        ("sex", "Boy", "M"),
        ("ethnicity", "CNHE", "CHNE"),  # SSD misspelling
        ("ethnicity", "a) WBRI", "WBRI"),
        ("ethnicity", "White - British", "WBRI"),
        ("ethnicity", "WHITE_BRITISH", "WBRI"),  # Eclipse label
        ("ethnicity", "Mixed - White and Black Caribbean", "MWBC"),  # longest label inside
        ("risk_level", "Red", "HIGH"),
        ("risk_level", "Amber", "MEDIUM"),
        ("risk_level", "Green", "LOW"),
        ("risk_level", "Significant", "HIGH"),
        ("risk_level", "Moderate", "MEDIUM"),
        ("youth_justice_involvement", "Yes", "Y"),
        ("youth_justice_involvement", "b) No", "N"),
        ("exploitation_types", "11A", "CSE"),  # CIN assessment factor
        ("exploitation_types", "Trafficking/Modern Slavery", "MSHT"),  # words in another order
        ("csc_status", "b) Child Protection plan", "CPP"),
        ("csc_status", "EARLYHELP", "EARLY_HELP"),  # spacing ignored
        ("nrm_referral_status", "Y - RG+", "RG_POSITIVE"),
        ("closure_reason", "Risk reduse", "RISK_REDUCED"),  # similar spelling
        ("referral_source", "Health - Other Primary", "3D"),
        ("local_authority_code", "Bolton", "E08000001"),
    ],
)
def test_recodes(field: str, value: str, code: str) -> None:
    assert matcher(field).match(value).code == code


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("csc_status", "Open to CSC"),  # not 'Not open to CSC': negation must agree
        ("csc_status", "CP/LAC"),  # two codes inside: ambiguous
        ("nrm_referral_status", "Referred?"),  # a question mark marks a guess
        ("risk_level", "Medium-High"),
        ("ethnicity", "A"),  # an NHS letter only where the column is NHS-coded
    ],
)
def test_values_left_for_a_person(field: str, value: str) -> None:
    assert matcher(field).match(value).code is None


def test_blank_placeholders_recode_to_blank() -> None:
    hit = matcher("closure_reason").match("N/A")
    assert hit.code == "" and hit.matched


def test_builtin_values_are_flagged_so_they_need_no_recode() -> None:
    assert matcher("sex").match("Female").builtin
    assert not matcher("sex").match("a) Male").builtin


def _coding(field: str, values: list[str], multi: bool) -> tuple[str | None, str | None]:
    series = pl.Series("c", values)
    coding = column_coding(
        field,
        distinct_counts(series),
        lambda sep: distinct_counts(series, sep),
        multi=multi,
        fuzzy=True,
    )
    return coding.scheme, coding.split


def test_nhs_ethnic_letters_are_read_as_that_scheme() -> None:
    scheme, _ = _coding("ethnicity", ["A", "A", "H", "J", "Z", "99", "A1"], multi=False)
    assert scheme == "NHS ethnic category"
    assert matcher("ethnicity", scheme).match("A1").code == "WBRI"  # local sub-code


def test_police_codes_are_read_as_their_scheme() -> None:
    scheme, _ = _coding("ethnicity", ["W1", "W1", "A1", "B2", "NS"], multi=False)
    assert scheme is not None and "police" in scheme
    assert matcher("ethnicity", scheme).match("A1").code == "AIND"


@pytest.mark.parametrize(
    ("values", "sep"),
    [
        (["CSE; CCE", "CSE", "County Lines; CCE"], ";"),
        (["CSE/CCE", "CCE", "CSE"], "/"),
        (["Sexual Exploitation|County Lines", "Trafficking/Modern Slavery"], "|"),
        (["11A,24A", "24A", "13A"], ","),
        (["Type A; Type B", "Type C", "Type A"], ";"),  # local words, but clearly multi-valued
    ],
)
def test_separators_are_detected(values: list[str], sep: str) -> None:
    assert _coding("exploitation_types", values, multi=True)[1] == sep


def test_single_valued_fields_are_not_split() -> None:
    assert _coding("ethnicity", ["Gypsy/Roma", "WBRI"], multi=False)[1] is None
    assert _coding("education_status", ["PRU / Alternative Provision"], multi=False)[1] is None


def test_value_keys_ignore_case_and_punctuation() -> None:
    assert value_key("  a&e ") == "A E"
    assert value_key("Y - RG-") == "Y RG NEGATIVE"
    assert value_key("?") == "?"


# --------------------------------------------------------------------------- dates


def _dates(values: list[str]) -> tuple[tuple[str, ...], str]:
    inf = infer_date_formats(pl.Series("d", values))
    return inf.formats, inf.order


def test_day_first_decided_by_a_day_above_12() -> None:
    assert _dates(["25/03/2012", "01/02/2011"]) == (("%d/%m/%Y",), "day-first")


def test_month_first_decided_by_a_second_part_above_12() -> None:
    assert _dates(["03/25/2026", "04/02/2026"]) == (("%m/%d/%Y",), "month-first")


def test_ambiguous_order_is_assumed_day_first_and_said_so() -> None:
    assert _dates(["01/02/2026", "03/04/2026"]) == (("%d/%m/%Y",), "day-first (assumed)")


def test_hand_typed_mixture_in_order_of_share() -> None:
    values = ["2026-03-12"] * 6 + ["12.03.2026"] * 3 + ["12-Mar-26"] * 2 + ["unknown"]
    inf = infer_date_formats(pl.Series("d", values))
    assert inf.formats == ("%Y-%m-%d", "%d.%m.%Y", "%d-%b-%y")
    assert inf.unreadable == 1
    shares = [share for _, share in inf.shares]
    assert shares == sorted(shares, reverse=True)


def test_two_digit_years_are_a_format_when_common_and_left_out_when_rare() -> None:
    assert _dates(["12/03/09", "25/12/10"])[0] == ("%d/%m/%y",)
    inf = infer_date_formats(pl.Series("d", ["12/03/2009"] * 40 + ["25/12/10"]))
    assert inf.formats == ("%d/%m/%Y",)
    assert inf.left_out == (("%d/%m/%y", 1),)


def test_excel_serials_are_counted_but_need_no_format() -> None:
    inf = infer_date_formats(pl.Series("d", ["45000", "45001.0", "2026-01-01"]))
    assert dict(inf.shares)[SERIAL] == pytest.approx(2 / 3, abs=1e-3)
    assert inf.formats == ("%Y-%m-%d",)


# --------------------------------------------------------------------------- vocabulary


def test_every_alias_names_a_real_code_and_every_header_a_real_field() -> None:
    vocab = load_vocabulary()
    schema = load_schema()
    mappable = {f.name for f in schema.mappable_fields}
    assert set(vocab.headers) <= mappable
    for code_list, table in vocab.values.items():
        assert set(table.values()) <= set(schema.code_lists[code_list])


def test_a_bad_alias_is_rejected() -> None:
    text = Path(__file__).parents[1] / "src" / "tce_cli" / "data" / "synonyms.yaml"
    data = yaml.safe_load(text.read_text("utf-8"))
    data["values"]["sex"]["BOY"] = "X"
    with pytest.raises(ValueError, match="unknown codes"):
        parse_vocabulary(data)
    data["values"]["sex"] = {True: "M"}
    with pytest.raises(ValueError, match="quote yes/no"):
        parse_vocabulary(data)


# --------------------------------------------------------------------------- YAML


@given(st.text(max_size=30))
def test_scalars_read_back_unchanged(text: str) -> None:
    assert yaml.safe_load(f"key: {scalar(text)}\n") == {"key": text}


@pytest.mark.parametrize(
    "word", ["Yes", "No", "N", "y", "on", "01", "1", "null", "- x", "a: b", "#1"]
)
def test_yaml_words_are_quoted(word: str) -> None:
    assert scalar(word).startswith('"')


def test_match_pattern_replaces_periods_and_dates() -> None:
    assert match_pattern("bolton_cs_2026-27Q2.csv") == "bolton_cs_*.csv"
    assert match_pattern("Export 2026-09-30.XLSX") == "Export *.xlsx"
    assert match_pattern("tracker.csv") == "tracker.csv"


def _table(columns: dict[str, list[str | None]]) -> RawTable:
    n = len(next(iter(columns.values())))
    frame = pl.DataFrame(
        {"_row": pl.Series(range(2, n + 2), dtype=pl.Int64)}
        | {k: pl.Series(v, dtype=pl.String) for k, v in columns.items()}
    )
    info = ReadInfo(
        path=Path("new_agency_2026-27Q2.csv"),
        format="csv",
        encoding="utf-8",
        delimiter=",",
        line_endings="LF",
        sheet=None,
        header_row=1,
        columns=tuple(columns),
        original_headers=tuple(columns),
        duplicate_headers=(),
        blank_headers=(),
        ragged_rows=(),
        blank_rows=(),
        n_rows=n,
    )
    return RawTable(frame=frame, info=info)


def test_draft_from_a_table_round_trips_and_is_deterministic() -> None:
    table = _table(
        {
            "Ref": ["A1", "A2", "A3"],
            "Gender": ["Boy", "Girl", "Boy"],
            "Postcode": ["M14 5RX", "BL1 4AA", "OL9 6BB"],
            "Surname": ["Test", "Sample", "Example"],
            "Shoe size": ["4", "5", "6"],
        }
    )
    options = DraftOptions(agency_type="VCS", org_code="X1")
    draft = draft_from_table(table, options)
    text = render(draft)
    assert text == render(draft_from_table(table, options))
    data = yaml.safe_load(text)
    assert data == draft.mapping_data()
    mapping = parse_mapping(data, Path("draft.yaml"))
    assert mapping.fields["sex"].values == {"Boy": "M", "Girl": "F"}
    assert mapping.fields["home_postcode"].column == "Postcode"
    assert mapping.ignore == ["Surname", "Shoe size"]
    assert "# TODO: not matched to a framework field" in text.split("Shoe size")[1]
    assert "# name (personal data)" in text.split("Surname")[1]


def test_a_column_of_words_lists_twenty_values_and_counts_the_rest() -> None:
    words = [f"Word {i:02d}" for i in range(30)]
    table = _table({"Risk": words, "Ref": [f"R{i}" for i in range(30)]})
    draft = draft_from_table(table, DraftOptions(agency_type="VCS"))
    risk = draft.field("risk_level")
    assert len(risk.value_todos) == 21
    assert "10 more values (10 rows)" in risk.value_todos[-1]
    listed = [v for v in draft.report()["unmapped_values"] if v["field"] == "risk_level"]
    assert len(listed) == 20


def test_every_todo_is_written_into_the_yaml() -> None:
    table = _table({"Sex": ["M", "F", "Boy?"], "Risk": ["Red", "Purple", "Green"]})
    draft = draft_from_table(table, DraftOptions(agency_type="VCS"))
    text = render(draft)
    assert text.count("TODO: ") == len(draft.all_todos())
    assert "# TODO: no identifier column found" in text
    assert '# TODO: "Boy?" (1 row) matches no sex code' in text
    assert '# TODO: "Purple" (1 row) matches no risk level code' in text
