"""Labels and breakdown dimensions, all taken from the framework schema's code lists."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tce_cli.report.model import GM, NOT_RECORDED, TOTAL
from tce_cli.schema import load_schema

REFERRAL_GROUPS: dict[str, tuple[str, ...]] = {
    "Police": ("6",),
    "Schools and education": ("2A", "2B"),
    "Health": ("3A", "3B", "3C", "3D", "3E", "3F"),
    "Local authority services": ("5A", "5B", "5C", "5D"),
    "Other (individuals, housing, legal, voluntary, anonymous, unknown)": (
        "1A",
        "1B",
        "1C",
        "1D",
        "4",
        "7",
        "8",
        "9",
        "10",
    ),
}
NRM_GROUPS: dict[str, tuple[str, ...]] = {
    "Criminal exploitation (CCE, county lines)": ("CCE", "CL"),
    "Sexual exploitation (CSE)": ("CSE",),
    "Other types": ("MSHT", "GANG", "FIN", "OTHER_EFH", "UNKNOWN"),
}
CLA_LABELS = ("Looked after", "Not looked after")


def labels(codes: str) -> dict[str, str]:
    """Code -> label of a schema code list."""
    return dict(load_schema().code_lists[codes])


def label(codes: str, code: str) -> str:
    """The label of one code."""
    return load_schema().code_lists[codes][code]


def label_expr(column: str, codes: str) -> pl.Expr:
    """``column`` with codes replaced by labels; nulls become 'Not recorded'."""
    return pl.col(column).replace(labels(codes)).fill_null(NOT_RECORDED)


def _group_expr(column: str, groups: dict[str, tuple[str, ...]]) -> pl.Expr:
    lookup = {code: group for group, codes in groups.items() for code in codes}
    return (
        pl.col(column)
        .replace_strict(lookup, default=pl.col(column), return_dtype=pl.String())
        .fill_null(NOT_RECORDED)
    )


def referral_group_expr() -> pl.Expr:
    return _group_expr("referral_source", REFERRAL_GROUPS)


def nrm_group_expr() -> pl.Expr:
    return _group_expr("primary_exploitation_type", NRM_GROUPS)


@dataclass(frozen=True)
class Dim:
    """A breakdown: a column of the child frame and its categories in display order.

    ``explode``: the column holds a list (a child counts once in each of its values).
    ``additive``: the categories add up to the total (false when a child can be in several).
    """

    name: str
    column: str
    categories: tuple[str, ...]
    total: str = TOTAL
    geography: bool = False
    explode: bool = False
    additive: bool = True


def _dim(
    name: str, column: str, codes: str, *, explode: bool = False, additive: bool = True
) -> Dim:
    values = tuple(labels(codes).values())
    return Dim(name, column, values, explode=explode, additive=additive)


LA = Dim("Local authority", "la", tuple(labels("local_authority").values()), GM, geography=True)
PRIMARY_TYPE = _dim("Primary exploitation type", "primary_type", "exploitation_type")
TYPES = _dim("Exploitation type", "types", "exploitation_type", explode=True, additive=False)
RISK = _dim("Risk level", "risk", "risk_level")
AGE = _dim("Age band", "age_band", "age_band")
SEX = _dim("Sex", "sex", "sex")
ETHNICITY = _dim("Ethnicity major group", "ethnicity", "ethnicity_major_group")
CSC = _dim("CSC status", "csc", "csc_status")
CLA = Dim("Looked after", "cla", CLA_LABELS)
REFERRAL = Dim("Referral source", "referral_group", tuple(REFERRAL_GROUPS))
NRM_GROUP = Dim("Primary type group", "nrm_group", tuple(NRM_GROUPS))
CLOSURE = _dim("Closure reason", "closure", "closure_reason")
AGENCY_TYPES = _dim("Agency type", "agency_types", "agency_type", explode=True, additive=False)
AGENCY_TYPE = _dim("Agency type", "agency_type", "agency_type", additive=False)
ACTIONS = _dim("Disruption action", "actions", "disruption_action", explode=True, additive=False)
