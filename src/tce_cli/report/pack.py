"""Build the quarterly pack from the store: compute, suppress, and lay out the sections."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from tce_cli.cycle.compare import period_changes
from tce_cli.errors import ConfigError, StoreError
from tce_cli.periods import Period
from tce_cli.report.changes import change_table
from tce_cli.report.cohorts import PeriodData
from tce_cli.report.headlines import Kept, Values, headline_values, kept_quarter, kept_values
from tce_cli.report.measures import all_measures
from tce_cli.report.measures.vulnerability import places
from tce_cli.report.model import GM, CellKey, Section, Table
from tce_cli.report.notes import about, notes_section
from tce_cli.report.publish import PublishedSection, Publisher, SuppressionLog
from tce_cli.report.quality import (
    Quarters,
    completeness_table,
    coverage_tables,
    maturity_tables,
    quality_table,
    submissions,
)
from tce_cli.report.rerefs import History
from tce_cli.report.store_read import StoreInfo, load_manifest, open_store, scan_rows
from tce_cli.report.trends import headline_tables, window_periods
from tce_cli.report.vocab import LA
from tce_cli.schema import load_schema
from tce_cli.store import Store

NOT_FOR_PUBLICATION = "NOT FOR PUBLICATION: made without disclosure control (--no-suppression)"
NOT_PSEUDONYMISED = "NOT PSEUDONYMISED — local testing only"
TIDY_COLUMNS = (
    "time_period",
    "time_identifier",
    "geography_level",
    "geography",
    "measure",
    "breakdown",
    "breakdown_value",
    "value",
)

SECTIONS = (
    (
        "headline",
        "Headline measures",
        "Headline",
        "The main measures for the quarter, with the change on the previous quarter.",
    ),
    (
        "type-la",
        "Children by exploitation type and local authority",
        "Type by LA",
        "Children open at the quarter end and children involved during the quarter.",
    ),
    (
        "characteristics",
        "Age, sex and ethnicity",
        "Age sex ethnicity",
        "Characteristics of children open at the quarter end.",
    ),
    ("risk", "Risk", "Risk", "Risk levels and how recently risk was assessed."),
    (
        "missing",
        "Missing episodes and return interviews",
        "Missing and RHI",
        "Children missing from home or care, and return home interviews.",
    ),
    (
        "referrals",
        "Referrals and their sources",
        "Referrals",
        "Children newly referred in the quarter, who referred them, and re-referrals.",
    ),
    ("closures", "Outcomes at closure", "Closures", "Episodes that ended in the quarter."),
    (
        "responses",
        "NRM referrals, county lines and disruption",
        "NRM and disruption",
        "National Referral Mechanism, county lines and disruption activity.",
    ),
    (
        "vulnerability",
        "Care, education and youth justice",
        "Care education YJ",
        "Looked-after children, education and youth justice overlap.",
    ),
    (
        "multi-agency",
        "Children known to more than one agency",
        "Multi-agency",
        "How many agency types know each child.",
    ),
    ("places", "Places", "Places", "Where children live (postcode districts)."),
    ("trends", "Trends", "Trends", "Headline measures over up to the last 8 quarters."),
    (
        "changes",
        "Change on previous quarter",
        "Change",
        "Each agency's return against its return for the previous quarter.",
    ),
    (
        "quality",
        "Data quality and data maturity",
        "Data quality",
        "What each agency sent this quarter and how complete, valid and timely it was.",
    ),
    (
        "coverage",
        "Submission coverage",
        "Coverage",
        "Which agencies submitted in each quarter, and how many rows were accepted.",
    ),
)


@dataclass(frozen=True)
class Pack:
    """A finished pack: published sections (Notes last), stamps and tidy rows."""

    period: Period
    generated_at: datetime
    stamps: tuple[str, ...]
    sections: tuple[PublishedSection, ...]
    tidy: tuple[tuple[str, ...], ...]
    log: SuppressionLog


def build_pack(
    store_path: Path,
    period: Period,
    *,
    threshold: int = 5,
    suppression: bool = True,
    generated_at: datetime,
) -> Pack:
    """Compute every measure for ``period`` from the store and apply disclosure control.

    Raises:
        StoreError: no store, no data for ``period``, or unreadable files.
        ConfigError: a threshold below 1.
    """
    if threshold < 1:
        raise ConfigError("--threshold must be 1 or more.", hint="Use --no-suppression instead.")
    store = open_store(store_path)
    sections = _read_sections(store, period, places_threshold=threshold if suppression else 0)
    quarters = manifest_quarters(store, period)
    publisher = Publisher(sections, threshold=threshold, enabled=suppression)
    tidy = publisher.tidy()
    facts = about(
        period,
        generated_at,
        threshold=threshold,
        suppression=suppression,
        pseudonymised=store.pseudonymised,
        stored=store.periods,
    )
    notes = notes_section(
        all_measures(),
        {k.measure for k in tidy},
        publisher.log(),
        period,
        quarters[-1][1] or {},
        facts,
    )
    published = (*publisher.publish(), *Publisher([notes], threshold=1, enabled=False).publish())
    stamps = _stamps(suppression=suppression, pseudonymised=store.pseudonymised)
    tidy_rows = _tidy_rows(tidy, quarters)
    return Pack(period, generated_at, stamps, published, tidy_rows, publisher.log())


def _read_sections(store: StoreInfo, period: Period, *, places_threshold: int) -> list[Section]:
    if not store.has(period):
        raise StoreError(
            f"The store has no data for {period.label}.",
            hint=f"Periods in the store: {', '.join(p.label for p in store.periods)}. "
            f"Run 'tce harmonise FILES --period \"{period.label}\"' first.",
        )
    try:
        return compute_sections(store, period, places_threshold=places_threshold)
    except pl.exceptions.PolarsError as exc:
        raise StoreError(
            f"Could not read the store's Parquet files ({type(exc).__name__}).",
            hint="The store may be damaged or from another tce version: re-run 'tce harmonise'.",
        ) from None


def _stamps(*, suppression: bool, pseudonymised: bool) -> tuple[str, ...]:
    """The warnings printed on every page and sheet."""
    flags = ((NOT_FOR_PUBLICATION, not suppression), (NOT_PSEUDONYMISED, not pseudonymised))
    return tuple(text for text, on in flags if on)


def period_data(
    store: StoreInfo,
    period: Period,
    *,
    skip: Collection[Period] = (),
) -> list[tuple[Period, PeriodData | None]]:
    """The trend window's quarters, each with its data (None when the store lacks it, or the
    quarter is in ``skip``: its rows are then never read).

    Only the last quarter (``period``) is read in full; the earlier ones give headline values.
    """
    upto = [
        p
        for p in store.periods
        if p.start <= period.start and p.is_financial == period.is_financial
    ]
    history = History(store, upto)
    out: list[tuple[Period, PeriodData | None]] = []
    for q in window_periods(period, store.periods):
        data = None
        if store.has(q) and q not in skip:
            data = PeriodData(q, scan_rows(store, [q]), history, headline_only=q != period)
        out.append((q, data))
    return out


def window_values(
    store: StoreInfo, period: Period, kept: Kept | None = None
) -> tuple[PeriodData, list[tuple[Period, Values | None]]]:
    """The report quarter's data, and every quarter of the trend window with its headline
    values: kept in the store where they are current, else worked out from the rows.

    ``kept``: what the store keeps for the report quarter (its rows are then not read).
    """
    earlier = window_periods(period, store.periods)[:-1]
    values = {q: v for q in earlier if store.has(q) and (v := kept_values(store, q)) is not None}
    current = kept.period_data(period) if kept else None
    skip = {*values, period} if current else set(values)
    out: list[tuple[Period, Values | None]] = []
    for q, data in period_data(store, period, skip=skip):
        if q == period:
            current = current or data
            if current is None:
                break
            out.append((q, headline_values(current)))
            return current, out
        out.append((q, values.get(q) if data is None else headline_values(data)))
        if data is not None:
            data.release()  # earlier quarters give only these values
    raise StoreError(f"The store has no data for {period.label}.")


def manifest_quarters(store: StoreInfo, period: Period) -> Quarters:
    """The trend window's quarters with their manifests' submissions."""
    return [
        (q, submissions(load_manifest(store, q), q) if store.has(q) else None)
        for q in window_periods(period, store.periods)
    ]


def compute_sections(store: StoreInfo, period: Period, *, places_threshold: int) -> list[Section]:
    """Every section's tables of cells, before disclosure control."""
    kept = kept_quarter(store, period)
    current, values = window_values(store, period, kept)
    placed: dict[str, list[Table]] = {spec[0]: [] for spec in SECTIONS}
    headline, trend = headline_tables(all_measures(), values)
    placed["headline"].append(headline)
    placed["trends"].append(trend)
    for m in all_measures():
        for section_id, table in m.tables(current) if m.tables else []:
            placed[section_id].append(table)
    placed["places"].append(places(current, places_threshold))
    changes = kept.changes if kept else period_changes(Store(store.root), period)
    placed["changes"].append(change_table(changes, period))
    _quality(placed, manifest_quarters(store, period))
    return [
        Section(i, title, sheet, intro, tuple(placed[i])) for i, title, sheet, intro in SECTIONS
    ]


def _quality(placed: dict[str, list[Table]], quarters: Quarters) -> None:
    period, subs = quarters[-1]
    current = subs or {}
    order = [f.name for f in load_schema().fields]
    placed["quality"].extend(
        [quality_table(period, current), completeness_table(period, current, order)]
    )
    placed["quality"].extend(maturity_tables(quarters))
    placed["coverage"].extend(coverage_tables(quarters))


def _tidy_rows(tidy: dict[CellKey, str], quarters: Quarters) -> tuple[tuple[str, ...], ...]:
    periods = {q.label: q for q, _ in quarters}
    la_order = {name: i for i, name in enumerate(LA.categories)}

    def sort_key(key: CellKey) -> tuple[object, ...]:
        geo = (key.geography != GM, la_order.get(key.geography, len(la_order)), key.geography)
        q = periods.get(key.period)
        return (
            q.start if q else key.period,
            key.measure.startswith("DQ"),
            key.measure,
            *geo,
            key.breakdown != "Total",
            key.breakdown,
            key.value,
        )

    out = []
    for key in sorted(tidy, key=sort_key):
        q = periods[key.period]
        level = "English devolved area" if key.geography == GM else "Local authority"
        out.append(
            (
                q.time_period,
                q.time_identifier,
                level,
                key.geography,
                key.measure,
                key.breakdown,
                key.value,
                tidy[key],
            )
        )
    return tuple(out)


def utc_now() -> datetime:
    """The current time in UTC, to the second."""
    return datetime.now(tz=UTC).replace(microsecond=0)


def parse_timestamp(text: str | None) -> datetime:
    """Parse ``--generated-at`` (ISO 8601; no offset means UTC) into an aware UTC datetime.

    Raises:
        ConfigError: not an ISO 8601 date-time.
    """
    if text is None:
        return utc_now()
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--generated-at '{text}' is not an ISO 8601 date-time.",
            hint="Write it like 2026-11-30T09:00:00Z.",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_formats(text: str, allowed: Sequence[str] = ("md", "xlsx")) -> tuple[str, ...]:
    """Parse ``--format md,xlsx`` into a tuple of known formats.

    Raises:
        ConfigError: an unknown or empty format.
    """
    items = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in items if f not in allowed]
    if bad or not items:
        raise ConfigError(
            f"Unknown --format value '{', '.join(bad) or text}'.",
            hint=f"Use {' or '.join(allowed)}, or both: --format {','.join(allowed)}.",
        )
    return tuple(dict.fromkeys(items))
