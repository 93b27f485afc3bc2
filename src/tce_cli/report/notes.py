"""The Notes section: definitions, symbols, suppression log, counting rules, sources, provenance."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from tce_cli import __version__
from tce_cli.periods import Period
from tce_cli.report.measures import Measure
from tce_cli.report.model import Cell, Number, Row, Section, Table, Text
from tce_cli.report.publish import MIN_DENOMINATOR, SuppressionLog
from tce_cli.report.quality import LATE_WORKING_DAYS, Submission
from tce_cli.schema import load_schema

SYMBOLS = (
    ("c", "Confidential: suppressed to protect children's identities (disclosure control)."),
    ("x", "Not available: no data in the store for that quarter or agency."),
    ("z", "Not applicable: there is nothing to divide by (no children in the group)."),
    ("0", "A true zero (zeros are never suppressed)."),
)
COUNTING_RULES = (
    "Every count is of distinct children (pseudonymised person key), never of rows, unless "
    "the column says episodes, interviews, rows or findings.",
    "A child reported by several agencies or in several episodes has one representative "
    "record for breakdowns: the local authority children's social care record if there is "
    "one, otherwise the most recently started episode. Breakdowns therefore add up to totals.",
    "Yes/no conditions (county lines, youth justice, education, disruption, a current risk "
    "assessment, an NRM referral in the quarter) count if any of the child's records says so.",
    "Missing episodes and return interviews come from the record reporting the most missing "
    "episodes, because agencies often record the same episodes.",
    "Greater Manchester totals include children whose local authority is outside Greater "
    "Manchester or not recorded (shown as their own rows).",
    "Known to two or more agency types is worked out from all agencies' records for the "
    "quarter, so it is up to date whichever agency was harmonised last.",
)
DQ_INDICATORS = {
    "DQ.rows_read": "Rows read from the agency's files",
    "DQ.rows_accepted": "Rows accepted into the store",
    "DQ.rows_rejected": "Rows rejected (error findings)",
    "DQ.errors": "Error findings",
    "DQ.queries": "Query findings",
    "DQ.validity_pct": "% of rows read accepted",
    "DQ.completeness_pct": "% of rows with a required field populated (mean, or per field)",
    "DQ.timeliness_score": f"Timeliness score (100 within {LATE_WORKING_DAYS} working days)",
    "DQ.maturity_score": "Data maturity score (mean of completeness, validity, timeliness)",
    "PQ.rows_read": "Rows read from the agency's files for the quarter (from its manifest)",
    "PQ.children_open_at_end": "Children the agency had open at the quarter end",
    "PQ.new_episodes": "Episodes the agency opened in the quarter",
}


def _table(
    id: str, title: str, stub: str, columns: Sequence[str], rows: Iterable[Row], note: str = ""
) -> Table:
    return Table(id, title, stub, tuple(columns), tuple(rows), note=note)


def _text_rows(pairs: Iterable[tuple[str, str]]) -> list[Row]:
    return [Row(label, (Text(text),)) for label, text in pairs]


def notes_section(
    measures: Sequence[Measure],
    indicator_ids: Iterable[str],
    log: SuppressionLog,
    period: Period,
    submissions: dict[str, Submission],
    about: dict[str, str],
) -> Section:
    """Build the Notes section (plain text and numbers; nothing here is suppressed)."""
    suppression: list[Row] = [Row(rule, (Number(n),)) for rule, n in log.lines()]
    counting = _text_rows((str(i), t) for i, t in enumerate(COUNTING_RULES, 1))
    tables = [
        _table("definitions", "Definitions", "Measure", ["Definition"], _definitions(measures)),
        _table(
            "indicators",
            "Measure codes in measures.csv",
            "Code",
            ["Meaning"],
            _indicators(measures, indicator_ids),
        ),
        _table("symbols", "Symbols", "Symbol", ["Meaning"], _text_rows(SYMBOLS)),
        _table(
            "suppression", "Disclosure control", "Rule", ["Cells"], suppression, note=_policy(log)
        ),
        _table("counting", "How children are counted", "Rule", ["Text"], counting),
        _sources(period, submissions),
        _table("about", "About this pack", "Item", ["Value"], _text_rows(about.items())),
    ]
    intro = "Definitions, symbols and how this pack was made."
    return Section("notes", "Notes", "Notes", intro, tuple(tables))


def _definitions(measures: Sequence[Measure]) -> list[Row]:
    return _text_rows(
        (f"{m.id} {m.title}", m.definition + (f" ({m.unavailable}.)" if m.unavailable else ""))
        for m in measures
    )


def _indicators(measures: Sequence[Measure], ids: Iterable[str]) -> list[Row]:
    described = {m.id: m.title for m in measures} | DQ_INDICATORS
    for m in measures:
        described |= m.indicators
    return _text_rows((i, described.get(i, "")) for i in sorted(set(ids)))


def _policy(log: SuppressionLog) -> str:
    if not log.enabled:
        return "Disclosure control was switched off: this pack is NOT FOR PUBLICATION."
    return (
        f"Counts of 1 to {log.threshold} are suppressed (c); zeros are shown. Further cells are "
        "suppressed until no suppressed count can be worked out from published totals. "
        "Percentages are suppressed when their numerator or denominator is, or the denominator "
        f"is below {MIN_DENOMINATOR}."
    )


def _sources(period: Period, subs: dict[str, Submission]) -> Table:
    columns = ("Files", "Mapping", "Extract date", "Harmonised at")
    rows = []
    for sub in sorted(subs.values(), key=lambda s: (s.name.casefold(), s.agency_id)):
        cells: tuple[Cell, ...] = (
            Text(", ".join(sub.files) or "x"),
            Text(sub.mapping or "x"),
            Text(sub.extract_date.isoformat() if sub.extract_date else "x"),
            Text(sub.submitted_at or "x"),
        )
        rows.append(Row(sub.name, cells))
    return _table("sources", f"Sources: submissions for {period.label}", "Agency", columns, rows)


def about(
    period: Period,
    generated_at: datetime,
    *,
    threshold: int,
    suppression: bool,
    pseudonymised: bool,
    stored: Sequence[Period],
) -> dict[str, str]:
    """Provenance lines for 'About this pack'."""
    schema = load_schema()
    flags = f" --threshold {threshold}" if suppression else " --no-suppression"
    return {
        "Period": f"{period.label} ({period.start.isoformat()} to {period.end.isoformat()})",
        "EES time period": f"{period.time_period} {period.time_identifier}",
        "Generated at": iso_utc(generated_at),
        "Generated by": f"tce {__version__}: tce report --period '{period.label}'{flags}",
        "Schema": f"{schema.name}, version {schema.version}",
        "Disclosure control": f"on, threshold {threshold}" if suppression else "off",
        "Pseudonymised store": "yes" if pseudonymised else "no",
        "Quarters in the store": ", ".join(p.label for p in stored),
    }


def iso_utc(moment: datetime) -> str:
    """``2026-11-30T09:00:00Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
