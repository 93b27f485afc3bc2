"""Re-referrals (M04): children whose new episode follows one closed in the 12 months before.

A child is re-referred in a quarter when an episode of theirs that started in the quarter
(``new_in_period``) follows one closed, with any agency, in the 12 months before it started: an
``episode_end_date`` e with start - 12 months <= e < start, on a row stored for that quarter or
an earlier one.

:class:`History` keeps the closed episodes (two hashes of ``person_key`` and the end date) of
every quarter read so far, so the store is read once: each quarter of the trend window adds its
own as it is read (oldest first); quarters never read are scanned for their closed episodes
only, and only for those that ended late enough to count (12 months before the earliest new
episode asked about; an earlier new episode has them read again). For each new episode, an
as-of join finds the latest end date before its start among the rows of its ``person_key``
hash; when that row is another child's (their second hashes differ), the episode is checked
against every end date of the child instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import polars as pl

from tce_cli.keyhash import H1, H2, hashes
from tce_cli.periods import Period
from tce_cli.report.store_read import StoreInfo, scan_rows

START, END = pl.col("episode_start_date"), pl.col("episode_end_date")
WITHIN_YEAR = pl.col("prior_end") >= pl.col("episode_start_date").dt.offset_by("-12mo")
"""The closed episode ended at most 12 months before the new one started."""


class History:
    """The closed episodes of a store's quarters (``_h1``, ``_h2``, ``episode_end_date``)."""

    def __init__(self, store: StoreInfo, periods: Sequence[Period]) -> None:
        """``periods``: the stored quarters whose closed episodes count, in any order."""
        self._store = store
        self._periods = sorted(periods)
        self._closed: dict[Period, tuple[date | None, pl.DataFrame]] = {}
        """Quarter -> (the earliest end date read, None when all were; the closed episodes)."""

    @classmethod
    def empty(cls) -> History:
        """A history of no quarters (for data whose re-referrals are already worked out)."""
        return cls(StoreInfo(Path(), (), pseudonymised=True), ())

    def rerefs(self, period: Period, rows: pl.DataFrame) -> pl.DataFrame:
        """``_h1``, ``_h2`` of the children re-referred in ``period``.

        ``rows``: the period's stored rows with a person key: ``_h1``, ``_h2``,
        ``episode_start_date``, ``episode_end_date`` and ``new_in_period`` (no nulls).
        """
        self._closed[period] = (None, _closed(rows))
        new = rows.filter(pl.col("new_in_period") & START.is_not_null()).select(H1, H2, START)
        if not new.height:
            return new.select(H1, H2)
        low = new.select(START.min().dt.offset_by("-12mo")).item()
        earlier = [p for p in self._periods if p.start <= period.start]
        self._read([p for p in earlier if not self._covers(p, low)], low)
        closed = pl.concat([self._closed[p][1] for p in earlier if p in self._closed])
        return _rerefs(closed, new)

    def _covers(self, period: Period, low: date) -> bool:
        held = self._closed.get(period)
        return held is not None and (held[0] is None or held[0] <= low)

    def _read(self, periods: list[Period], low: date) -> None:
        """Scan the episodes of ``periods`` (quarters not read for the report) that ended on or
        after ``low``."""
        if not periods:
            return
        person = pl.col("person_key")
        found = (
            scan_rows(self._store, periods)
            .filter(END.is_not_null() & END.ge(low) & person.is_not_null())
            .select("period", *hashes(person), END)
            .collect()
        )
        for period in periods:
            rows = found.filter(pl.col("period") == period.slug).drop("period")
            self._closed[period] = (low, rows)


def _closed(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.filter(END.is_not_null()).select(H1, H2, END)


def _rerefs(closed: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """``_h1``, ``_h2`` of the ``new`` episodes that follow a ``closed`` one."""
    if not new.height:
        return new.select(H1, H2)
    bounds = new.select(START.min().dt.offset_by("-12mo").alias("low"), START.max().alias("high"))
    low, high = bounds.row(0)
    persons = new.get_column(H1).unique().implode()
    candidates = (
        closed.filter(END.is_between(low, high, closed="left") & pl.col(H1).is_in(persons))
        .select(H1, H2, END.alias("prior_end"))
        .sort("prior_end")
    )
    latest = new.sort(START).join_asof(
        candidates,
        left_on="episode_start_date",
        right_on="prior_end",
        by=H1,
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
        suffix="_closed",
    )
    own = pl.col(H2) == pl.col(f"{H2}_closed")  # the latest end is the child's own
    found = latest.filter(own & WITHIN_YEAR).select(H1, H2)
    doubt = latest.filter(~own & pl.col("prior_end").is_not_null()).select(H1, H2, START)
    checked = (
        doubt.join(candidates, on=[H1, H2])
        .filter((pl.col("prior_end") < START) & WITHIN_YEAR)
        .select(H1, H2)
    )
    return pl.concat([found, checked]).unique()
