"""Row-level checks: each is a Polars expression that is true where a row fails.

Semantics (what the example generator plants and the tests count):
one finding per row per (code, field); a value that is present but unreadable gives an
``invalid-*`` finding, never ``required-missing``; rules that compare two values only fire
when both were read. Where a later rule would only repeat an earlier one, it stays quiet
(e.g. an unreadable end date gives ``invalid-date`` and no ``conditional-missing`` for the
closure reason).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from tce_cli.checks.identifiers import (
    LA_CHILD_ID,
    nhs_problem,
    nhs_test_range,
    nhs_valid,
    postcode_valid,
    upn_valid,
)
from tce_cli.findings import FindingCode as C
from tce_cli.mapping import Mapping
from tce_cli.periods import Period
from tce_cli.schema import IDENTIFIER_PRIORITY, FieldType, Schema
from tce_cli.transform import INVALID, any_date, defaulted, raw

EVENT_DATES = (
    "episode_start_date",
    "episode_end_date",
    "risk_assessment_date",
    "nrm_referral_date",
)
LATER_DATES = ("episode_end_date", "risk_assessment_date", "nrm_referral_date")
RHI_COUNTS = ("rhi_offered_count", "rhi_completed_count", "rhi_within_72h_count")


@dataclass(frozen=True)
class RowCheck:
    """A rule applied to every row: ``fails`` is true where the row breaks it."""

    code: C
    field: str
    fails: pl.Expr
    message: pl.Expr


@dataclass(frozen=True)
class RowContext:
    schema: Schema
    mapping: Mapping
    period: Period
    present: frozenset[str]
    """Mapped fields whose source column was found (or that are constants)."""
    columns: dict[str, str]
    """field -> how the agency sees it in messages (its column name, or 'constant')."""

    def has(self, *names: str) -> bool:
        return all(n in self.present for n in names)

    def label(self, name: str) -> str:
        f = self.schema.field(name)
        column = self.columns.get(name)
        if not column or column.casefold() == f.label.casefold():
            return f.label
        return f"{column} ({f.label})"


def _msg(text: str) -> pl.Expr:
    return pl.lit(text)


def _valid_code(name: str) -> pl.Expr:
    return pl.col(name).is_not_null() & (pl.col(name) != INVALID)


def required_and_validity(ctx: RowContext) -> Iterator[RowCheck]:
    """Required fields present; codes, dates and counts readable (DQ01, DQ06, DQ08)."""
    for f in ctx.schema.mappable_fields:
        if not ctx.has(f.name):
            continue
        name, label, rawc = f.name, ctx.label(f.name), pl.col(raw(f.name))
        if f.required == "Y":
            blank = rawc.is_null()
            if f.type is FieldType.CODE_LIST:  # all flag columns "N" = no type recorded
                blank = blank | (pl.col(name).list.len() == 0)
            yield RowCheck(C.REQUIRED_MISSING, name, blank, _msg(f"{label} is blank."))
        if f.type is FieldType.CODE:
            yield RowCheck(
                C.INVALID_CODE,
                name,
                rawc.is_not_null() & (pl.col(name) == INVALID),
                pl.format(f"{label}: '{{}}' is not a recognised code.", rawc.str.slice(0, 40)),
            )
        elif f.type is FieldType.CODE_LIST:
            yield RowCheck(
                C.INVALID_CODE,
                name,
                rawc.is_not_null() & pl.col(name).list.contains(INVALID),
                pl.format(f"{label}: '{{}}' holds an unrecognised code.", rawc.str.slice(0, 60)),
            )
        elif f.type is FieldType.DATE:
            yield from _date_checks(ctx, name, label)
        elif f.type is FieldType.INTEGER:
            yield RowCheck(
                C.INVALID_INTEGER,
                name,
                rawc.is_not_null() & pl.col(name).is_null(),
                _msg(f"{label} is not a whole number of zero or more."),
            )
        if ctx.mapping.fields[name].default is not None and f.type is FieldType.CODE:
            yield RowCheck(
                C.DEFAULTED_CODE,
                name,
                pl.col(defaulted(name)),
                pl.format(
                    f"{label}: '{{}}' was not recognised; recorded as "
                    f"{ctx.mapping.fields[name].default}.",
                    rawc.str.slice(0, 40),
                ),
            )


_HUMAN = {
    "%d": "DD",
    "%m": "MM",
    "%Y": "YYYY",
    "%y": "YY",
    "%b": "Mon",
    "%B": "Month",
    "%H": "hh",
    "%M": "mm",
    "%S": "ss",
    "%j": "DDD",
}


def human_format(fmt: str) -> str:
    """A strftime format as people write it: ``%d/%m/%Y`` -> ``DD/MM/YYYY``."""
    for code, text in _HUMAN.items():
        fmt = fmt.replace(code, text)
    return fmt


def _date_checks(ctx: RowContext, name: str, label: str) -> Iterator[RowCheck]:
    rawc = pl.col(raw(name))
    formats = ", ".join(human_format(f) for f in ctx.mapping.fields[name].formats)
    yield RowCheck(
        C.INVALID_DATE,
        name,
        rawc.is_not_null() & pl.col(any_date(name)).is_null(),
        _msg(f"{label} could not be read as a date (expected {formats or 'YYYY-MM-DD'})."),
    )
    yield RowCheck(
        C.IMPLAUSIBLE_DATE,
        name,
        pl.col(name).is_null() & pl.col(any_date(name)).is_not_null(),
        pl.format(
            f"{label} reads as the year {{}}, outside 1990-2100 (a two-digit year?).",
            pl.col(any_date(name)).dt.year(),
        ),
    )


def identifiers(ctx: RowContext) -> Iterator[RowCheck]:
    """An identifier exists and each identifier is well formed (DQ10-DQ13, record id)."""
    ids = [f for f, _ in IDENTIFIER_PRIORITY if ctx.has(f)]
    if ids:
        yield RowCheck(
            C.NO_IDENTIFIER,
            "person_key",
            pl.all_horizontal([pl.col(raw(f)).is_null() for f in ids]),
            _msg(
                "No identifier for the child: "
                + ", ".join(ctx.label(f) for f in ids)
                + " are all blank."
            ),
        )
    if ctx.has("record_id"):
        pattern = ctx.schema.field("record_id").pattern or ""
        rawc = pl.col(raw("record_id"))
        yield RowCheck(
            C.INVALID_RECORD_ID,
            "record_id",
            rawc.is_not_null() & ~rawc.str.contains(pattern),
            _msg(f"{ctx.label('record_id')} is not 1-40 letters, digits, hyphens or underscores."),
        )
    if ctx.has("nhs_number"):
        nhs, present = pl.col("nhs_number"), pl.col(raw("nhs_number")).is_not_null()
        label = ctx.label("nhs_number")
        yield RowCheck(
            C.NHS_NUMBER_INVALID,
            "nhs_number",
            present & ~nhs_valid(nhs),
            pl.format(f"{label} {{}}.", nhs_problem(nhs)),
        )
        if not ctx.mapping.options.allow_test_nhs_numbers:
            yield RowCheck(
                C.NHS_NUMBER_TEST_RANGE,
                "nhs_number",
                present & nhs_valid(nhs) & nhs_test_range(nhs),
                _msg(f"{label} is in the 999 range reserved for testing."),
            )
    yield from _other_identifiers(ctx)


def _other_identifiers(ctx: RowContext) -> Iterator[RowCheck]:
    if ctx.has("upn"):
        yield RowCheck(
            C.UPN_INVALID,
            "upn",
            pl.col(raw("upn")).is_not_null() & ~upn_valid(pl.col("upn")),
            _msg(f"{ctx.label('upn')} does not have a valid UPN shape and check letter."),
        )
    if ctx.has("la_child_id"):
        rawc = pl.col(raw("la_child_id"))
        yield RowCheck(
            C.LA_CHILD_ID_INVALID,
            "la_child_id",
            rawc.is_not_null() & ~rawc.str.contains(LA_CHILD_ID),
            _msg(f"{ctx.label('la_child_id')} is longer than 20 characters or not alphanumeric."),
        )
    if ctx.has("home_postcode"):
        yield RowCheck(
            C.POSTCODE_INVALID,
            "home_postcode",
            pl.col(raw("home_postcode")).is_not_null() & ~postcode_valid(pl.col("home_postcode")),
            _msg(f"{ctx.label('home_postcode')} is not a valid UK postcode shape."),
        )


def conditional(ctx: RowContext) -> Iterator[RowCheck]:
    """Fields required by another field's value (DQ02)."""
    blank = {
        n: (pl.col(raw(n)).is_null() if ctx.has(n) else pl.lit(True))
        for n in ("risk_assessment_date", "closure_reason", "nrm_referral_date", *RHI_COUNTS)
    }
    if ctx.has("risk_level"):
        yield RowCheck(
            C.CONDITIONAL_MISSING,
            "risk_assessment_date",
            _valid_code("risk_level")
            & (pl.col("risk_level") != "NOT_ASSESSED")
            & blank["risk_assessment_date"],
            _msg("Risk assessment date is blank but the risk level says an assessment was done."),
        )
    if ctx.has("episode_end_date"):
        yield RowCheck(
            C.CONDITIONAL_MISSING,
            "closure_reason",
            pl.col("episode_end_date").is_not_null() & blank["closure_reason"],
            _msg("Closure reason is blank but the episode has an end date."),
        )
    if ctx.has("missing_episodes_count"):
        for name in RHI_COUNTS:
            yield RowCheck(
                C.CONDITIONAL_MISSING,
                name,
                (pl.col("missing_episodes_count") > 0) & blank[name],
                _msg(f"{ctx.schema.field(name).label} is blank but missing episodes are recorded."),
            )
    if ctx.has("nrm_referral_status"):
        yield RowCheck(
            C.CONDITIONAL_MISSING,
            "nrm_referral_date",
            _valid_code("nrm_referral_status")
            & ~pl.col("nrm_referral_status").is_in(["NONE", "UNKNOWN"])
            & blank["nrm_referral_date"],
            _msg("NRM referral date is blank but an NRM referral is recorded."),
        )


def consistency(ctx: RowContext) -> Iterator[RowCheck]:
    """Dates in order, counts in order, types consistent (DQ15-DQ18)."""
    p = ctx.period
    if ctx.has("episode_start_date", "episode_end_date"):
        yield RowCheck(
            C.END_BEFORE_START,
            "episode_end_date",
            pl.col("episode_end_date") < pl.col("episode_start_date"),
            _msg("Episode end date is before the episode start date."),
        )
    if ctx.has("risk_assessment_date", "extract_date"):
        yield RowCheck(
            C.ASSESSMENT_AFTER_EXTRACT,
            "risk_assessment_date",
            pl.col("risk_assessment_date") > pl.col("extract_date"),
            _msg("Risk assessment date is after the extract date."),
        )
    if ctx.has("episode_start_date"):
        ended_before = (
            pl.col("episode_end_date") < pl.lit(p.start)
            if ctx.has("episode_end_date")
            else pl.lit(False)
        )
        yield RowCheck(
            C.OUTSIDE_PERIOD,
            "episode_start_date",
            (pl.col("episode_start_date") > pl.lit(p.end)) | ended_before,
            _msg(f"Episode does not overlap {p.label} ({p.start:%d/%m/%Y} to {p.end:%d/%m/%Y})."),
        )
    if ctx.has("missing_episodes_count", *RHI_COUNTS):
        m, o, c, w = (pl.col(n) for n in ("missing_episodes_count", *RHI_COUNTS))
        yield RowCheck(
            C.RHI_COUNTS_ORDER,
            "rhi_offered_count",
            ~((w <= c) & (c <= o) & (o <= m)),
            pl.format(
                "Return interview counts out of order: within 72h {}, completed {}, offered {}, "
                "missing episodes {}.",
                w,
                c,
                o,
                m,
            ),
        )
    yield from _type_consistency(ctx)


def _type_consistency(ctx: RowContext) -> Iterator[RowCheck]:
    if ctx.has("exploitation_types", "primary_exploitation_type"):
        types = pl.col("exploitation_types")
        both_valid = (
            _valid_code("primary_exploitation_type")
            & types.is_not_null()
            & ~types.list.contains(INVALID)
        )
        yield RowCheck(
            C.PRIMARY_NOT_IN_TYPES,
            "primary_exploitation_type",
            both_valid & ~types.list.contains(pl.col("primary_exploitation_type")),
            pl.format(
                "Primary exploitation type {} is not among the exploitation types.",
                pl.col("primary_exploitation_type"),
            ),
        )
    if ctx.has("exploitation_types"):
        types = pl.col("exploitation_types")
        yield RowCheck(
            C.COUNTY_LINES_WITHOUT_CCE,
            "exploitation_types",
            types.list.contains("CL") & ~types.list.contains("CCE"),
            _msg("County lines (CL) is recorded without criminal exploitation (CCE)."),
        )


def age(ctx: RowContext) -> Iterator[RowCheck]:
    """Plausible age at the end of the quarter (DQ19)."""
    if not ctx.has("date_of_birth"):
        return
    end, age_ = ctx.period.end, pl.col("_age")
    dob = pl.col("date_of_birth")
    yield RowCheck(
        C.DOB_AFTER_PERIOD_END,
        "date_of_birth",
        dob > pl.lit(end),
        _msg(f"Date of birth is after the end of the quarter ({end:%d/%m/%Y})."),
    )
    yield RowCheck(
        C.AGE_OUT_OF_RANGE,
        "date_of_birth",
        (dob <= pl.lit(end)) & (age_ > 25),
        pl.format("Age at the end of the quarter is {} (over 25).", age_),
    )
    yield RowCheck(
        C.AGE_18_PLUS,
        "date_of_birth",
        age_.is_between(18, 25),
        pl.format("Young person is {} at the end of the quarter.", age_),
    )
    if ctx.has("risk_level", "episode_start_date"):
        open_at_end = (
            pl.col("episode_end_date").is_null() | (pl.col("episode_end_date") > pl.lit(end))
            if ctx.has("episode_end_date")
            else pl.lit(True)
        )
        yield RowCheck(
            C.NOT_ASSESSED_LONG_OPEN,
            "risk_level",
            (pl.col("risk_level") == "NOT_ASSESSED")
            & (pl.col("episode_start_date") < pl.lit(end - timedelta(days=28)))
            & open_at_end,
            _msg("Risk is not assessed on an episode open for more than 28 days."),
        )


CROSS_ROW_CODES = frozenset({C.DUPLICATE_RECORD_ID, C.DUPLICATE_EPISODE})
"""The rules that compare a row with earlier rows (the rest look at one row at a time). They
read the flags ``with_repeats`` adds."""

REPEAT_ID = "_repeat_record_id"
REPEAT_EPISODE = "_repeat_episode"
_REPEAT_SEED = 0x7CE3


def uniqueness(ctx: RowContext) -> Iterator[RowCheck]:
    """Repeated record ids and repeated child + start date (DQ23); first occurrence stays.
    Run on a frame ``with_repeats`` has flagged."""
    dup_id = pl.lit(False)
    if ctx.has("record_id"):
        dup_id = pl.col(REPEAT_ID)
        yield RowCheck(
            C.DUPLICATE_RECORD_ID,
            "record_id",
            dup_id,
            _msg(f"{ctx.label('record_id')} repeats an earlier row's id."),
        )
    if REPEAT_EPISODE in repeat_keys(ctx):
        yield RowCheck(
            C.DUPLICATE_EPISODE,
            "episode_start_date",
            pl.col(REPEAT_EPISODE) & ~dup_id,
            _msg("The same child and episode start date appear in an earlier row."),
        )


def repeat_keys(ctx: RowContext) -> dict[str, tuple[list[pl.Expr], pl.Expr]]:
    """Flag column -> (the key, when the key counts) for each repeat the rules look for."""
    keys: dict[str, tuple[list[pl.Expr], pl.Expr]] = {}
    if ctx.has("record_id"):
        rid = pl.col(raw("record_id"))
        keys[REPEAT_ID] = ([rid], rid.is_not_null())
    ids = [(f, basis) for f, basis in IDENTIFIER_PRIORITY if ctx.has(f)]
    if ids and ctx.has("episode_start_date"):
        # The child is its first identifier present, told apart by which identifier it is:
        # the same key as the text "BASIS:id", without building a string for every row.
        which = pl.coalesce(
            [
                pl.when(pl.col(f).is_not_null()).then(pl.lit(i, pl.UInt8))
                for i, (f, _) in enumerate(ids)
            ]
        )
        ident = pl.coalesce([pl.col(f) for f, _ in ids])
        start = pl.col("episode_start_date")
        keys[REPEAT_EPISODE] = (
            [which.alias("b"), ident.alias("k"), start.alias("s")],
            ident.is_not_null() & start.is_not_null(),
        )
    return keys


def with_repeats(frame: pl.DataFrame, ctx: RowContext) -> pl.DataFrame:
    """``frame`` with a flag per repeat the rules look for (see ``repeat_keys``): true on
    each row whose key counts and is the same as an earlier such row's.

    Exact, and light on memory: a 64-bit hash of each key finds the rows whose hash came
    earlier, and only the rows sharing such a hash have their keys compared. Comparing every
    key of a million rows directly takes ~0.3 GB.
    """
    flags = [
        _repeats(frame.select(*key, counts.alias("_counts")), frame.height).alias(name)
        for name, (key, counts) in repeat_keys(ctx).items()
    ]
    return frame.with_columns(flags)


def _repeats(keys: pl.DataFrame, n: int) -> pl.Series:
    """For each of the ``n`` rows of ``keys`` (the key columns and ``_counts``): it counts
    and an earlier counting row has the same key."""
    counts = keys.get_column("_counts")
    keys = keys.drop("_counts")
    hashed = keys.hash_rows(seed=_REPEAT_SEED)
    hashed = pl.select(pl.when(counts).then(hashed)).to_series()
    later = counts & ~hashed.is_first_distinct()
    if not later.any():
        return later
    shared = counts & hashed.is_in(hashed.filter(later).implode())
    at = shared.arg_true()
    seen = keys.filter(shared).select(pl.struct(pl.all()).is_first_distinct()).to_series()
    return pl.repeat(False, n, eager=True).scatter(at, ~seen)


def timeliness(ctx: RowContext) -> Iterator[RowCheck]:
    """Dates after the extract date (error) or after the quarter end (query) (DQ22)."""
    end = pl.lit(ctx.period.end)
    extract = pl.col("extract_date") if ctx.has("extract_date") else pl.lit(None, pl.Date)
    for name in EVENT_DATES:
        if not ctx.has(name):
            continue
        d = pl.col(name)
        yield RowCheck(
            C.EVENT_AFTER_EXTRACT,
            name,
            d > extract,
            _msg(f"{ctx.label(name)} is after the extract date."),
        )
        if name in LATER_DATES:
            yield RowCheck(
                C.DATE_AFTER_PERIOD_END,
                name,
                (d > end) & ~(d > extract).fill_null(False),
                _msg(f"{ctx.label(name)} is after the end of the quarter."),
            )


def row_checks(ctx: RowContext) -> list[RowCheck]:
    """Every row-level rule that applies to this mapping, in catalogue order."""
    groups = (
        required_and_validity,
        identifiers,
        conditional,
        consistency,
        age,
        uniqueness,
        timeliness,
    )
    return [check for group in groups for check in group(ctx)]
