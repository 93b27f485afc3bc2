"""Measures M08-M17: missing, return interviews, NRM, county lines, care, education, youth
justice, disruption and multi-agency visibility; plus the places table."""

from __future__ import annotations

import polars as pl

from tce_cli.report.cohorts import Cohort, PeriodData
from tce_cli.report.measures import Measure, Placed
from tce_cli.report.model import Cell, Chart, Count, Rate, Row, Table
from tce_cli.report.tables import Col, Column, RateCol, by_rows, gm_count, gm_rate, grid
from tce_cli.report.vocab import (
    ACTIONS,
    AGE,
    CLA,
    LA,
    NRM_GROUP,
    SEX,
)

OPEN, ALL, NEW = Cohort.OPEN, Cohort.ALL, Cohort.NEW
MISSING = pl.col("missing") >= 1
REPEAT = pl.col("missing") >= 3
NRM = pl.col("nrm_in_quarter")
RG_DECIDED = ("RG_POSITIVE", "RG_NEGATIVE", "CG_POSITIVE", "CG_NEGATIVE")
RG_POSITIVE = ("RG_POSITIVE", "CG_POSITIVE", "CG_NEGATIVE")
CG_DECIDED = ("CG_POSITIVE", "CG_NEGATIVE")
SCHOOL_AGE = (5, 15)
PLACES_SHOWN = 10


def _m08(d: PeriodData) -> list[Placed]:
    p, kids = d.period.label, d.children(ALL)
    columns: list[Column] = [
        Col("Children missing", "M08", ALL, where=MISSING),
        Col("Repeat missing (3+ episodes)", "M08.repeat", ALL, where=REPEAT),
        Col("Missing episodes", "M08.episodes", ALL, weight="missing"),
    ]
    title = "Children missing in the quarter by"
    chart = (Chart("bar", "Children missing by local authority", "Children", 0),)
    return [
        (
            "missing",
            by_rows(d, LA, columns, id="M08-la", title=f"{title} local authority", charts=chart),
        ),
        (
            "missing",
            grid(
                kids,
                p,
                "M08",
                CLA,
                id="M08-cla",
                where=MISSING,
                title=f"{title} looked-after status",
            ),
        ),
        ("missing", grid(kids, p, "M08", SEX, id="M08-sex", where=MISSING, title=f"{title} sex")),
        (
            "missing",
            grid(kids, p, "M08", AGE, id="M08-age", where=MISSING, title=f"{title} age band"),
        ),
    ]


def _rhi_columns() -> list[Column]:
    return [
        Col("Missing episodes", "M08.episodes", ALL, weight="missing"),
        Col("Return interviews offered", "M09.offered", ALL, weight="rhi_offered"),
        RateCol("% of episodes offered", "M09.offered_pct", num=1, den=0),
        Col("Completed", "M09.completed", ALL, weight="rhi_completed"),
        RateCol("% of offered completed", "M09.completed_pct", num=3, den=1),
        Col("Within 72 hours", "M09.within_72h", ALL, weight="rhi_within_72h"),
        RateCol("% of completed within 72 hours", "M09.within_72h_pct", num=5, den=3),
    ]


def _m09(d: PeriodData) -> list[Placed]:
    title = "Return home interviews by"
    return [
        ("missing", by_rows(d, LA, _rhi_columns(), id="M09-la", title=f"{title} local authority")),
        (
            "missing",
            by_rows(d, CLA, _rhi_columns(), id="M09-cla", title=f"{title} looked-after status"),
        ),
    ]


def _m09_headline(d: PeriodData) -> Rate:
    num = gm_count(d, "M09.within_72h", ALL, weight="rhi_within_72h")
    den = gm_count(d, "M09.completed", ALL, weight="rhi_completed")
    return gm_rate(d, "M09.within_72h_pct", num, den)


def _nrm_decisions(d: PeriodData) -> Table:
    status = pl.col("nrm_status")
    cells: list[tuple[str, list[Cell]]] = []
    for name, prefix, decided, positive in (
        ("Reasonable grounds", "M10.rg", RG_DECIDED, RG_POSITIVE),
        ("Conclusive grounds", "M10.cg", CG_DECIDED, ("CG_POSITIVE",)),
    ):
        den = gm_count(d, f"{prefix}_decisions", ALL, where=status.is_in(decided))
        num = gm_count(d, f"{prefix}_positive", ALL, where=status.is_in(positive))
        cells.append((name, [den, num, gm_rate(d, f"{prefix}_positive_pct", num, den)]))
    columns = ("Children with a decision", "Positive", "% positive")
    rows = tuple(Row(name, tuple(c)) for name, c in cells)
    title = "NRM decisions (latest position of each child in the quarter)"
    return Table("M10-decisions", title, "Decision", columns, rows)


def _m10(d: PeriodData) -> list[Placed]:
    p, kids = d.period.label, d.children(ALL)
    la = [Col("Children referred to the NRM in the quarter", "M10", ALL, where=NRM)]
    title = "Children referred to the NRM in the quarter by"
    return [
        ("responses", by_rows(d, LA, la, id="M10-la", title=f"{title} local authority")),
        (
            "responses",
            grid(
                kids,
                p,
                "M10",
                NRM_GROUP,
                id="M10-type",
                where=NRM,
                title=f"{title} primary exploitation type",
            ),
        ),
        ("responses", grid(kids, p, "M10", SEX, id="M10-sex", where=NRM, title=f"{title} sex")),
        ("responses", _nrm_decisions(d)),
    ]


def _m11(d: PeriodData) -> list[Placed]:
    cl = pl.col("has_cl")
    columns: list[Column] = [
        Col("Open at quarter end", "M11.open", OPEN, where=cl),
        Col("New in the quarter", "M11.new", NEW, where=cl),
    ]
    title = "Children exploited through county lines by local authority"
    return [("responses", by_rows(d, LA, columns, id="M11-la", title=title))]


def _m13(d: PeriodData) -> list[Placed]:
    p, kids = d.period.label, d.children(ALL)
    disrupted = pl.col("disrupted")
    la = [Col("Children with a disruption action", "M13", ALL, where=disrupted)]
    note = "A child with several kinds of action counts in each row, once in the total."
    return [
        (
            "responses",
            by_rows(
                d, LA, la, id="M13-la", title="Children with a disruption action by local authority"
            ),
        ),
        (
            "responses",
            grid(
                kids,
                p,
                "M13",
                ACTIONS,
                id="M13-action",
                where=disrupted,
                note=note,
                title="Children with a disruption action by kind of action",
            ),
        ),
    ]


def _missing(d: PeriodData) -> Count:
    return gm_count(d, "M08", ALL, where=MISSING)


def _nrm(d: PeriodData) -> Count:
    return gm_count(d, "M10", ALL, where=NRM)


def _county_lines(d: PeriodData) -> Count:
    return gm_count(d, "M11.open", OPEN, where=pl.col("has_cl"))


def _disrupted(d: PeriodData) -> Count:
    return gm_count(d, "M13", ALL, where=pl.col("disrupted"))


MEASURES = (
    Measure(
        "M08",
        "Children missing",
        "Distinct children with at least one missing or absent episode starting in the quarter; "
        "repeat missing = 3 or more episodes; episodes are taken from the record reporting the "
        "most (agencies often record the same episodes), so they are not double counted.",
        _m08,
        _missing,
        "Children missing in the quarter",
        {
            "M08": "Children missing",
            "M08.repeat": "Children missing 3+ times",
            "M08.episodes": "Missing episodes",
        },
    ),
    Measure(
        "M09",
        "Return home interview performance",
        "Episode-weighted: interviews offered / missing episodes; completed / offered; within "
        "72 hours of return / completed. Counts come from the same record as M08.",
        _m09,
        _m09_headline,
        "% of completed return interviews within 72 hours",
        {
            "M09.offered": "Return interviews offered",
            "M09.completed": "Return interviews completed",
            "M09.within_72h": "Return interviews completed within 72 hours of return",
            "M09.offered_pct": "% offered",
            "M09.completed_pct": "% completed",
            "M09.within_72h_pct": "% within 72 hours",
        },
    ),
    Measure(
        "M10",
        "NRM referrals",
        "Children with a National Referral Mechanism referral dated in the quarter. Decision "
        "rates use each child's most advanced NRM position in the quarter: reasonable grounds "
        "positive (including any conclusive grounds decision) among RG decisions; conclusive "
        "grounds positive among CG decisions.",
        _m10,
        _nrm,
        "Children referred to the NRM",
        {
            "M10": "Children referred to the NRM in the quarter",
            "M10.rg_decisions": "Children with a reasonable grounds decision",
            "M10.rg_positive": "Children with a positive reasonable grounds decision",
            "M10.rg_positive_pct": "% of RG decisions positive",
            "M10.cg_decisions": "Children with a conclusive grounds decision",
            "M10.cg_positive": "Children with a positive conclusive grounds decision",
            "M10.cg_positive_pct": "% of CG decisions positive",
        },
    ),
    Measure(
        "M11",
        "County lines",
        "Children with county lines (CL) among their exploitation types on any record: open at "
        "quarter end, and newly referred in the quarter.",
        _m11,
        _county_lines,
        "Children exploited through county lines (open at quarter end)",
        {
            "M11.open": "Children with county lines, open at quarter end",
            "M11.new": "Children with county lines, newly referred",
        },
    ),
    Measure(
        "M13",
        "Disruption activity",
        "Children with involvement in the quarter who have at least one disruption action "
        "recorded on any record, and children by kind of action.",
        _m13,
        _disrupted,
        "Children with a disruption action",
        {"M13": "Children with a disruption action"},
    ),
)
