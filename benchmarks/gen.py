"""Deterministic large agency exports for the benchmarks, in the example agencies' layouts.

Rows are drawn (with replacement) from the example files for 2026-27 Q2 that
``examples/generate.py`` writes, so headers, codes, labels, date styles and planted defects (a
few % of rows: blanks, unknown codes, two-digit years, bad counts, dates out of order ...) are
the agencies' own. Then, with Polars expressions over the whole frame (no loop over rows):

- every row gets its own record id and every child (about 0.7 per row) its own identifiers:
  NHS numbers from the 999 test range passing Modulus 11, UPNs with a correct check letter,
  LA and agency person ids. Where the template cell was blank it stays blank; where it was
  invalid the new value is invalid in the same way (the dirt prefix/suffix is kept, an NHS
  number or UPN gets a wrong check digit/letter);
- postcodes keep their district and get a new inward code (invalid ones are kept as they are);
- event dates move back 0-14 days and dates of birth by up to 200 days either way, each
  row by its own amount, written back in the format the cell used (implausible dates such as
  two-digit years are left alone); ``--quarters-back K`` moves every date, the extract date
  included, K quarters earlier, for a store of several periods;
- 0.3% of rows repeat the row before them (duplicate record ids).

The same arguments give the same file (for the pinned Polars version). XLSX (the Wigan
layout) is written with openpyxl in write-only mode, which is slow: files are cached in
``benchmarks/data/`` (git-ignored) under names that include the row count and seed.

Usage::

    .venv/bin/python -m benchmarks.gen --agency bolton-csc --rows 1000000
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
MAPPINGS = ROOT / "mappings"
EXAMPLES = ROOT / "examples" / "data"
TEMPLATE_PERIOD = "2026-27Q2"
TEMPLATE_QUARTERS = ("2026-27Q2", "2026-27Q1", "2025-26Q4", "2025-26Q3")
SEED = 20260930
CHILDREN_PER_ROW = 0.7
DUPLICATE_PER_MILLE = 3
ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
PLAUSIBLE = (1990, 2100)


@dataclass(frozen=True)
class Layout:
    """One agency export layout: its example file and how generated files are named."""

    agency: str
    template: str
    prefix: str
    suffix: str
    header_row: int | None = None

    def file_name(self, tag: str) -> str:
        """A name the agency's mapping ``match:`` glob accepts."""
        return f"{self.prefix}{tag}{self.suffix}"


LAYOUTS: dict[str, Layout] = {
    layout.agency: layout
    for layout in (
        Layout(
            "bolton-csc",
            f"bolton_complex_safeguarding_{TEMPLATE_PERIOD}.csv",
            "bolton_complex_safeguarding_",
            ".csv",
        ),
        Layout(
            "manchester-csc",
            f"MCC_Mosaic_CE_Extract_{TEMPLATE_PERIOD}.csv",
            "MCC_Mosaic_CE_Extract_",
            ".csv",
        ),
        Layout("gmp", f"GMP_CE_Nominals_{TEMPLATE_PERIOD}.csv", "GMP_CE_Nominals_", ".csv"),
        Layout(
            "mft-health",
            f"MFT_Safeguarding_CE_Tracker_{TEMPLATE_PERIOD}.txt",
            "MFT_Safeguarding_CE_Tracker_",
            ".txt",
        ),
        Layout(
            "wigan-csc",
            f"Wigan_Complex_Safeguarding_Return_{TEMPLATE_PERIOD}.xlsx",
            "Wigan_Complex_Safeguarding_Return_",
            ".xlsx",
            header_row=4,
        ),
    )
}
CSV_AGENCIES = ("bolton-csc", "manchester-csc", "gmp", "mft-health")


def examples_module() -> ModuleType:
    """``examples/generate.py`` as a module (its layouts' CSV styles and code letters)."""
    name = "tce_examples_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# --- templates -----------------------------------------------------------------------------


@functools.cache
def template(agency: str) -> pl.DataFrame:
    """The agency's example files for the four example quarters as text cells under their own
    headers (blank rows out), every date moved forward to 2026-27 Q2, so all the defect kinds
    the example generator planted in any quarter are in the pool."""
    from tce_cli.read import read_table

    layout = LAYOUTS[agency]
    frames = []
    for back, quarter in enumerate(TEMPLATE_QUARTERS):
        name = layout.template.replace(TEMPLATE_PERIOD, quarter)
        frame = read_table(EXAMPLES / quarter / name, header_row=layout.header_row).frame
        frame = frame.drop("_row").filter(pl.any_horizontal(pl.all().is_not_null()))
        if back:
            cols = field_columns(agency, frame.columns)
            frame = frame.with_columns(
                shift_date(pl.col(cols[n]), formats, pl.lit(0), 3 * back).alias(cols[n])
                for n, formats in date_formats(agency).items()
                if n in cols
            )
        frames.append(frame)
    return pl.concat(frames, how="diagonal").select(frames[0].columns)


def field_columns(agency: str, headers: list[str]) -> dict[str, str]:
    """Framework field -> the one source column the agency's mapping reads for it."""
    from tce_cli.transform import resolve

    mapping = _mapping(agency)
    resolution = resolve(mapping, headers)
    return {
        name: cols[0]
        for name, cols in resolution.columns.items()
        if len(cols) == 1 and not mapping.fields[name].flags
    }


def date_formats(agency: str) -> dict[str, tuple[str, ...]]:
    """Date field -> formats to read it with (the mapping's, then ISO), for the dates present."""
    from tce_cli.schema import FieldType, load_schema

    mapping, schema = _mapping(agency), load_schema()
    out = {}
    for name, spec in mapping.fields.items():
        if schema.field(name).type is FieldType.DATE and spec.constant is None:
            out[name] = (*spec.formats, *(f for f in ISO_FORMATS if f not in spec.formats))
    return out


@functools.cache
def _mapping(agency: str) -> Any:
    from tce_cli.mapping import load_mapping

    return load_mapping(MAPPINGS / f"{agency}.yaml")


def _marks(frame: pl.DataFrame, cols: dict[str, str]) -> pl.DataFrame:
    """Per template row: which identifier cells are invalid, so the dirt can be re-planted."""
    from tce_cli.checks.identifiers import nhs_valid, postcode_valid, upn_valid

    marks: list[pl.Expr] = []
    if "nhs_number" in cols:
        nhs = pl.col(cols["nhs_number"])
        digits = nhs.str.replace_all(r"[\s-]", "")
        marks += [
            (nhs.is_not_null() & ~nhs_valid(digits).fill_null(False)).alias("_bad_nhs"),
            nhs.str.contains(" ").fill_null(False).alias("_spaced_nhs"),
        ]
    if "upn" in cols:
        upn = pl.col(cols["upn"])
        norm = upn.str.replace_all(r"\s", "").str.to_uppercase()
        marks.append((upn.is_not_null() & ~upn_valid(norm).fill_null(False)).alias("_bad_upn"))
    if "home_postcode" in cols:
        pc = pl.col(cols["home_postcode"]).str.to_uppercase().str.replace_all(r"\s", "")
        marks.append(postcode_valid(pc).fill_null(False).alias("_good_pc"))
    return frame.with_columns(marks)


# --- vectorised identifiers ----------------------------------------------------------------


def _hash(seed: int, modulo: int) -> pl.Expr:
    """A deterministic pseudo-random integer in [0, modulo) per row."""
    return (pl.int_range(pl.len(), dtype=pl.Int64).hash(seed) % modulo).cast(pl.Int64)


def _mod11(nine: pl.Expr) -> pl.Expr:
    """NHS check digit of a 9-digit integer (10 means no valid check digit exists)."""
    total = pl.sum_horizontal([(nine // 10 ** (8 - i)) % 10 * (10 - i) for i in range(9)])
    check = 11 - total % 11
    return pl.when(check == 11).then(0).otherwise(check)


def nhs_number(child: pl.Expr, *, bad: pl.Expr, spaced: pl.Expr) -> pl.Expr:
    """A 999-range NHS number per child (valid, or with a wrong check digit where ``bad``)."""
    nine = 999_000_000 + (child * 7919 + 13) % 1_000_000
    nine = pl.when(_mod11(nine) == 10).then(nine + 1 - 2 * (nine % 10 == 9)).otherwise(nine)
    check = _mod11(nine)
    check = pl.when(bad).then((check + 1 + child % 9) % 10).otherwise(check)
    text = (nine * 10 + check).cast(pl.String)
    return (
        pl.when(spaced)
        .then(
            pl.concat_str(
                [text.str.slice(0, 3), text.str.slice(3, 3), text.str.slice(6)], separator=" "
            )
        )
        .otherwise(text)
    )


def upn(child: pl.Expr, la: pl.Expr, *, bad: pl.Expr) -> pl.Expr:
    """A UPN per child: check letter + 3-digit LA + 9 digits (wrong letter where ``bad``)."""
    letters = examples_module().UPN_LETTERS
    rest = pl.concat_str(
        [la.fill_null("350"), ((child * 7919 + 7) % 10**9).cast(pl.String).str.zfill(9)]
    )
    total = pl.sum_horizontal(
        [rest.str.slice(pos - 2, 1).cast(pl.Int64) * pos for pos in range(2, 14)]
    )
    remainder = (total % 23 + pl.when(bad).then(1).otherwise(0)) % 23
    return pl.concat_str([pl.lit(letters).str.slice(remainder, 1), rest])


def renumber(col: pl.Expr, number: pl.Expr) -> pl.Expr:
    """Replace a value's trailing digits with ``number`` (1,000,000+), keeping any prefix or
    dirt (``LL-``, ``/A``, ``(old)``), so invalid ids stay invalid in the same way."""
    prefix = col.str.extract(r"^(.*?)\d*$", 1)
    return pl.concat_str([prefix, (number + 1_000_000).cast(pl.String)])


def postcode(col: pl.Expr, *, good: pl.Expr, seed: int) -> pl.Expr:
    """Valid postcodes keep their district and get a random inward code."""
    letters = examples_module().INWARD_LETTERS
    n = len(letters)
    district = col.str.replace_all(r"\s", "").str.to_uppercase()
    district = district.str.slice(0, district.str.len_chars() - 3)
    inward = pl.concat_str(
        [
            _hash(seed, 10).cast(pl.String),
            pl.lit(letters).str.slice(_hash(seed + 1, n), 1),
            pl.lit(letters).str.slice(_hash(seed + 2, n), 1),
        ]
    )
    return pl.when(good).then(pl.concat_str([district, inward], separator=" ")).otherwise(col)


def shift_date(col: pl.Expr, formats: tuple[str, ...], days: pl.Expr, months: int) -> pl.Expr:
    """Move a date cell ``months`` later then ``days`` later (negative: earlier), written back
    in the format that read it.

    Cells no format reads as a plausible date (blanks, typos, two-digit years) stay as they are.
    """
    out = pl.when(pl.lit(False)).then(pl.lit(None, pl.String))
    lo, hi = PLAUSIBLE
    for fmt in formats:
        parsed = col.str.strptime(pl.Date, fmt, strict=False)
        moved = parsed.dt.offset_by(f"{months}mo") if months else parsed
        moved = moved + pl.duration(days=days)
        text = moved.dt.strftime(fmt)
        if "%b" in fmt:  # Oracle writes months in capitals: 05-MAR-2026
            text = (
                pl.when(col == col.str.to_uppercase()).then(text.str.to_uppercase()).otherwise(text)
            )
        out = out.when(parsed.dt.year().is_between(lo, hi)).then(text)
    return out.otherwise(col)


def generate(agency: str, rows: int, *, seed: int = SEED, quarters_back: int = 0) -> pl.DataFrame:
    """``rows`` rows of text cells in ``agency``'s layout (headers as in its example file)."""
    base = template(agency)
    headers = base.columns
    cols = field_columns(agency, headers)
    marks = _marks(base, cols)
    pick = pl.DataFrame({"t": pl.int_range(rows, eager=True)}).select(
        (pl.col("t").hash(seed) % base.height).cast(pl.Int64)
    )
    frame = marks[pick["t"]]
    frame = frame.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_i"),
        _hash(seed + 1, max(1, int(rows * CHILDREN_PER_ROW))).alias("_child"),
    )
    frame = frame.with_columns(_identifier_exprs(cols, seed))
    frame = frame.with_columns(_date_exprs(agency, cols, seed, quarters_back))
    repeat = _hash(seed + 9, 1000) < DUPLICATE_PER_MILLE
    source = pl.when(repeat & (pl.col("_i") > 0)).then(pl.col("_i") - 1).otherwise(pl.col("_i"))
    frame = frame.select(pl.col(headers).gather(source))
    return frame


def _identifier_exprs(cols: dict[str, str], seed: int) -> list[pl.Expr]:
    child, row = pl.col("_child"), pl.col("_i")
    out: list[pl.Expr] = []
    if "record_id" in cols:
        c = cols["record_id"]
        out.append(renumber(pl.col(c), row).alias(c))
    for name in ("la_child_id", "agency_person_id"):
        if name in cols:
            c = cols[name]
            out.append(renumber(pl.col(c), child).alias(c))
    if "nhs_number" in cols:
        c = cols["nhs_number"]
        value = nhs_number(child, bad=pl.col("_bad_nhs"), spaced=pl.col("_spaced_nhs"))
        out.append(pl.when(pl.col(c).is_not_null()).then(value).alias(c))
    if "upn" in cols:
        c = cols["upn"]
        la = pl.col(c).str.replace_all(r"\s", "").str.slice(1, 3)
        value = upn(child, pl.when(la.str.contains(r"^\d{3}$")).then(la), bad=pl.col("_bad_upn"))
        out.append(pl.when(pl.col(c).is_not_null()).then(value).alias(c))
    if "home_postcode" in cols:
        c = cols["home_postcode"]
        out.append(postcode(pl.col(c), good=pl.col("_good_pc"), seed=seed + 3).alias(c))
    return out


def _date_exprs(agency: str, cols: dict[str, str], seed: int, quarters_back: int) -> list[pl.Expr]:
    event_days = -_hash(seed + 4, 15)
    dob_days = _hash(seed + 5, 401) - 200
    out = []
    for name, formats in date_formats(agency).items():
        if name not in cols:
            continue
        days = {"date_of_birth": dob_days, "extract_date": pl.lit(0)}.get(name, event_days)
        c = cols[name]
        out.append(shift_date(pl.col(c), formats, days, -3 * quarters_back).alias(c))
    return out


# --- writing -------------------------------------------------------------------------------


def write(frame: pl.DataFrame, agency: str, path: Path) -> Path:
    """Write ``frame`` the way the agency's system does (encoding, delimiter, line ends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if LAYOUTS[agency].suffix == ".xlsx":
        _write_wigan(frame, path)
        return path
    encoding, delimiter, newline = examples_module().CSV_STYLE[agency]
    options: dict[str, Any] = {
        "separator": delimiter,
        "line_terminator": newline,
        "quote_style": "necessary",
    }
    if encoding in ("utf-8", "utf-8-sig"):
        frame.write_csv(path, include_bom=encoding == "utf-8-sig", **options)
    else:
        path.write_bytes(frame.write_csv(**options).encode(encoding, errors="replace"))
    return path


def _write_wigan(frame: pl.DataFrame, path: Path) -> None:
    """The Eclipse layout: three title rows, then the header on row 4; date and number cells."""
    from openpyxl import Workbook

    dates = set(field_columns("wigan-csc", frame.columns).get(n) for n in date_formats("wigan-csc"))
    digits = {c for c in frame.columns if _share_digits(frame[c]) > 0.9}
    convert = [
        _date_cell if c in dates else _int_cell if c in digits else _text_cell
        for c in frame.columns
    ]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Complex Safeguarding")
    extract = frame[field_columns("wigan-csc", frame.columns)["extract_date"]].drop_nulls()
    ws.append(["Wigan Council – Complex Safeguarding Return"])
    ws.append([f"Report run on {extract[0] if len(extract) else ''} 07:42"])
    ws.append([])
    ws.append(frame.columns)
    for row in frame.iter_rows():
        ws.append([f(v) for f, v in zip(convert, row, strict=True)])
    wb.save(path)


def _share_digits(column: pl.Series) -> float:
    share = column.drop_nulls().str.contains(r"^\d+$").mean()
    return float(share) if isinstance(share, float | int) else 0.0


def _text_cell(value: str | None) -> Any:
    return value


def _int_cell(value: str | None) -> Any:
    return int(value) if value is not None and value.isdigit() else value


def _date_cell(value: str | None) -> Any:
    if value is None or len(value) != 10:
        return value
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time())
    except ValueError:
        return value


# --- cached files ----------------------------------------------------------------------------


def make(
    agency: str,
    rows: int,
    *,
    out: Path = DATA,
    seed: int = SEED,
    quarters_back: int = 0,
    tag: str | None = None,
) -> Path:
    """Generate (or reuse the cached) file; return its path. A ``.meta.json`` records what
    made it, so a file made with other arguments is never reused by mistake."""
    tag = tag or f"bench-{_size(rows)}-s{seed}" + (f"-q{quarters_back}" if quarters_back else "")
    path = out / LAYOUTS[agency].file_name(tag)
    meta = path.with_name(path.name + ".meta.json")
    wanted = {"agency": agency, "rows": rows, "seed": seed, "quarters_back": quarters_back}
    if path.exists() and meta.exists() and json.loads(meta.read_text()) == wanted:
        return path
    frame = generate(agency, rows, seed=seed, quarters_back=quarters_back)
    write(frame, agency, path)
    meta.write_text(json.dumps(wanted))
    return path


def _size(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}m"
    return f"{rows // 1000}k" if rows % 1000 == 0 else str(rows)


def period_label(quarters_back: int) -> str:
    """The period (slug, e.g. ``2026-27Q2``) of a file made with ``quarters_back``."""
    year, quarter = 2026, 2
    index = year * 4 + (quarter - 1) - quarters_back
    year, q = divmod(index, 4)
    return f"{year}-{(year + 1) % 100:02d}Q{q + 1}"


def period_dates(quarters_back: int) -> tuple[date, date]:
    """First and last day of that period (financial-year quarters: Q1 = Apr-Jun)."""
    slug = period_label(quarters_back)
    year, q = int(slug[:4]), int(slug[-1])
    month = 3 * q + 1
    start = date(year + (month > 12), (month - 1) % 12 + 1, 1)
    after = date(start.year + (start.month + 3 > 12), (start.month + 2) % 12 + 1, 1)
    return start, after - timedelta(days=1)


# --- what the reference needs to know about a layout ---------------------------------------


def reference_spec(agency: str, headers: list[str] | None = None) -> dict[str, Any]:
    """The agency's mapping reduced to plain data for ``benchmarks.reference``: which column
    holds each field, its type, formats and the normalised value -> code table (built with
    tce's own recode tables so both sides accept exactly the same codes)."""
    from tce_cli.schema import FieldType, load_schema
    from tce_cli.transform import DEFAULT_DATE_FORMATS, recode_table, resolve

    mapping, schema = _mapping(agency), load_schema()
    layout = LAYOUTS[agency]
    headers = headers if headers is not None else template(agency).columns
    resolution = resolve(mapping, headers)
    encoding, delimiter, _ = examples_module().CSV_STYLE.get(agency, (None, None, None))
    fields: dict[str, Any] = {}
    for name, cols in resolution.columns.items():
        spec, f = mapping.fields[name], schema.field(name)
        if spec.constant is not None or spec.flags:
            continue
        entry: dict[str, Any] = {
            "column": cols[0],
            "type": f.type.value,
            "required": f.required == "Y",
            "blank": sorted(" ".join(k.upper().split()) for k, v in spec.values.items() if v == ""),
            "plain": {" ".join(k.upper().split()): v for k, v in spec.values.items() if v != ""},
        }
        if f.type in (FieldType.CODE, FieldType.CODE_LIST):
            entry |= {
                "codes": recode_table(schema, name, spec),
                "split": spec.split,
                "first": spec.take == "first",
                "default": spec.default,
            }
        if f.type is FieldType.DATE:
            entry["formats"] = [
                *spec.formats,
                *(x for x in DEFAULT_DATE_FORMATS if x not in spec.formats),
            ]
        fields[name] = entry
    return {
        "agency": agency,
        "agency_type": mapping.agency.type,
        "format": "xlsx" if layout.suffix == ".xlsx" else "csv",
        "encoding": encoding,
        "separator": delimiter,
        "header_row": layout.header_row or 1,
        "record_id_pattern": schema.field("record_id").pattern,
        "allow_test_nhs": mapping.options.allow_test_nhs_numbers,
        "fields": fields,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agency", choices=sorted(LAYOUTS), default="bolton-csc")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quarters-back", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args(argv)
    path = make(
        args.agency, args.rows, out=args.out, seed=args.seed, quarters_back=args.quarters_back
    )
    print(path)


if __name__ == "__main__":
    main()
