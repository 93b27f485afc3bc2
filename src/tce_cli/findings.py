"""Findings: the catalogue of rules (stable codes, severity, message, how to fix) and the
findings frame every check returns.

Tests assert on codes, never on wording. Messages never contain personal data: they describe
a value ("10 digits, check digit wrong") rather than quote it. Code-field messages may quote the
unrecognised code value, which is what the agency needs to fix its mapping or system.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


class Severity(StrEnum):
    ERROR = "error"
    QUERY = "query"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "query": 2, "info": 1}[self.value]


class Family(StrEnum):
    STRUCTURE = "structure"
    VALIDITY = "validity"
    CONSISTENCY = "consistency"
    COMPLETENESS = "completeness"
    UNIQUENESS = "uniqueness"
    TIMELINESS = "timeliness"
    PERIOD = "period-over-period"
    ACKNOWLEDGEMENT = "acknowledgement"


class FindingCode(StrEnum):
    # structure
    DUPLICATE_HEADER = "duplicate-header"
    BLANK_HEADER = "blank-header"
    RAGGED_ROW = "ragged-row"
    BLANK_ROW = "blank-row"
    MISSING_COLUMN = "missing-column"
    UNMAPPED_COLUMN = "unmapped-column"
    NO_ROWS = "no-rows"
    # validity
    REQUIRED_MISSING = "required-missing"
    CONDITIONAL_MISSING = "conditional-missing"
    INVALID_CODE = "invalid-code"
    DEFAULTED_CODE = "defaulted-code"
    INVALID_DATE = "invalid-date"
    IMPLAUSIBLE_DATE = "implausible-date"
    INVALID_INTEGER = "invalid-integer"
    INVALID_RECORD_ID = "invalid-record-id"
    NO_IDENTIFIER = "no-identifier"
    NHS_NUMBER_INVALID = "nhs-number-invalid"
    NHS_NUMBER_TEST_RANGE = "nhs-number-test-range"
    UPN_INVALID = "upn-invalid"
    LA_CHILD_ID_INVALID = "la-child-id-invalid"
    POSTCODE_INVALID = "postcode-invalid"
    # consistency
    END_BEFORE_START = "end-before-start"
    ASSESSMENT_AFTER_EXTRACT = "assessment-after-extract"
    OUTSIDE_PERIOD = "outside-period"
    RHI_COUNTS_ORDER = "rhi-counts-order"
    PRIMARY_NOT_IN_TYPES = "primary-not-in-types"
    COUNTY_LINES_WITHOUT_CCE = "county-lines-without-cce"
    DOB_AFTER_PERIOD_END = "dob-after-period-end"
    AGE_OUT_OF_RANGE = "age-out-of-range"
    AGE_18_PLUS = "age-18-plus"
    NOT_ASSESSED_LONG_OPEN = "not-assessed-long-open"
    # completeness
    LOW_COMPLETENESS = "low-completeness"
    ETHNICITY_NOT_OBTAINED = "ethnicity-not-obtained"
    SEX_UNKNOWN = "sex-unknown"
    # uniqueness
    DUPLICATE_RECORD_ID = "duplicate-record-id"
    DUPLICATE_EPISODE = "duplicate-episode"
    # timeliness
    EXTRACT_LATE = "extract-late"
    EVENT_AFTER_EXTRACT = "event-after-extract"
    DATE_AFTER_PERIOD_END = "date-after-period-end"
    # period-over-period (against the agency's previous quarter in the store)
    ROW_COUNT_CHANGE = "row-count-change"
    MEASURE_CHANGE = "measure-change"
    CHILDREN_DISAPPEARED = "children-disappeared"
    COMPLETENESS_DROP = "completeness-drop"
    DISTRIBUTION_SHIFT = "distribution-shift"
    # cross-agency consistency (regional, aggregate only: tce status and the pack)
    CROSS_AGENCY_SEX = "cross-agency-sex"
    CROSS_AGENCY_AGE = "cross-agency-age"
    CROSS_AGENCY_CLA = "cross-agency-cla"
    # acknowledgements
    STALE_ACKNOWLEDGEMENT = "stale-acknowledgement"


@dataclass(frozen=True)
class Rule:
    """One entry of the catalogue: what a finding code means and how to fix it."""

    code: FindingCode
    severity: Severity
    family: Family
    dq: str
    title: str
    hint: str


def _r(code: FindingCode, sev: Severity, fam: Family, dq: str, title: str, hint: str) -> Rule:
    return Rule(code, sev, fam, dq, title, hint)


E, Q, N = Severity.ERROR, Severity.QUERY, Severity.INFO
C = FindingCode
RULES: dict[FindingCode, Rule] = {
    r.code: r
    for r in (
        _r(
            C.DUPLICATE_HEADER,
            E,
            Family.STRUCTURE,
            "",
            "Two columns have the same header",
            "Rename one of the columns so every header is different.",
        ),
        _r(
            C.BLANK_HEADER,
            Q,
            Family.STRUCTURE,
            "",
            "A column has no header",
            "Give the column a header, or delete it if it is not needed.",
        ),
        _r(
            C.RAGGED_ROW,
            E,
            Family.STRUCTURE,
            "",
            "Row has a different number of cells from the header",
            "Check for a stray delimiter or a missing quote in this row and re-export.",
        ),
        _r(
            C.BLANK_ROW,
            N,
            Family.STRUCTURE,
            "",
            "Row is blank and was skipped",
            "Delete blank rows from the export.",
        ),
        _r(
            C.MISSING_COLUMN,
            E,
            Family.STRUCTURE,
            "DQ01",
            "A required column is not in the file",
            "Add the column to the export, or update the mapping to the column's new name.",
        ),
        _r(
            C.UNMAPPED_COLUMN,
            N,
            Family.STRUCTURE,
            "",
            "Column is neither mapped nor listed under ignore",
            "Map the column to a framework field, or add it to the mapping's ignore list.",
        ),
        _r(
            C.NO_ROWS,
            Q,
            Family.STRUCTURE,
            "",
            "The file has a header but no data rows",
            "Check the export ran for the right period; send a nil return only if that is right.",
        ),
        _r(
            C.REQUIRED_MISSING,
            E,
            Family.VALIDITY,
            "DQ01",
            "A required field is blank",
            "Fill in the field in the case system and re-export.",
        ),
        _r(
            C.CONDITIONAL_MISSING,
            E,
            Family.VALIDITY,
            "DQ02",
            "A field required in this situation is blank",
            "Fill in the field, or correct the field that makes it required.",
        ),
        _r(
            C.INVALID_CODE,
            E,
            Family.VALIDITY,
            "DQ06",
            "Value is not a recognised code",
            "Use one of the framework's codes, or add the value to the mapping's recodes.",
        ),
        _r(
            C.DEFAULTED_CODE,
            Q,
            Family.VALIDITY,
            "DQ06",
            "Value was not recognised and the mapping's default was used",
            "Check the value; add it to the mapping's recodes if it is a genuine variant.",
        ),
        _r(
            C.INVALID_DATE,
            E,
            Family.VALIDITY,
            "DQ08",
            "Date could not be read",
            "Enter the date as DD/MM/YYYY (or the format in the mapping) and re-export.",
        ),
        _r(
            C.IMPLAUSIBLE_DATE,
            E,
            Family.VALIDITY,
            "DQ08",
            "Date is outside the plausible range (before 1990 or after 2100)",
            "Check for a two-digit year or a typing error and correct the date.",
        ),
        _r(
            C.INVALID_INTEGER,
            E,
            Family.VALIDITY,
            "",
            "Count is not a whole number of zero or more",
            "Enter a whole number (0, 1, 2 ...) with no text.",
        ),
        _r(
            C.INVALID_RECORD_ID,
            E,
            Family.VALIDITY,
            "",
            "Record id is not 1-40 letters, digits, hyphens or underscores",
            "Use the case system's episode or row id without spaces or punctuation.",
        ),
        _r(
            C.NO_IDENTIFIER,
            E,
            Family.VALIDITY,
            "DQ01",
            "No identifier to link the child (NHS number, UPN, LA child id or agency id)",
            "Record at least one identifier for the child; the NHS number links best.",
        ),
        _r(
            C.NHS_NUMBER_INVALID,
            E,
            Family.VALIDITY,
            "DQ10",
            "NHS number is not valid",
            "Check the NHS number against the child's record (10 digits, Modulus 11 check).",
        ),
        _r(
            C.NHS_NUMBER_TEST_RANGE,
            Q,
            Family.VALIDITY,
            "DQ11",
            "NHS number is in the 999 test range",
            "Replace the test number with the child's real NHS number.",
        ),
        _r(
            C.UPN_INVALID,
            Q,
            Family.VALIDITY,
            "DQ13",
            "UPN is not valid",
            "Check the UPN against the school record (13 characters with a check letter).",
        ),
        _r(
            C.LA_CHILD_ID_INVALID,
            E,
            Family.VALIDITY,
            "DQ13",
            "LA child id is not 1-20 letters and digits",
            "Use the case system's child id without spaces or punctuation.",
        ),
        _r(
            C.POSTCODE_INVALID,
            E,
            Family.VALIDITY,
            "DQ12",
            "Postcode is not a valid UK postcode shape",
            "Correct the postcode (e.g. M14 5RX) or leave it blank if not known.",
        ),
        _r(
            C.END_BEFORE_START,
            E,
            Family.CONSISTENCY,
            "DQ15",
            "Episode end date is before its start date",
            "Correct the start or end date.",
        ),
        _r(
            C.ASSESSMENT_AFTER_EXTRACT,
            E,
            Family.CONSISTENCY,
            "DQ15",
            "Risk assessment date is after the extract date",
            "Correct the risk assessment date.",
        ),
        _r(
            C.OUTSIDE_PERIOD,
            E,
            Family.CONSISTENCY,
            "DQ16",
            "Episode does not overlap the reporting quarter",
            "Leave out episodes that closed before or started after the quarter, or fix the dates.",
        ),
        _r(
            C.RHI_COUNTS_ORDER,
            E,
            Family.CONSISTENCY,
            "DQ17",
            "Return interview counts are out of order",
            "Counts must satisfy: within 72h <= completed <= offered <= missing episodes.",
        ),
        _r(
            C.PRIMARY_NOT_IN_TYPES,
            E,
            Family.CONSISTENCY,
            "DQ18",
            "Primary exploitation type is not among the exploitation types",
            "Add the primary type to the exploitation types, or correct the primary type.",
        ),
        _r(
            C.COUNTY_LINES_WITHOUT_CCE,
            Q,
            Family.CONSISTENCY,
            "DQ18",
            "County lines is recorded without criminal exploitation",
            "County lines is a form of CCE: add CCE to the exploitation types.",
        ),
        _r(
            C.DOB_AFTER_PERIOD_END,
            E,
            Family.CONSISTENCY,
            "DQ19",
            "Date of birth is after the end of the quarter",
            "Correct the date of birth.",
        ),
        _r(
            C.AGE_OUT_OF_RANGE,
            E,
            Family.CONSISTENCY,
            "DQ19",
            "Age at the end of the quarter is over 25",
            "Check the date of birth; the framework covers children and young adults to 25.",
        ),
        _r(
            C.AGE_18_PLUS,
            Q,
            Family.CONSISTENCY,
            "DQ19",
            "Young person is 18 or over at the end of the quarter",
            "Confirm this is a transitional case; otherwise check the date of birth.",
        ),
        _r(
            C.NOT_ASSESSED_LONG_OPEN,
            Q,
            Family.COMPLETENESS,
            "DQ05",
            "Risk not assessed on an episode open for more than 28 days",
            "Complete a risk assessment, or record why none has been done.",
        ),
        _r(
            C.LOW_COMPLETENESS,
            Q,
            Family.COMPLETENESS,
            "DQ01",
            "Field is filled in less often than the framework expects",
            "Improve recording of this field in the case system.",
        ),
        _r(
            C.ETHNICITY_NOT_OBTAINED,
            Q,
            Family.COMPLETENESS,
            "DQ03",
            "Ethnicity is refused or not obtained for more than 5% of rows",
            "Record ethnicity wherever the child or family will give it.",
        ),
        _r(
            C.SEX_UNKNOWN,
            Q,
            Family.COMPLETENESS,
            "DQ04",
            "Sex is unknown for more than 2% of rows",
            "Record the child's sex wherever it is known.",
        ),
        _r(
            C.DUPLICATE_RECORD_ID,
            E,
            Family.UNIQUENESS,
            "DQ23",
            "Record id appears more than once in this return",
            "Give each row its own record id, or remove the duplicate row.",
        ),
        _r(
            C.DUPLICATE_EPISODE,
            Q,
            Family.UNIQUENESS,
            "DQ23",
            "Same child and episode start date appear more than once",
            "Remove the duplicate episode or correct its start date.",
        ),
        _r(
            C.EXTRACT_LATE,
            Q,
            Family.TIMELINESS,
            "DQ22",
            "Extract date is more than 20 working days after the quarter end",
            "Send the return sooner, or confirm the extract date.",
        ),
        _r(
            C.EVENT_AFTER_EXTRACT,
            E,
            Family.TIMELINESS,
            "DQ22",
            "A date in the row is after the extract date",
            "Correct the date; events cannot happen after the data were extracted.",
        ),
        _r(
            C.DATE_AFTER_PERIOD_END,
            Q,
            Family.TIMELINESS,
            "DQ22",
            "A date in the row is after the end of the quarter",
            "Check the date; the return should describe the quarter only.",
        ),
        _r(
            C.ROW_COUNT_CHANGE,
            Q,
            Family.PERIOD,
            "",
            "The number of rows rose or fell sharply since the previous quarter",
            "Check the extract covered the whole quarter and every team; if the change is "
            "real, explain it (tce ack).",
        ),
        _r(
            C.MEASURE_CHANGE,
            Q,
            Family.PERIOD,
            "",
            "Children open at the quarter end or new episodes rose or fell sharply",
            "Check the extract's filters and dates; if the change is real, explain it (tce ack).",
        ),
        _r(
            C.CHILDREN_DISAPPEARED,
            Q,
            Family.PERIOD,
            "",
            "Many children open at the end of last quarter are missing, with no closure",
            "Include episodes that closed during the quarter, with their end date and closure "
            "reason; check the extract's filters.",
        ),
        _r(
            C.COMPLETENESS_DROP,
            Q,
            Family.PERIOD,
            "DQ01",
            "A field is filled in much less often than last quarter",
            "Check a system, form or extract change has not stopped this field being recorded "
            "or exported.",
        ),
        _r(
            C.DISTRIBUTION_SHIFT,
            Q,
            Family.PERIOD,
            "",
            "The mix of codes in a field changed sharply since last quarter",
            "Check the mapping's recodes and any change to the codes the system uses.",
        ),
        _r(
            C.CROSS_AGENCY_SEX,
            Q,
            Family.CONSISTENCY,
            "DQ21",
            "Children recorded with a different sex by two agencies",
            "Each agency checks its records of the children it shares with the other agency.",
        ),
        _r(
            C.CROSS_AGENCY_AGE,
            Q,
            Family.CONSISTENCY,
            "DQ21",
            "Children whose ages differ by more than a year between two agencies",
            "Each agency checks the dates of birth of the children it shares with the other.",
        ),
        _r(
            C.CROSS_AGENCY_CLA,
            N,
            Family.CONSISTENCY,
            "DQ20",
            "Looked after according to another agency, not according to the council",
            "The agency checks its social-care status against the council's; the council "
            "confirms the child's status.",
        ),
        _r(
            C.STALE_ACKNOWLEDGEMENT,
            N,
            Family.ACKNOWLEDGEMENT,
            "",
            "An acknowledgement no longer matches any finding in this return",
            "Remove the entry from the agency's acknowledgements file (mappings/acks/).",
        ),
    )
}
del E, Q, N, C

FINDING_COLUMNS: tuple[str, ...] = (
    "agency",
    "source_file",
    "source_row",
    "record_id",
    "field",
    "code",
    "severity",
    "message",
    "hint",
)
"""Columns of every findings frame, in this order."""


def findings_schema() -> dict[str, pl.DataType]:
    import polars as pl

    return {
        "agency": pl.String(),
        "source_file": pl.String(),
        "source_row": pl.Int64(),
        "record_id": pl.String(),
        "field": pl.String(),
        "code": pl.String(),
        "severity": pl.String(),
        "message": pl.String(),
        "hint": pl.String(),
    }


def empty_findings() -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(schema=findings_schema())


def severity_at_or_above(findings: pl.DataFrame, threshold: Severity) -> int:
    """How many findings have severity at or above ``threshold``."""
    import polars as pl

    wanted = [s.value for s in Severity if s.rank >= threshold.rank]
    return findings.filter(pl.col("severity").is_in(wanted)).height


def exit_code(findings: pl.DataFrame, fail_on: Severity) -> int:
    """0 when nothing is at or above ``fail_on``, else 1 (the exit-code contract)."""
    return 1 if severity_at_or_above(findings, fail_on) else 0


def sort_findings(findings: pl.DataFrame) -> pl.DataFrame:
    """Deterministic order: errors first, then queries, info; then file, row, field, code."""
    import polars as pl

    rank = pl.col("severity").replace_strict(
        {"error": 0, "query": 1, "info": 2}, default=3, return_dtype=pl.Int8
    )
    return findings.sort([rank, "source_file", "source_row", "field", "code"], nulls_last=False)
