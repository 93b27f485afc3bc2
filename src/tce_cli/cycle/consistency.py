"""Cross-agency consistency (framework DQ20, DQ21) over one period of the store.

The same child (person_key) seen by two agencies should agree on sex and, give or take a
year, on age; a child a partner agency records as looked after (CLA) should be looked after in
the council's own return. Conflicts are counted per pair of agencies and rule, never listed:
the output names agencies and counts, not children.

- ``cross-agency-sex`` (DQ21, query): both agencies record a known sex (M/F) and they differ;
- ``cross-agency-age`` (DQ21, query): ages at the period end differ by more than
  ``age_difference_years`` (default 1);
- ``cross-agency-cla`` (DQ20, info): a non-council agency records csc_status CLA while the
  council (LA_CSC) return for the same child records a known status that is not CLA.
  ``agency_a`` is the other agency, ``agency_b`` the council.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from tce_cli.config import Thresholds
from tce_cli.findings import RULES, FindingCode
from tce_cli.periods import Period

if TYPE_CHECKING:
    from tce_cli.store import Store

COUNCIL = "LA_CSC"
KNOWN_SEX = ("M", "F")
CONFLICT_SCHEMA: dict[str, pl.DataType] = {
    "code": pl.String(),
    "dq": pl.String(),
    "severity": pl.String(),
    "agency_a": pl.String(),
    "agency_b": pl.String(),
    "children_in_common": pl.Int64(),
    "conflicts": pl.Int64(),
}
_COLUMNS = [
    "person_key",
    "agency_id",
    "submitting_agency_type",
    "sex",
    "age_at_period_end",
    "csc_status",
]


def cross_agency_conflicts(
    store: Store, period: Period, *, thresholds: Thresholds | None = None
) -> pl.DataFrame:
    """Conflict counts per rule and agency pair for ``period`` (empty if not in the store).

    Columns (:data:`CONFLICT_SCHEMA`): code, dq, severity, agency_a, agency_b,
    children_in_common (children both agencies returned), conflicts (how many of them
    conflict). Every pair with children in common is listed, conflicts or not.
    """
    if period not in store.periods():
        return pl.DataFrame(schema=CONFLICT_SCHEMA)
    frame = store.scan(period).select(_COLUMNS).collect()
    return conflicts_in(frame, thresholds=thresholds)


def conflicts_in(frame: pl.DataFrame, *, thresholds: Thresholds | None = None) -> pl.DataFrame:
    """:func:`cross_agency_conflicts` over a frame with the store's columns."""
    tolerance = (thresholds or Thresholds()).age_difference_years
    status = pl.col("csc_status")
    per = (
        frame.filter(pl.col("person_key").is_not_null())
        .group_by("person_key", "agency_id")
        .agg(
            pl.col("submitting_agency_type").first().alias("type"),
            pl.col("sex").filter(pl.col("sex").is_in(KNOWN_SEX)).min().alias("sex"),
            pl.col("age_at_period_end").max().alias("age"),
            (status == "CLA").any().alias("cla"),
            (status.is_not_null() & (status != "UNKNOWN")).any().alias("status_known"),
        )
    )
    pairs = per.join(per, on="person_key", suffix="_b").filter(
        pl.col("agency_id") != pl.col("agency_id_b")
    )
    symmetric = (
        pairs.filter(pl.col("agency_id") < pl.col("agency_id_b"))
        .group_by("agency_id", "agency_id_b")
        .agg(
            pl.len().cast(pl.Int64).alias("children_in_common"),
            (pl.col("sex") != pl.col("sex_b")).fill_null(False).sum().alias("sex"),
            ((pl.col("age") - pl.col("age_b")).abs() > tolerance)
            .fill_null(False)
            .sum()
            .alias("age"),
        )
    )
    council = (
        pairs.filter((pl.col("type") != COUNCIL) & (pl.col("type_b") == COUNCIL))
        .group_by("agency_id", "agency_id_b")
        .agg(
            pl.len().cast(pl.Int64).alias("children_in_common"),
            (pl.col("cla") & pl.col("status_known_b") & ~pl.col("cla_b")).sum().alias("cla"),
        )
    )
    parts = [
        _shape(symmetric, "sex", FindingCode.CROSS_AGENCY_SEX),
        _shape(symmetric, "age", FindingCode.CROSS_AGENCY_AGE),
        _shape(council, "cla", FindingCode.CROSS_AGENCY_CLA),
    ]
    return pl.concat(parts).sort("code", "agency_a", "agency_b")


def _shape(counts: pl.DataFrame, column: str, code: FindingCode) -> pl.DataFrame:
    rule = RULES[code]
    return counts.select(
        pl.lit(code.value).alias("code"),
        pl.lit(rule.dq).alias("dq"),
        pl.lit(rule.severity.value).alias("severity"),
        pl.col("agency_id").alias("agency_a"),
        pl.col("agency_id_b").alias("agency_b"),
        pl.col("children_in_common"),
        pl.col(column).cast(pl.Int64).alias("conflicts"),
    ).cast(CONFLICT_SCHEMA)  # type: ignore[arg-type]


__all__ = ["CONFLICT_SCHEMA", "conflicts_in", "cross_agency_conflicts"]
