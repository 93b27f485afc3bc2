"""Child-level frames: one row per child (``person_key``) in a cohort of one period.

Every measure counts distinct children, never rows. A child reported by several agencies (or in
several episodes) is collapsed to one row:

* characteristics (local authority, primary type, risk, age band, sex, ethnicity, CSC status,
  referral source, closure reason, postcode district) come from one *representative* record:
  the local authority children's social care record if there is one, otherwise the most recently
  started episode (ties: agency id, record id), so breakdowns add up to the total;
* yes/no conditions (county lines, youth justice, education, disruption, assessment currency,
  NRM referral in the quarter) are true if any of the child's records says so;
* missing episodes and return interviews come from the record reporting the most missing
  episodes (agencies often record the same episodes, so they are not added up);
* the NRM position is the most advanced one any record holds.

The frames live only in memory; nothing row-level is ever published.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import cache

import polars as pl

from tce_cli.keyhash import H1, H2, hashes
from tce_cli.periods import Period
from tce_cli.report.children import (
    COHORT_FLAGS,
    POS,
    CodeSet,
    clashes,
    order_key,
    ordered,
)
from tce_cli.report.model import NOT_RECORDED
from tce_cli.report.rerefs import History
from tce_cli.report.vocab import label_expr, labels, nrm_group_expr, referral_group_expr
from tce_cli.schema import load_schema


class Cohort(StrEnum):
    ALL = "all"
    """Children with any episode in the quarter (every stored row overlaps it)."""
    OPEN = "open"
    """Children with an episode open at the quarter end."""
    NEW = "new"
    """Children with an episode that started in the quarter."""
    CLOSED = "closed"
    """Children with an episode that ended in the quarter."""


_FILTERS = {
    Cohort.OPEN: "open_at_period_end",
    Cohort.NEW: "new_in_period",
    Cohort.CLOSED: "closed_in_period",
}
REPRESENTATIVE = (
    "la",
    "primary_type",
    "risk",
    "age_band",
    "sex",
    "ethnicity",
    "csc",
    "cla",
    "referral_group",
    "nrm_group",
    "closure",
    "district",
    "age",
    "episode_days",
)
FLAGS = ("has_cl", "yj", "edu_vuln", "neet", "disrupted", "current", "nrm_in_quarter")
MISSING = ("missing", "rhi_offered", "rhi_completed", "rhi_within_72h")
NRM_RANK = {
    "CG_POSITIVE": 5,
    "CG_NEGATIVE": 5,
    "RG_POSITIVE": 4,
    "RG_NEGATIVE": 4,
    "REFERRED_PENDING": 3,
    "WITHDRAWN": 2,
    "UNKNOWN": 1,
    "NONE": 0,
}
CURRENT_DAYS = 90


TEXT_KEY = "_key"
"""The child key column when two person keys share a hash: the person_key text."""
COHORT = "_cohort"
"""Column naming the cohort in :meth:`PeriodData.kept_frames`."""
HEADLINE = ("risk", "csc", "age")
"""The representative columns of a headline-only period (all that headline functions use)."""
DATES = ("episode_start_date", "episode_end_date")
LISTED = ("types", "actions", "agency_types")
"""Child columns holding a sorted list of labels (report quarter only)."""
CODE_SETS = (
    ("types", "exploitation_types", "exploitation_type"),
    ("actions", "disruption_actions", "disruption_action"),
    ("agency_types", "submitting_agency_type", "agency_type"),
)
"""(child column, stored column, code list) of the sets of labels a child has."""


class PeriodData:
    """The stored rows of one period, with cached child-level frames per cohort.

    Nothing is read until a frame is asked for. A headline-only period reads fewer columns and
    its child frames hold only :data:`HEADLINE`, the flags, the missing counts, ``cross`` and
    ``reref``. :meth:`release` drops everything held.
    """

    def __init__(
        self,
        period: Period,
        rows: pl.LazyFrame,
        history: History,
        *,
        headline_only: bool,
    ) -> None:
        """``rows``: this period's stored rows; ``history``: the closed episodes re-referrals
        are looked up in (this period's are added to it when its rows are read)."""
        self.period = period
        self.headline_only = headline_only
        self._scan = rows
        self._history = history
        self._key = H1
        self._narrow = pl.DataFrame()
        self._sets: dict[str, CodeSet] = {}
        self._children: dict[Cohort, pl.DataFrame] = {}
        self._agency: dict[Cohort, pl.DataFrame] = {}

    def children(self, cohort: Cohort) -> pl.DataFrame:
        """One row per child in ``cohort`` (see the module docstring for how rows collapse)."""
        if cohort not in self._children:
            rows = self._rows(cohort)
            grouped = rows.group_by(self._key).agg(self._aggs())
            self._children[cohort] = self._frame(grouped)
        return self._children[cohort]

    def by_agency_type(self, cohort: Cohort) -> pl.DataFrame:
        """One row per child and agency type in ``cohort``: agency_type, current, cross."""
        if cohort not in self._agency:
            cross = self.children(cohort).select(self._key, "cross")
            names = dict(enumerate(self._sets["agency_types"].labels))
            self._agency[cohort] = (
                self._rows(cohort)
                .group_by(self._key, "_agency_type")
                .agg(pl.col("current").any())
                .join(cross, on=self._key, how="left")
                .select(
                    self._key,
                    pl.col("_agency_type").replace_strict(names).alias("agency_type"),
                    "current",
                    "cross",
                )
            )
        return self._agency[cohort]

    def kept_frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Every cohort's child frame, and its per-agency-type frame, each set in one frame
        with a ``_cohort`` column, sorted: what the store keeps so a report need not work
        them out."""

        def tagged(frame: pl.DataFrame, cohort: Cohort) -> pl.DataFrame:
            return frame.with_columns(pl.lit(cohort.value).alias(COHORT))

        children = pl.concat([tagged(self.children(c), c) for c in Cohort])
        agency = pl.concat([tagged(self.by_agency_type(c), c) for c in Cohort])
        # sorted, so the same rows give the same bytes (groups come out in any order)
        return children.sort(COHORT, self._key), agency.sort(COHORT, self._key, "agency_type")

    @classmethod
    def from_kept(
        cls, period: Period, children: pl.DataFrame, by_agency_type: pl.DataFrame
    ) -> PeriodData:
        """The report quarter's data from :meth:`kept_frames` (its rows are never read)."""
        data = cls(period, pl.LazyFrame(), History.empty(), headline_only=False)
        key = H1 if H1 in children.columns else TEXT_KEY
        data._key = key
        for target, frame in ((data._children, children), (data._agency, by_agency_type)):
            for cohort in Cohort:
                part = frame.filter(pl.col(COHORT) == cohort.value).drop(COHORT)
                target[cohort] = part
        return data

    def release(self) -> None:
        """Drop the rows and frames held (they are read again if asked for)."""
        self._narrow = pl.DataFrame()
        self._children.clear()
        self._agency.clear()

    def _rows(self, cohort: Cohort) -> pl.DataFrame:
        """The rows of ``cohort``, each child's in representative order."""
        if not self._narrow.width:
            self._prepare()
        flag = _FILTERS.get(cohort)
        return self._narrow if flag is None else self._narrow.filter(flag)

    def _prepare(self) -> None:
        scan = self._scan.filter(pl.col("person_key").is_not_null())
        coded = [c for n, c, _ in CODE_SETS if not self.headline_only or n == "agency_types"]
        # codes of rows without a person key too: extra labels are never set, ranks keep order
        found = self._scan.select("agency_id", *coded).collect()
        agencies = found.get_column("agency_id").drop_nulls().unique().sort().to_list()
        sets = [
            CodeSet.found(name, found.get_column(column), codes)
            for name, column, codes in CODE_SETS
            if column in coded
        ]
        del found
        columns = [*self._row_columns(agencies, sets), "record_id"]
        dates = [d for d in DATES if d not in self._first_sources()]
        narrow = scan.select(*columns, *dates).collect().rechunk()
        rerefs = self._history.rerefs(self.period, narrow.select(H1, H2, *DATES, "new_in_period"))
        key, rows = H1, ordered(narrow.drop(dates), H1)
        del narrow
        if clashes(rows):  # two person keys share a hash: group by the text
            key = TEXT_KEY
            text = scan.select(*columns, pl.col("person_key").alias(key)).collect()
            rows = ordered(text.rechunk(), key)
        rows = self._with_rerefs(rows, rerefs, by_pair=key != H1).with_row_index(POS)
        self._narrow, self._key = rows, key
        self._sets = {s.name: s for s in sets}

    def _row_columns(self, agencies: list[str], sets: list[CodeSet]) -> list[pl.Expr]:
        """Per stored row: keys, cohort flags, flags, counts, code bits and the values the
        child frames take from a chosen row."""
        agency_types = next(s for s in sets if s.name == "agency_types")
        return [
            *hashes(pl.col("person_key")),
            order_key(agencies),
            *(pl.col(c).fill_null(False) for c in COHORT_FLAGS),
            *row_flags(self.period.start, self.period.end),
            *row_counts(),
            *([] if self.headline_only else [_nrm_rank(), pl.col("nrm_referral_status")]),
            agency_types.index().alias("_agency_type"),
            *(e for s in sets if s.bitwise for e in s.row_flags()),
            *(pl.col(s.column) for s in sets if not s.bitwise),
            *(pl.col(c) for c in self._first_sources()),
        ]

    def _first_sources(self) -> list[str]:
        """Stored columns the representative values are worked out from."""
        return _sources(HEADLINE if self.headline_only else REPRESENTATIVE)

    @staticmethod
    def _with_rerefs(rows: pl.DataFrame, rerefs: pl.DataFrame, *, by_pair: bool) -> pl.DataFrame:
        """Add ``reref`` to every row: the child is among ``rerefs`` (``_h1``, ``_h2``).

        ``by_pair``: match both hashes (else ``_h1`` alone identifies a child).
        """
        if not by_pair:
            ids = rerefs.get_column(H1).implode()
            return rows.with_columns(pl.col(H1).is_in(ids).alias("reref"))
        marked = rerefs.select(H1, H2).unique().with_columns(pl.lit(True).alias("reref"))
        return rows.join(marked, on=[H1, H2], how="left", maintain_order="left").with_columns(
            pl.col("reref").fill_null(False)
        )

    def _aggs(self) -> list[pl.Expr]:
        pos = pl.col(POS)
        aggs = [
            pl.col(self._first_sources()).first(),
            pos.get(pl.col("missing").arg_max()).alias("_miss"),
            *(pl.col(f).any() for f in (*FLAGS, "reref")),
        ]
        for s in self._sets.values():
            aggs += [pl.col(b).any() for b in s.bit_columns()] if s.bitwise else [s.collected()]
        if not self.headline_only:
            aggs.append(pos.get(pl.col("nrm_rank").arg_max()).alias("_nrm"))
        return aggs

    def _frame(self, grouped: pl.DataFrame) -> pl.DataFrame:
        exprs = representative_columns()
        shown = HEADLINE if self.headline_only else REPRESENTATIVE
        parts = [grouped.select(self._key, *(exprs[c] for c in shown))]
        if not self.headline_only:
            parts.append(pl.DataFrame([self._labels(self._sets[n], grouped) for n in LISTED]))
        parts += [
            grouped.select(FLAGS),
            self._narrow.select(pl.col(MISSING).gather(grouped.get_column("_miss"))),
        ]
        if not self.headline_only:
            nrm = pl.col("nrm_referral_status").gather(grouped.get_column("_nrm"))
            parts.append(self._narrow.select(nrm.alias("nrm_status")))
        cross = self._count(self._sets["agency_types"]) >= 2
        parts.append(grouped.select(cross.alias("cross"), "reref"))
        return pl.concat(parts, how="horizontal")

    @staticmethod
    def _labels(codes: CodeSet, grouped: pl.DataFrame) -> pl.Series:
        """Each child's sorted labels of ``codes``."""
        if codes.bitwise:
            return codes.lists(grouped.with_columns(codes.mask().alias("_mask"))["_mask"])
        return grouped.select(codes.labelled()).to_series()

    @staticmethod
    def _count(codes: CodeSet) -> pl.Expr:
        """How many distinct labels of ``codes`` each child has."""
        if codes.bitwise:
            return codes.mask().bitwise_count_ones()
        return codes.labelled().list.len()


@cache
def _sources(columns: tuple[str, ...]) -> list[str]:
    """The stored columns child ``columns`` are worked out from."""
    exprs = representative_columns()
    return sorted({name for c in columns for name in exprs[c].meta.root_names()})


@cache
def representative_columns() -> dict[str, pl.Expr]:
    """Child column -> its value, from the stored values of the representative row."""
    csc = pl.col("csc_status")
    return {
        "la": label_expr("local_authority_code", "local_authority").alias("la"),
        "primary_type": label_expr("primary_exploitation_type", "exploitation_type").alias(
            "primary_type"
        ),
        "risk": label_expr("risk_level", "risk_level").alias("risk"),
        "age_band": label_expr("age_band", "age_band").alias("age_band"),
        "sex": label_expr("sex", "sex").alias("sex"),
        "ethnicity": _ethnicity_group().alias("ethnicity"),
        "csc": label_expr("csc_status", "csc_status").alias("csc"),
        "cla": pl.when(csc.is_null())
        .then(pl.lit(NOT_RECORDED))
        .when(csc == "CLA")
        .then(pl.lit("Looked after"))
        .otherwise(pl.lit("Not looked after"))
        .alias("cla"),
        "referral_group": referral_group_expr().alias("referral_group"),
        "nrm_group": nrm_group_expr().alias("nrm_group"),
        "closure": label_expr("closure_reason", "closure_reason").alias("closure"),
        "district": pl.col("home_postcode_district").alias("district"),
        "age": pl.col("age_at_period_end").alias("age"),
        "episode_days": (pl.col("episode_end_date") - pl.col("episode_start_date"))
        .dt.total_days()
        .alias("episode_days"),
    }


def row_flags(start: date, end: date) -> list[pl.Expr]:
    """The yes/no conditions of each stored row (:data:`FLAGS`)."""
    days_before_end = (pl.lit(end) - pl.col("risk_assessment_date")).dt.total_days()
    education = pl.col("education_status")
    in_quarter = pl.col("nrm_referral_date").is_between(pl.lit(start), pl.lit(end))
    return [
        pl.col("exploitation_types").list.contains("CL").fill_null(False).alias("has_cl"),
        (pl.col("youth_justice_involvement") == "Y").fill_null(False).alias("yj"),
        education.is_in(["AP", "EHE", "CME"]).fill_null(False).alias("edu_vuln"),
        (education == "NEET_16_17").fill_null(False).alias("neet"),
        (pl.col("disruption_actions").list.len() > 0).fill_null(False).alias("disrupted"),
        days_before_end.is_between(0, CURRENT_DAYS).fill_null(False).alias("current"),
        in_quarter.fill_null(False).alias("nrm_in_quarter"),
    ]


def row_counts() -> list[pl.Expr]:
    """The missing-episode counts of a stored row (:data:`MISSING`), nulls as 0."""
    return [
        pl.col("missing_episodes_count").fill_null(0).alias("missing"),
        pl.col("rhi_offered_count").fill_null(0).alias("rhi_offered"),
        pl.col("rhi_completed_count").fill_null(0).alias("rhi_completed"),
        pl.col("rhi_within_72h_count").fill_null(0).alias("rhi_within_72h"),
    ]


def _nrm_rank() -> pl.Expr:
    return pl.col("nrm_referral_status").replace_strict(NRM_RANK, default=0).alias("nrm_rank")


def _ethnicity_group() -> pl.Expr:
    derived = pl.col("ethnicity").replace_strict(
        load_schema().ethnicity_major_groups, default=None, return_dtype=pl.String()
    )
    group = pl.coalesce(pl.col("ethnicity_major_group"), derived)
    return group.replace(labels("ethnicity_major_group")).fill_null(NOT_RECORDED)
