"""Every measure against numbers worked out by hand on the scenario store (see its docstring).

Suppression is off here so the raw counts can be compared; test_report_suppression.py covers
what a published pack shows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from tce_cli.errors import ConfigError, StoreError
from tce_cli.periods import parse_period, working_days_after
from tce_cli.report import Pack, all_measures, build_pack
from tce_cli.report.model import GM
from test_report_support import P1, P2, P4, Rec, scenario, write_store

WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LA, TYPE = "Local authority", "Primary exploitation type"


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Pack:
    store = scenario(tmp_path_factory.mktemp("report") / "store")
    return build_pack(store, parse_period(P2), suppression=False, generated_at=WHEN)


def value(
    pack: Pack,
    measure: str,
    geography: str = GM,
    breakdown: str = "Total",
    category: str = "Total",
    quarter: str = P2,
) -> str:
    """The published value of one tidy cell."""
    q = parse_period(quarter)
    for row in pack.tidy:
        if row[:2] == (q.time_period, q.time_identifier) and row[3:7] == (
            geography,
            measure,
            breakdown,
            category,
        ):
            return row[7]
    raise KeyError((measure, geography, breakdown, category, quarter))


def test_m01_children_open_at_quarter_end(pack: Pack) -> None:
    assert value(pack, "M01") == "3"  # ann, cat, dan (ben and eve closed in the quarter)
    assert [value(pack, "M01", la) for la in ("Bolton", "Bury", "Manchester", "Oldham")] == [
        "1",
        "1",
        "1",
        "0",
    ]
    # ann's representative record is Bolton CSC's (CCE), not GMP's (CSE)
    assert value(pack, "M01", "Bolton", TYPE, "Child criminal exploitation") == "1"
    assert value(pack, "M01", "Bolton", TYPE, "Child sexual exploitation") == "0"
    assert value(pack, "M01", GM, TYPE, "Child criminal exploitation") == "2"
    assert value(pack, "M01", GM, TYPE, "Gang association / serious youth violence") == "1"
    assert value(pack, "M01", GM, "Sex", "Female") == "2"
    assert value(pack, "M01", GM, "Ethnicity major group", "Black") == "1"
    assert value(pack, "M01", GM, "Age band", "16 to 17") == "1"
    assert value(pack, "M01", GM, "CSC status", "Looked after") == "1"
    assert value(pack, "M01", "Bury", "Risk level", "Not assessed") == "1"


def test_m02_involvement_and_multi_counted_types(pack: Pack) -> None:
    assert value(pack, "M02") == "5"
    assert value(pack, "M02", "Bolton") == "2" and value(pack, "M02", "Bury") == "2"
    # a child counts once per exploitation type on any record: CSE = ann (GMP), ben, eve
    assert value(pack, "M02", GM, "Exploitation type", "Child sexual exploitation") == "3"
    assert value(pack, "M02", GM, "Exploitation type", "County lines (implies CCE)") == "1"
    assert value(pack, "M02", GM, "Agency type", "Police") == "2"
    assert value(pack, "M02", GM, "Agency type", "Local authority children's social care") == "3"


def test_m03_new_referrals_and_sources(pack: Pack) -> None:
    assert value(pack, "M03") == "3"  # ann (new GMP episode), ben, dan
    assert value(pack, "M03", "Bolton") == "2"
    assert value(pack, "M03", GM, "Referral source", "Police") == "1"
    assert value(pack, "M03", GM, "Referral source", "Schools and education") == "1"
    assert value(pack, "M03", GM, "Referral source", "Health") == "1"
    assert value(pack, "M03", "Bolton", "Referral source", "Health") == "0"


def test_m04_re_referrals_look_back_into_earlier_quarters(pack: Pack) -> None:
    assert value(pack, "M04") == "1"  # ben: closed 10 Jun (Q1), new 15 Jul
    assert value(pack, "M04", "Bolton") == "1"
    assert value(pack, "M04.pct") == "33.3"
    assert value(pack, "M04.pct", "Bolton") == "50.0"


def test_m05_closures_and_median_length(pack: Pack) -> None:
    assert value(pack, "M05") == "2"
    assert value(pack, "M05", "Bolton", "Closure reason", "Risk reduced") == "1"
    assert value(pack, "M05", "Bury", "Closure reason", "Stepped down to another service") == "1"
    assert value(pack, "M05.median_days", "Bolton") == "67"
    assert value(pack, "M05.median_days", "Bury") == "221"
    assert value(pack, "M05.median_days") == "144"


def test_m06_m07_risk(pack: Pack) -> None:
    assert value(pack, "M06.high_pct") == "66.7"
    assert value(pack, "M06.not_assessed_pct") == "33.3"
    assert value(pack, "M06.high_pct", "Oldham") == "z"  # no children: not applicable
    assert value(pack, "M07") == "2"  # ann (1 Sep) and dan (15 Sep); cat never assessed
    assert value(pack, "M07.pct") == "66.7"
    assert value(pack, "M01", GM, "Agency type", "Police") == "2"  # ann and cat open to GMP
    assert value(pack, "M07", GM, "Agency type", "Police") == "0"  # GMP assessed neither
    assert value(pack, "M07", GM, "Agency type", "Health") == "1"


def test_m08_m09_missing_and_return_interviews(pack: Pack) -> None:
    assert value(pack, "M08") == "3"
    assert value(pack, "M08.repeat") == "2"
    assert value(pack, "M08.episodes") == "8"  # ann 4 (CSC record, not 4+2), cat 3, dan 1
    assert value(pack, "M08", GM, "Looked after", "Looked after") == "1"
    assert value(pack, "M09.offered") == "7"
    assert value(pack, "M09.completed") == "5"
    assert value(pack, "M09.within_72h") == "4"
    assert value(pack, "M09.offered_pct") == "87.5"
    assert value(pack, "M09.completed_pct") == "71.4"
    assert value(pack, "M09.within_72h_pct") == "80.0"
    assert value(pack, "M09.within_72h_pct", "Manchester") == "z"  # nothing completed


def test_m10_nrm(pack: Pack) -> None:
    assert value(pack, "M10") == "2"  # ann (10 Aug) and dan (5 Jul); cat's was in February
    assert value(pack, "M10", GM, "Primary type group", "Other types") == "1"
    assert value(pack, "M10.rg_decisions") == "2"  # cat RG positive, dan CG positive
    assert value(pack, "M10.rg_positive") == "2"
    assert value(pack, "M10.cg_decisions") == "1"
    assert value(pack, "M10.cg_positive_pct") == "100.0"


def test_m11_to_m15(pack: Pack) -> None:
    assert value(pack, "M11.open") == "1" and value(pack, "M11.open", "Bolton") == "1"
    assert value(pack, "M11.new") == "0"  # ann's new (GMP) episode is not county lines
    assert value(pack, "M12.cla_pct") == "33.3"
    assert value(pack, "M12.care_leaver_pct") == "0.0"
    assert value(pack, "M13") == "1"
    assert value(pack, "M13", GM, "Disruption action", "Arrest") == "1"
    assert value(pack, "M13", GM, "Disruption action", "Child abduction warning notice") == "1"
    assert value(pack, "M14.school_age") == "2"  # ann 14, dan 12
    assert value(pack, "M14.ap_ehe_cme_pct") == "50.0"
    assert value(pack, "M14.neet_pct") == "100.0"  # cat, 17
    assert value(pack, "M15") == "1" and value(pack, "M15.pct") == "33.3"


def test_m17_cross_agency(pack: Pack) -> None:
    assert value(pack, "M17") == "1"  # ann: Bolton CSC and GMP
    assert value(pack, "M17.pct") == "20.0"
    assert value(pack, "M17", GM, "Agency type", "Police") == "1"
    assert value(pack, "M17.pct", GM, "Agency type", "Police") == "50.0"


def test_m16_is_reported_as_not_available(pack: Pack) -> None:
    m16 = next(m for m in all_measures() if m.id == "M16")
    assert m16.unavailable.startswith("not available: population denominators")
    headline = next(s for s in pack.sections if s.id == "headline").tables[0]
    row = next(r for r in headline.rows if r.label.startswith("M16"))
    assert [c.text for c in row.cells] == ["x", "x", "x"]


def test_places_and_data_quality(pack: Pack) -> None:
    assert value(pack, "M02", GM, "Postcode district", "BL1") == "2"  # ann and cat
    name = "Bolton Children's Social Care"
    assert value(pack, "DQ.rows_read", GM, "Agency", name) == "3"
    assert value(pack, "DQ.rows_rejected", GM, "Agency", name) == "1"
    assert value(pack, "DQ.validity_pct", GM, "Agency", name) == "66.7"
    assert value(pack, "DQ.queries", GM, "Agency", "Greater Manchester Police") == "7"
    assert value(pack, "DQ.rows_read", GM, "Agency", "All agencies") == "7"


def test_trend_values_come_from_each_quarter(pack: Pack) -> None:
    assert [value(pack, "M01", quarter=q) for q in (P4, P1, P2)] == ["1", "2", "3"]
    assert value(pack, "M05", quarter=P1) == "1"  # ben closed 10 Jun


def test_coverage_statuses(pack: Pack) -> None:
    section = next(s for s in pack.sections if s.id == "coverage")
    status = {r.label: [c.text for c in r.cells] for r in section.tables[0].rows}
    assert section.tables[0].columns == (P4, P1, P2)
    assert status["Bury Children's Social Care"] == ["submitted", "submitted", "late"]
    assert status["Bolton Children's Social Care"] == ["missing", "submitted", "submitted"]
    accepted = {r.label: [c.text for c in r.cells] for r in section.tables[1].rows}
    assert accepted["Bolton Children's Social Care"] == ["x", "1", "2"]


def test_working_days_skip_weekends() -> None:
    assert working_days_after(date(2026, 9, 30), date(2026, 10, 14)) == 10
    assert working_days_after(date(2026, 9, 30), date(2026, 9, 1)) == 0
    assert working_days_after(date(2026, 9, 30), date(2026, 10, 28)) == 20  # on time
    assert working_days_after(date(2026, 9, 30), date(2026, 10, 29)) == 21  # late


def test_unknown_period_names_the_periods_in_the_store(tmp_path: Path) -> None:
    store = scenario(tmp_path / "store")
    with pytest.raises(StoreError) as caught:
        build_pack(store, parse_period("2030-31 Q1"), generated_at=WHEN)
    assert "2030-31 Q1" in caught.value.message
    assert "2025-26 Q4, 2026-27 Q1, 2026-27 Q2" in caught.value.hint


@pytest.mark.parametrize("make", ["missing", "empty", "locked"])
def test_unusable_store_is_a_store_error(tmp_path: Path, make: str) -> None:
    root = tmp_path / "store"
    if make != "missing":
        root.mkdir()
    if make == "locked":
        write_store(root, {P2: [Rec("a", "gmp", date(2026, 8, 1))]})
        (root / ".lock").write_text("{}")
    with pytest.raises(StoreError):
        build_pack(root, parse_period(P2), generated_at=WHEN)


def test_damaged_store_files_are_store_errors(tmp_path: Path) -> None:
    root = write_store(tmp_path / "store", {P2: [Rec("a", "gmp", date(2026, 8, 1))]})
    part = root / "period=2026-27Q2" / "agency=gmp" / "part-0.parquet"
    pl.read_parquet(part).drop("person_key").write_parquet(part)
    with pytest.raises(StoreError, match="person_key"):
        build_pack(root, parse_period(P2), generated_at=WHEN)
    part.write_bytes(b"not parquet")
    with pytest.raises(StoreError, match="Cannot read"):
        build_pack(root, parse_period(P2), generated_at=WHEN)
    (root / "period=2026-27Q2" / "manifest.json").write_text("{broken")
    with pytest.raises(StoreError, match="Cannot read"):
        build_pack(root, parse_period(P2), generated_at=WHEN)


def test_threshold_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        build_pack(tmp_path, parse_period(P2), threshold=0, generated_at=WHEN)
