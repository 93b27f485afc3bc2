"""Child frames: the fast grouping equals the rules applied row by row (sort, group, join).

The oracle below is the straightforward definition (the report's first implementation): sort a
cohort's rows in representative order, group by person_key, and look re-referrals up by joining
the period's new episodes to every closed episode stored up to it. Random stores exercise ties
on the representative order, nulls, late returns, re-referrals across quarters, quarters before
the trend window, and the fallbacks (shared hashes, sets of codes too big for bits).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tce_cli import keyhash
from tce_cli.periods import Period, parse_period
from tce_cli.report import children, cohorts, rerefs
from tce_cli.report.cohorts import FLAGS, MISSING, NRM_RANK, REPRESENTATIVE, Cohort, PeriodData
from tce_cli.report.pack import period_data
from tce_cli.report.store_read import open_store, scan_rows
from tce_cli.report.vocab import label_expr, labels
from test_report_support import Rec, write_store

LAST = parse_period("2026-27 Q2")
QUARTERS = [LAST.previous(n) for n in range(9, -1, -1)]  # 10: two before the trend window
CHILDREN = [f"c{i}" for i in range(30)]
AGENCIES = ("bolton-csc", "bury-csc", "gmp", "nhs")
FILTERS = {Cohort.OPEN: "open_at_period_end", Cohort.NEW: "new_in_period"}
FILTERS[Cohort.CLOSED] = "closed_in_period"


# --- the oracle ---------------------------------------------------------------------------


def _label_list(column: str, codes: str) -> pl.Expr:
    return pl.col(column).list.eval(pl.element().replace(labels(codes)))


def _row_columns(period: Period) -> list[pl.Expr]:
    exprs = cohorts.representative_columns()
    return [
        *(exprs[c] for c in REPRESENTATIVE),
        label_expr("submitting_agency_type", "agency_type").alias("agency_type"),
        _label_list("exploitation_types", "exploitation_type").alias("types_l"),
        _label_list("disruption_actions", "disruption_action").alias("actions_l"),
        *cohorts.row_flags(period.start, period.end),
        *cohorts.row_counts(),
        pl.col("nrm_referral_status").replace_strict(NRM_RANK, default=0).alias("nrm_rank"),
        pl.col("nrm_referral_status").alias("nrm_status"),
    ]


def _distinct(column: str) -> pl.Expr:
    codes = pl.col(column).list.explode(keep_nulls=False, empty_as_null=False)
    return codes.drop_nulls().unique().sort()


def oracle(
    rows: pl.LazyFrame, history: pl.LazyFrame, period: Period, cohort: Cohort
) -> pl.DataFrame:
    """The child frame by the definition: sort, group by person_key, join re-referrals."""
    rows = rows.filter(pl.col("person_key").is_not_null())
    start = pl.col("episode_start_date")
    closed = (
        history.filter(pl.col("episode_end_date").is_not_null())
        .select("person_key", pl.col("episode_end_date").alias("prior_end"))
        .unique()
    )
    rerefs_ = (
        rows.filter(pl.col("new_in_period").fill_null(False))
        .select("person_key", "episode_start_date")
        .join(closed, on="person_key")
        .filter(
            (pl.col("prior_end") < start) & (pl.col("prior_end") >= start.dt.offset_by("-12mo"))
        )
        .select("person_key")
        .unique()
        .with_columns(pl.lit(True).alias("reref"))
    )
    rows = rows.with_columns(_row_columns(period))
    if cohort in FILTERS:
        rows = rows.filter(pl.col(FILTERS[cohort]).fill_null(False))
    ordered = rows.sort(
        pl.col("submitting_agency_type") != "LA_CSC",
        "episode_start_date",
        "agency_id",
        "record_id",
        descending=[False, True, False, False],
        nulls_last=True,
    )
    by_missing = pl.col("missing")
    grouped = ordered.group_by("person_key", maintain_order=True).agg(
        *(pl.col(c).first() for c in REPRESENTATIVE),
        _distinct("types_l").alias("types"),
        _distinct("actions_l").alias("actions"),
        pl.col("agency_type").unique().sort().alias("agency_types"),
        *(pl.col(f).any() for f in FLAGS),
        *(
            pl.col(c).sort_by(by_missing, descending=True, maintain_order=True).first()
            for c in MISSING
        ),
        pl.col("nrm_status").sort_by("nrm_rank", descending=True, maintain_order=True).first(),
    )
    return (
        grouped.with_columns((pl.col("agency_types").list.len() >= 2).alias("cross"))
        .join(rerefs_, on="person_key", how="left")
        .with_columns(pl.col("reref").fill_null(False))
        .collect()
    )


def oracle_by_agency_type(
    rows: pl.LazyFrame, period: Period, cohort: Cohort, kids: pl.DataFrame
) -> pl.DataFrame:
    rows = rows.filter(pl.col("person_key").is_not_null()).with_columns(_row_columns(period))
    if cohort in FILTERS:
        rows = rows.filter(pl.col(FILTERS[cohort]).fill_null(False))
    return (
        rows.group_by("person_key", "agency_type")
        .agg(pl.col("current").any())
        .join(kids.select("person_key", "cross").lazy(), on="person_key", how="left")
        .collect()
    )


# --- random stores ------------------------------------------------------------------------


def _rec(rng: random.Random, period: Period) -> Rec:
    starts = [period.start - timedelta(days=d) for d in (400, 200, 95, 30)]
    starts += [period.start + timedelta(days=d) for d in (0, 10, 40, 80)]
    start = rng.choice(starts)
    end = rng.choice([None, None, start + timedelta(days=rng.choice([5, 40, 90, 120]))])
    if end is not None and end < period.start and rng.random() < 0.7:
        end = period.start + timedelta(days=rng.choice([1, 20, 60]))  # mostly overlap the quarter
    return Rec(
        rng.choice(CHILDREN),
        rng.choice(AGENCIES),
        start,
        end,
        la=rng.choice(["E08000001", "E08000002", None]),
        primary=rng.choice(["CCE", "CSE", "CL", "GANG"]),
        types=rng.choice([None, [], ["CCE"], ["CL", "CSE"], ["CL"]]),
        risk=rng.choice(["HIGH", "MEDIUM", "LOW", "NOT_ASSESSED"]),
        risk_date=rng.choice([None, period.end - timedelta(days=rng.choice([0, 45, 91, 200]))]),
        referral=rng.choice(["6", "2A", "3E", "9"]),
        age=rng.choice([9, 12, 14, 16, 17]),
        sex=rng.choice(["M", "F"]),
        csc=rng.choice(["CLA", "CIN", "CPP", "NONE", "CARE_LEAVER"]),
        closure=rng.choice([None, "RISK_REDUCED", "STEP_DOWN"]),
        missing=rng.choice([0, 0, 1, 2, 2, 3]),
        offered=rng.choice([None, 0, 1, 2]),
        completed=rng.choice([None, 0, 1]),
        within_72h=rng.choice([None, 0, 1]),
        nrm=rng.choice(["NONE", "CG_POSITIVE", "CG_NEGATIVE", "RG_POSITIVE", "WITHDRAWN"]),
        nrm_date=rng.choice([None, period.start + timedelta(days=20), date(2020, 1, 1)]),
        actions=rng.choice([[], ["ARREST"], ["CAWN", "ARREST"]]),
        education=rng.choice([None, "AP", "NEET_16_17", "MAINSTREAM"]),
        yj=rng.choice([None, "Y", "N"]),
        district=rng.choice([None, "BL1", "M14"]),
    )


def random_store(root: Path, seed: int) -> Path:
    """Ten quarters of random rows; then some null keys, agency types and starts, shuffled."""
    rng = random.Random(seed)
    periods = {q.label: [_rec(rng, q) for _ in range(60)] for q in QUARTERS}
    store = write_store(root, periods)
    for path in sorted(store.glob("period=*/agency=*/*.parquet")):
        frame = pl.read_parquet(path)
        blank = [rng.random() < 0.05 for _ in range(frame.height)]
        frame = frame.with_columns(
            *(
                pl.when(pl.Series(blank) & pl.lit(rng.random() < 0.5))
                .then(None)
                .otherwise(c)
                .alias(c)
                for c in ("person_key", "submitting_agency_type", "episode_start_date")
            )
        )
        frame.sample(fraction=1.0, shuffle=True, seed=seed).write_parquet(path)
    return store


# --- the comparison -------------------------------------------------------------------------


def _keyed(expected: pl.DataFrame, key: str) -> pl.DataFrame:
    if key == keyhash.H1:
        return expected.with_columns(pl.col("person_key").hash(keyhash.SEEDS[0]).alias(key))
    return expected.with_columns(pl.col("person_key").alias(key))


def check_store(store_path: Path) -> None:
    store = open_store(store_path)
    every = scan_rows(store, store.periods)
    for q, data in period_data(store, LAST):
        assert data is not None
        this = every.filter(pl.col("period") == q.slug)
        history = every.filter(pl.col("period").is_in([p.slug for p in store.periods if p <= q]))
        for cohort in Cohort:
            got = data.children(cohort)
            key = data._key
            expected = _keyed(oracle(this, history, q, cohort), key)
            columns = got.columns
            assert set(columns) <= set(expected.columns), (q, cohort)
            assert_frame_equal(
                got.sort(key), expected.select(columns).sort(key), check_dtypes=False
            )
            if not data.headline_only:
                want = oracle_by_agency_type(this, q, cohort, oracle(this, history, q, cohort))
                want = _keyed(want, key).select(key, "agency_type", "current", "cross")
                mine = data.by_agency_type(cohort).select(key, "agency_type", "current", "cross")
                assert_frame_equal(mine.sort(key, "agency_type"), want.sort(key, "agency_type"))
        data.release()


@pytest.mark.parametrize("seed", range(3))
def test_child_frames_equal_the_definition(tmp_path: Path, seed: int) -> None:
    check_store(random_store(tmp_path / "s", seed))


def test_shared_hashes_fall_back_to_the_person_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def clashing(person: pl.Expr) -> list[pl.Expr]:
        return [pl.lit(7, pl.UInt64).alias(keyhash.H1), person.hash(1).alias(keyhash.H2)]

    for module in (cohorts, rerefs):
        monkeypatch.setattr(module, "hashes", clashing)
    check_store(random_store(tmp_path / "s", 7))


def test_many_labels_are_collected_as_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(children, "MAX_LABELS", 0)
    check_store(random_store(tmp_path / "s", 8))


def test_a_child_re_referred_across_quarters(tmp_path: Path) -> None:
    """Closed in one quarter, new in the next: re-referred; a closure stored late is not."""
    q1 = LAST.previous()
    store = write_store(
        tmp_path / "s",
        {
            q1.label: [
                Rec("a", "gmp", date(2026, 4, 2), date(2026, 5, 1)),
                Rec("b", "gmp", date(2026, 4, 20)),
            ],
            LAST.label: [
                Rec("a", "bolton-csc", date(2026, 7, 3)),
                # stored with this quarter: too late for b's new episode in the previous one
                Rec("b", "nhs", date(2026, 1, 5), date(2026, 3, 1)),
            ],
        },
    )
    datas = dict(period_data(open_store(store), LAST))
    now, before = datas[LAST], datas[q1]
    assert isinstance(now, PeriodData) and isinstance(before, PeriodData)
    assert now.children(Cohort.NEW).get_column("reref").to_list() == [True]
    assert before.children(Cohort.NEW).get_column("reref").to_list() == [False, False]
    check_store(store)
