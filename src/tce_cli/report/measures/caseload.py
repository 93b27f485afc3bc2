"""Measures M01-M07: caseload, referrals, closures and risk."""

from __future__ import annotations

import polars as pl

from tce_cli.report.cohorts import CURRENT_DAYS, Cohort, PeriodData
from tce_cli.report.measures import Measure, Placed
from tce_cli.report.model import Chart, Count, Rate
from tce_cli.report.tables import Col, Column, MedianCol, RateCol, by_rows, gm_count, gm_rate, grid
from tce_cli.report.vocab import (
    AGE,
    AGENCY_TYPE,
    AGENCY_TYPES,
    CLOSURE,
    CSC,
    ETHNICITY,
    LA,
    PRIMARY_TYPE,
    REFERRAL,
    RISK,
    SEX,
    TYPES,
    label,
)

OPEN, ALL, NEW, CLOSED = Cohort.OPEN, Cohort.ALL, Cohort.NEW, Cohort.CLOSED


def _bar(title: str, index: int = -1) -> tuple[Chart, ...]:
    return (Chart("bar", title, "Children", index),)


def open_total() -> Col:
    return Col("Children open at quarter end", "M01", OPEN)


def open_with(column_label: str, dim_name: str, column: str, value: str) -> Col:
    """Children open at quarter end with one category (keyed like the M01 breakdown cell)."""
    where = pl.col(column) == value
    return Col(column_label, "M01", OPEN, where=where, parts=((dim_name, value),))


def _m01(d: PeriodData) -> list[Placed]:
    p, kids = d.period.label, d.children(OPEN)
    title = "Children open at quarter end by"
    by_la = grid(
        kids,
        p,
        "M01",
        LA,
        PRIMARY_TYPE,
        id="M01-la-type",
        title=f"{title} local authority and primary exploitation type",
        charts=_bar("Children open at quarter end by local authority"),
    )
    placed: list[Placed] = [("type-la", by_la)]
    for dim, name, words, chart in (
        (AGE, "age", "age band", "Children open at quarter end by age band"),
        (SEX, "sex", "sex", ""),
        (ETHNICITY, "ethnicity", "ethnicity major group", "Children open by ethnicity major group"),
        (CSC, "csc", "children's social care status", ""),
    ):
        charts = _bar(chart, 0) if chart else ()
        table = grid(kids, p, "M01", dim, id=f"M01-{name}", title=f"{title} {words}", charts=charts)
        placed.append(("characteristics", table))
    return placed


def _m02(d: PeriodData) -> list[Placed]:
    p, kids = d.period.label, d.children(ALL)
    many = (
        "A child can have several exploitation types, so the type columns add to more than "
        "the total."
    )
    agencies = "A child known to several agency types counts in each row, once in the total."
    return [
        (
            "type-la",
            grid(
                kids,
                p,
                "M02",
                LA,
                TYPES,
                id="M02-la-types",
                note=many,
                title="Children with involvement in the quarter by local authority and "
                "exploitation type",
            ),
        ),
        (
            "multi-agency",
            grid(
                kids,
                p,
                "M02",
                AGENCY_TYPES,
                id="M02-agency-type",
                note=agencies,
                title="Children with involvement in the quarter by agency type",
            ),
        ),
    ]


def _m03(d: PeriodData) -> list[Placed]:
    p, kids = d.period.label, d.children(NEW)
    title = "Children newly referred in the quarter by"
    return [
        (
            "referrals",
            grid(
                kids,
                p,
                "M03",
                LA,
                REFERRAL,
                id="M03-la-source",
                title=f"{title} local authority and referral source",
                charts=_bar("Children newly referred by local authority"),
            ),
        ),
        (
            "referrals",
            grid(
                kids,
                p,
                "M03",
                PRIMARY_TYPE,
                id="M03-type",
                title=f"{title} primary exploitation type",
            ),
        ),
        ("referrals", grid(kids, p, "M03", AGE, id="M03-age", title=f"{title} age band")),
        ("referrals", grid(kids, p, "M03", SEX, id="M03-sex", title=f"{title} sex")),
    ]


def _m04(d: PeriodData) -> list[Placed]:
    columns: list[Column] = [
        Col("Children newly referred", "M03", NEW),
        Col("Re-referred within 12 months", "M04", NEW, where=pl.col("reref")),
        RateCol("% re-referred", "M04.pct", num=1, den=0),
    ]
    title = "Re-referrals by local authority"
    return [("referrals", by_rows(d, LA, columns, id="M04-la", title=title))]


def _m04_headline(d: PeriodData) -> Rate:
    num = gm_count(d, "M04", NEW, where=pl.col("reref"))
    return gm_rate(d, "M04.pct", num, gm_count(d, "M03", NEW))


def _m05(d: PeriodData) -> list[Placed]:
    p, kids = d.period.label, d.children(CLOSED)
    lengths: list[Column] = [
        Col("Children with an episode closed", "M05", CLOSED),
        MedianCol("Median episode length (days)", "M05.median_days", CLOSED, "episode_days", n=0),
    ]
    return [
        (
            "closures",
            grid(
                kids,
                p,
                "M05",
                LA,
                CLOSURE,
                id="M05-la-reason",
                title="Children with an episode closed by local authority and closure reason",
            ),
        ),
        (
            "closures",
            by_rows(
                d,
                LA,
                lengths,
                id="M05-length",
                title="Episode length at closure by local authority",
            ),
        ),
    ]


def _risk_rates(high: str, not_assessed: str) -> list[Column]:
    return [
        open_total(),
        open_with("High risk", RISK.name, "risk", high),
        RateCol("% high risk", "M06.high_pct", num=1, den=0),
        open_with("Not assessed", RISK.name, "risk", not_assessed),
        RateCol("% not assessed", "M06.not_assessed_pct", num=3, den=0),
    ]


def _m06(d: PeriodData) -> list[Placed]:
    p, kids = d.period.label, d.children(OPEN)
    high, unassessed = label("risk_level", "HIGH"), label("risk_level", "NOT_ASSESSED")
    by_type = _risk_rates(high, unassessed)[:3]
    return [
        (
            "risk",
            grid(
                kids,
                p,
                "M01",
                LA,
                RISK,
                id="M06-la-risk",
                title="Children open at quarter end by local authority and risk level",
            ),
        ),
        (
            "risk",
            by_rows(
                d,
                LA,
                _risk_rates(high, unassessed),
                id="M06-la-rates",
                title="High-risk and not-assessed shares by local authority",
            ),
        ),
        (
            "risk",
            by_rows(
                d,
                PRIMARY_TYPE,
                by_type,
                id="M06-type-rates",
                title="High-risk share by primary exploitation type",
            ),
        ),
    ]


def _m06_headline(d: PeriodData) -> Rate:
    high = label("risk_level", "HIGH")
    num = gm_count(d, "M01", OPEN, where=pl.col("risk") == high, parts=((RISK.name, high),))
    return gm_rate(d, "M06.high_pct", num, gm_count(d, "M01", OPEN))


def _m07(d: PeriodData) -> list[Placed]:
    current = pl.col("current")
    la: list[Column] = [
        open_total(),
        Col("Assessed in last 90 days", "M07", OPEN, where=current),
        RateCol("% assessment current", "M07.pct", num=1, den=0),
    ]
    agency: list[Column] = [
        Col("Children open to the agency type", "M01", OPEN, per_agency_type=True),
        Col("Assessed by it in last 90 days", "M07", OPEN, where=current, per_agency_type=True),
        RateCol("% assessment current", "M07.pct", num=1, den=0),
    ]
    note = "A child open to several agency types counts in each row, once in the total."
    return [
        (
            "risk",
            by_rows(d, LA, la, id="M07-la", title="Risk assessment currency by local authority"),
        ),
        (
            "risk",
            by_rows(
                d,
                AGENCY_TYPE,
                agency,
                id="M07-agency",
                note=note,
                title="Risk assessment currency by agency type",
            ),
        ),
    ]


def _m07_headline(d: PeriodData) -> Rate:
    num = gm_count(d, "M07", OPEN, where=pl.col("current"))
    return gm_rate(d, "M07.pct", num, gm_count(d, "M01", OPEN))


def _open(d: PeriodData) -> Count:
    return gm_count(d, "M01", OPEN)


def _involved(d: PeriodData) -> Count:
    return gm_count(d, "M02", ALL)


def _new(d: PeriodData) -> Count:
    return gm_count(d, "M03", NEW)


def _closed(d: PeriodData) -> Count:
    return gm_count(d, "M05", CLOSED)


_REP = "Breakdowns use each child's representative record (see Notes)."

MEASURES = (
    Measure(
        "M01",
        "Children open at quarter end",
        "Distinct children with an episode open on the last day of the quarter, with any "
        f"agency. {_REP}",
        _m01,
        _open,
        "Children open at quarter end",
    ),
    Measure(
        "M02",
        "Children with involvement in the quarter",
        "Distinct children with any episode overlapping the quarter. By exploitation type and "
        "agency type a child counts once in each type or agency type recorded.",
        _m02,
        _involved,
        "Children with involvement in the quarter",
    ),
    Measure(
        "M03",
        "Children newly referred",
        "Distinct children with an episode that started in the quarter. Children are counted, "
        "not episodes, so a child referred to two agencies counts once. Referral sources are "
        f"grouped: police, schools and education, health, local authority services, other. {_REP}",
        _m03,
        _new,
        "Children newly referred",
    ),
    Measure(
        "M04",
        "Re-referrals",
        "Children newly referred in the quarter who had an earlier episode, with any agency, "
        "closed in the 12 months before the new episode started, as a % of M03. Earlier "
        "episodes are looked up in every quarter of the store up to this one.",
        _m04,
        _m04_headline,
        "% of new referrals re-referred within 12 months",
        {"M04": "Children re-referred", "M04.pct": "% of M03 re-referred"},
    ),
    Measure(
        "M05",
        "Children with an episode closed",
        "Distinct children with an episode that ended in the quarter; the closure reason and "
        "episode length (start to end, in days) are those of the child's representative "
        "closed episode. Medians are shown only for 10 or more children.",
        _m05,
        _closed,
        "Children with an episode closed",
        {"M05": "Children with an episode closed", "M05.median_days": "Median episode length"},
    ),
    Measure(
        "M06",
        "High-risk share",
        "% of children open at quarter end whose risk level is High, and % Not assessed "
        "(risk level from the child's representative record).",
        _m06,
        _m06_headline,
        "% of open children at high risk",
        {"M06.high_pct": "% high risk", "M06.not_assessed_pct": "% not assessed"},
    ),
    Measure(
        "M07",
        "Risk assessment currency",
        f"% of children open at quarter end with a risk assessment dated 0 to {CURRENT_DAYS} "
        "days before the quarter end on any of their records. By agency type: children open "
        "to that agency type whose assessment by it is current.",
        _m07,
        _m07_headline,
        "% of open children with a current risk assessment",
        {"M07": "Children with a current assessment", "M07.pct": "% with a current assessment"},
    ),
)
