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

import polars as pl

from tce_cli.periods import Period
from tce_cli.report.model import NOT_RECORDED
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


class PeriodData:
    """The stored rows of one period, with cached child-level frames per cohort."""

    def __init__(self, period: Period, rows: pl.LazyFrame, history: pl.LazyFrame) -> None:
        """``rows``: this period's stored rows; ``history``: rows of this and earlier periods."""
        self.period = period
        self.rows = rows.filter(pl.col("person_key").is_not_null())
        self.history = history
        self._children: dict[Cohort, pl.DataFrame] = {}
        self._agency: dict[Cohort, pl.DataFrame] = {}

    def children(self, cohort: Cohort) -> pl.DataFrame:
        """One row per child in ``cohort`` (see the module docstring for how rows collapse)."""
        if cohort not in self._children:
            self._children[cohort] = _children(self._cohort_rows(cohort), self._rerefs()).collect()
        return self._children[cohort]

    def by_agency_type(self, cohort: Cohort) -> pl.DataFrame:
        """One row per child and agency type in ``cohort``: agency_type, current, cross."""
        if cohort not in self._agency:
            cross = self.children(cohort).select("person_key", "cross").lazy()
            frame = (
                self._cohort_rows(cohort)
                .group_by("person_key", "agency_type")
                .agg(pl.col("current").any())
                .join(cross, on="person_key", how="left")
            )
            self._agency[cohort] = frame.collect()
        return self._agency[cohort]

    def _cohort_rows(self, cohort: Cohort) -> pl.LazyFrame:
        rows = self.rows.with_columns(_row_columns(self.period.start, self.period.end))
        flag = _FILTERS.get(cohort)
        return rows if flag is None else rows.filter(pl.col(flag).fill_null(False))

    def _rerefs(self) -> pl.LazyFrame:
        """person_key of children whose new episode follows one closed in the prior 12 months."""
        closed = (
            self.history.filter(pl.col("episode_end_date").is_not_null())
            .select("person_key", pl.col("episode_end_date").alias("prior_end"))
            .unique()
        )
        start = pl.col("episode_start_date")
        return (
            self.rows.filter(pl.col("new_in_period").fill_null(False))
            .select("person_key", "episode_start_date")
            .join(closed, on="person_key")
            .filter(
                (pl.col("prior_end") < start) & (pl.col("prior_end") >= start.dt.offset_by("-12mo"))
            )
            .select("person_key")
            .unique()
            .with_columns(pl.lit(True).alias("reref"))
        )


def _row_columns(start: date, end: date) -> list[pl.Expr]:
    """Label and flag columns computed on each stored row."""
    return [*_label_columns(), *_flag_columns(start, end)]


def _label_columns() -> list[pl.Expr]:
    csc = pl.col("csc_status")
    return [
        label_expr("local_authority_code", "local_authority").alias("la"),
        label_expr("primary_exploitation_type", "exploitation_type").alias("primary_type"),
        label_expr("risk_level", "risk_level").alias("risk"),
        label_expr("age_band", "age_band").alias("age_band"),
        label_expr("sex", "sex").alias("sex"),
        _ethnicity_group().alias("ethnicity"),
        label_expr("csc_status", "csc_status").alias("csc"),
        pl.when(csc.is_null())
        .then(pl.lit(NOT_RECORDED))
        .when(csc == "CLA")
        .then(pl.lit("Looked after"))
        .otherwise(pl.lit("Not looked after"))
        .alias("cla"),
        referral_group_expr().alias("referral_group"),
        nrm_group_expr().alias("nrm_group"),
        label_expr("closure_reason", "closure_reason").alias("closure"),
        label_expr("submitting_agency_type", "agency_type").alias("agency_type"),
        _label_list("exploitation_types", "exploitation_type").alias("types_l"),
        _label_list("disruption_actions", "disruption_action").alias("actions_l"),
        pl.col("home_postcode_district").alias("district"),
        pl.col("age_at_period_end").alias("age"),
        (pl.col("episode_end_date") - pl.col("episode_start_date"))
        .dt.total_days()
        .alias("episode_days"),
    ]


def _flag_columns(start: date, end: date) -> list[pl.Expr]:
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
        pl.col("missing_episodes_count").fill_null(0).alias("missing"),
        pl.col("rhi_offered_count").fill_null(0).alias("rhi_offered"),
        pl.col("rhi_completed_count").fill_null(0).alias("rhi_completed"),
        pl.col("rhi_within_72h_count").fill_null(0).alias("rhi_within_72h"),
        pl.col("nrm_referral_status").replace_strict(NRM_RANK, default=0).alias("nrm_rank"),
        pl.col("nrm_referral_status").alias("nrm_status"),
    ]


def _ethnicity_group() -> pl.Expr:
    derived = pl.col("ethnicity").replace_strict(
        load_schema().ethnicity_major_groups, default=None, return_dtype=pl.String()
    )
    group = pl.coalesce(pl.col("ethnicity_major_group"), derived)
    return group.replace(labels("ethnicity_major_group")).fill_null(NOT_RECORDED)


def _label_list(column: str, codes: str) -> pl.Expr:
    return pl.col(column).list.eval(pl.element().replace(labels(codes)))


def _children(rows: pl.LazyFrame, rerefs: pl.LazyFrame) -> pl.LazyFrame:
    ordered = rows.sort(
        pl.col("submitting_agency_type") != "LA_CSC",
        "episode_start_date",
        "agency_id",
        "record_id",
        descending=[False, True, False, False],
        nulls_last=True,
    )
    children = ordered.group_by("person_key", maintain_order=True).agg(
        *(pl.col(c).first() for c in REPRESENTATIVE),
        pl.col("types_l")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .drop_nulls()
        .unique()
        .sort()
        .alias("types"),
        pl.col("actions_l")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .drop_nulls()
        .unique()
        .sort()
        .alias("actions"),
        pl.col("agency_type").unique().sort().alias("agency_types"),
        *(pl.col(f).any() for f in FLAGS),
        *(
            pl.col(c).sort_by("missing", descending=True, maintain_order=True).first()
            for c in MISSING
        ),
        pl.col("nrm_status").sort_by("nrm_rank", descending=True, maintain_order=True).first(),
    )
    return (
        children.with_columns((pl.col("agency_types").list.len() >= 2).alias("cross"))
        .join(rerefs, on="person_key", how="left")
        .with_columns(pl.col("reref").fill_null(False))
    )
