"""The yardstick: the checks written as ONE plain Polars lazy query per file, no tce code.

What a competent analyst would write by hand for one agency layout: read every column as
text, trim it, parse the dates (the mapping's formats, then ISO, then Excel serials; years
outside 1990-2100 are implausible), check codes against the value tables, counts as whole
numbers, NHS numbers (Modulus 11), postcodes, record and LA child ids, date order
(end before start), duplicates (record id; child + start date) and count nulls. It returns
counts, not a findings list, and writes no messages: it is the floor tce is measured against.

The layout comes from a spec (``benchmarks.gen.reference_spec``: the mapping reduced to
plain data, written as JSON), so this module needs nothing but Polars (and polars_hash for
``harmonise``). Counts are keyed by tce's finding codes where both check the same thing.

Usage (run.py calls these as subprocesses so time and peak memory are measured alike)::

    python -m benchmarks.reference validate FILE SPEC.json
    python -m benchmarks.reference harmonise OUT_DIR KEY_HEX FILE SPEC.json [FILE SPEC.json ...]
    python -m benchmarks.reference scan STORE_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import polars as pl

PLAUSIBLE = (1990, 2100)
EXCEL_EPOCH = pl.date(1899, 12, 30)
NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
POSTCODE = r"^([A-Z][A-HJ-Y]?[0-9][A-Z0-9]?[0-9][A-Z]{2}|GIR0AA)$"
LA_CHILD_ID = r"^[A-Za-z0-9]{1,20}$"
IDENTIFIERS = (("nhs_number", "NHS"), ("upn", "UPN"), ("la_child_id", "LA_ID"))
IDENTIFIERS += (("agency_person_id", "AGENCY_ID"),)
INVALID = "\x00invalid"


# --- reading -------------------------------------------------------------------------------


def scan(path: Path, spec: dict[str, Any]) -> pl.LazyFrame:
    """Every column as text, plus ``_row`` (the row number as Excel shows it)."""
    first = spec["header_row"] + 1
    if spec["format"] == "xlsx":
        frame = pl.read_excel(
            path,
            engine="calamine",
            read_options={"header_row": spec["header_row"] - 1},
            infer_schema_length=0,
        )
        lf = frame.lazy()
    elif spec["encoding"] in ("utf-8", "utf-8-sig", None):
        lf = pl.scan_csv(path, separator=spec["separator"] or ",", infer_schema=False)
    else:  # Polars reads UTF-8 only: transcode other encodings first
        data = path.read_bytes().decode(spec["encoding"]).encode()
        lf = pl.read_csv(data, separator=spec["separator"], infer_schema=False).lazy()
    return lf.with_row_index("_row", offset=first)


# --- expressions ---------------------------------------------------------------------------


def norm(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_uppercase().str.replace_all(r"\s+", " ").str.strip_chars()


def text(field: dict[str, Any]) -> pl.Expr:
    """Trimmed cell, null when blank (or recoded to blank)."""
    cell = pl.col(field["column"]).str.strip_chars()
    cell = pl.when(cell != "").then(cell)
    if field["blank"]:
        cell = pl.when(~norm(cell).is_in(field["blank"])).then(cell)
    if field["plain"] and field["type"] not in ("code", "code_list"):
        cell = norm(cell).replace_strict(field["plain"], default=cell, return_dtype=pl.String)
    return cell


def dates(raw: pl.Expr, formats: list[str]) -> tuple[pl.Expr, pl.Expr]:
    """(plausible date, any date read) from the formats in order, then Excel serials."""
    parsed = [raw.str.strptime(pl.Date, f, strict=False) for f in formats]
    serial = raw.str.extract(r"^(\d{5})(?:\.0+)?$", 1).cast(pl.Int64, strict=False)
    parsed.append(EXCEL_EPOCH + pl.duration(days=serial))
    lo, hi = PLAUSIBLE
    plausible = [pl.when(p.dt.year().is_between(lo, hi)).then(p) for p in parsed]
    return pl.coalesce(plausible), pl.coalesce(parsed)


def code_invalid(raw: pl.Expr, field: dict[str, Any]) -> pl.Expr:
    """True where a present value (or any piece of a split value) is not a known code."""
    keys = list(field["codes"])
    if field["split"] is None:
        return raw.is_not_null() & ~norm(raw).is_in(keys)
    pieces = raw.str.split(field["split"]).list.eval(
        norm(pl.element()).filter(pl.element().str.strip_chars() != "")
    )
    if field["first"]:
        return raw.is_not_null() & ~pieces.list.first().is_in(keys).fill_null(True)
    bad = pieces.list.eval(~pl.element().is_in(keys)).list.any()
    return raw.is_not_null() & bad


def nhs_valid(digits: pl.Expr) -> pl.Expr:
    d = [digits.str.slice(i, 1).cast(pl.Int64, strict=False) for i in range(10)]
    total = pl.sum_horizontal([d[i] * w for i, w in enumerate(NHS_WEIGHTS)])
    check = 11 - total % 11
    check = pl.when(check == 11).then(0).otherwise(check)
    return digits.str.contains(r"^\d{10}$") & (check != 10) & (check == d[9])


def identifier(name: str, raw: pl.Expr) -> pl.Expr:
    if name == "nhs_number":
        return raw.str.replace_all(r"[\s-]", "")
    return raw.str.replace_all(r"\s", "").str.to_uppercase()


# --- the query -----------------------------------------------------------------------------


def checked(lf: pl.LazyFrame, spec: dict[str, Any]) -> pl.LazyFrame:
    """The frame with parsed values and one boolean column per check (true = fails)."""
    fields: dict[str, dict[str, Any]] = spec["fields"]
    raws = [text(f).alias(f"raw_{n}") for n, f in fields.items()]
    lf = lf.select("_row", *raws)
    parsed: list[pl.Expr] = []
    flags: dict[str, list[pl.Expr]] = {}
    for name, f in fields.items():
        raw = pl.col(f"raw_{name}")
        if f["required"]:
            flags.setdefault("required-missing", []).append(raw.is_null())
        if f["type"] in ("code", "code_list"):
            key = "defaulted-code" if f["default"] is not None else "invalid-code"
            flags.setdefault(key, []).append(code_invalid(raw, f))
        elif f["type"] == "date":
            plausible, anything = dates(raw, f["formats"])
            parsed += [plausible.alias(name), anything.alias(f"any_{name}")]
        elif f["type"] == "integer":
            number = raw.str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)
            number = pl.when(number >= 0).then(number)
            parsed.append(number.alias(name))
            flags.setdefault("invalid-integer", []).append(raw.is_not_null() & number.is_null())
        elif name in dict(IDENTIFIERS) or name == "home_postcode":
            parsed.append(identifier(name, raw).alias(name))
    lf = lf.with_columns(parsed)
    for name, f in fields.items():
        if f["type"] == "date":
            raw, value, anything = pl.col(f"raw_{name}"), pl.col(name), pl.col(f"any_{name}")
            flags.setdefault("invalid-date", []).append(raw.is_not_null() & anything.is_null())
            flags.setdefault("implausible-date", []).append(
                value.is_null() & anything.is_not_null()
            )
    _identifier_flags(fields, spec, flags)
    columns = []
    for code, exprs in flags.items():
        columns += [e.fill_null(False).alias(f"{code}#{i}") for i, e in enumerate(exprs)]
    return lf.with_columns(columns)


def _identifier_flags(
    fields: dict[str, dict[str, Any]], spec: dict[str, Any], flags: dict[str, list[pl.Expr]]
) -> None:
    present = set(fields)
    if "nhs_number" in present:
        nhs = pl.col("nhs_number")
        bad = pl.col("raw_nhs_number").is_not_null() & ~nhs_valid(nhs)
        flags["nhs-number-invalid"] = [bad]
        if not spec["allow_test_nhs"]:
            flags["nhs-number-test-range"] = [~bad & nhs.str.starts_with("999")]
    if "home_postcode" in present:
        pc = pl.col("home_postcode")
        flags["postcode-invalid"] = [
            pl.col("raw_home_postcode").is_not_null() & ~pc.str.contains(POSTCODE)
        ]
    if "la_child_id" in present:
        raw = pl.col("raw_la_child_id")
        flags["la-child-id-invalid"] = [raw.is_not_null() & ~raw.str.contains(LA_CHILD_ID)]
    dup_id = pl.lit(False)
    if "record_id" in present:
        rid = pl.col("raw_record_id")
        dup_id = rid.is_not_null() & ~rid.is_first_distinct()
        flags["invalid-record-id"] = [
            rid.is_not_null() & ~rid.str.contains(spec["record_id_pattern"])
        ]
        flags["duplicate-record-id"] = [dup_id]
    ids = [(n, b) for n, b in IDENTIFIERS if n in present]
    if ids and "episode_start_date" in present:
        key = pl.coalesce([pl.format(f"{b}:{{}}", pl.col(n)) for n, b in ids])
        start = pl.col("episode_start_date")
        first = pl.struct(key.alias("k"), start.alias("s")).is_first_distinct()
        flags["duplicate-episode"] = [key.is_not_null() & start.is_not_null() & ~first & ~dup_id]
    if {"episode_start_date", "episode_end_date"} <= present:
        flags["end-before-start"] = [pl.col("episode_end_date") < pl.col("episode_start_date")]


def counts(lf: pl.LazyFrame, spec: dict[str, Any]) -> pl.LazyFrame:
    """One row: rows read, failures per check (summed over fields), nulls per field."""
    names = lf.collect_schema().names()
    codes = sorted({c.split("#")[0] for c in names if "#" in c})
    return lf.select(
        pl.len().alias("rows"),
        *[
            pl.sum_horizontal([pl.col(c).sum() for c in names if c.split("#")[0] == code]).alias(
                code
            )
            for code in codes
        ],
        *[pl.col(f"raw_{n}").null_count().alias(f"null:{n}") for n in spec["fields"]],
    )


ERRORS = (
    "required-missing",
    "invalid-code",
    "invalid-date",
    "implausible-date",
    "invalid-integer",
    "invalid-record-id",
    "nhs-number-invalid",
    "la-child-id-invalid",
    "postcode-invalid",
    "duplicate-record-id",
    "end-before-start",
)


def validate(path: Path, spec: dict[str, Any]) -> dict[str, int]:
    """Run the checks on one file; return the counts."""
    row = counts(checked(scan(path, spec), spec), spec).collect().row(0, named=True)
    return {k: int(v) for k, v in row.items()}


# --- harmonise: the same checks, then keyed pseudonyms and Parquet --------------------------


def hmac_sha256(key: bytes, message: pl.Expr) -> pl.Expr:
    """HMAC-SHA-256 (RFC 2104) of a String expression, as hex, with polars_hash."""
    import polars_hash as plh

    block = key.ljust(64, b"\0")
    ipad = pl.lit(bytes(b ^ 0x36 for b in block).hex())
    opad = pl.lit(bytes(b ^ 0x5C for b in block).hex())
    inner_bytes = pl.concat_str([ipad, message.str.encode("hex")]).str.decode("hex")
    inner_hex = plh.CryptographicHashingNameSpace(inner_bytes).sha2_256()
    outer_bytes = pl.concat_str([opad, inner_hex]).str.decode("hex")
    return plh.CryptographicHashingNameSpace(outer_bytes).sha2_256()


def harmonise_file(path: Path, spec: dict[str, Any], key: bytes, out: Path) -> tuple[int, int]:
    """Check one file, split accepted from rejected rows, pseudonymise, write Parquet."""
    fields = spec["fields"]
    lf = checked(scan(path, spec), spec)
    names = lf.collect_schema().names()
    failed = pl.any_horizontal([pl.col(c) for c in names if c.split("#")[0] in ERRORS])
    ids = [(n, b) for n, b in IDENTIFIERS if n in fields]
    message = pl.coalesce([pl.format(f"{b}:{{}}", pl.col(n)) for n, b in ids])
    keep = [
        n
        for n, f in fields.items()
        if f["type"] in ("date", "integer") and n not in ("date_of_birth",)
    ]
    codes = [
        norm(pl.col(f"raw_{n}")).replace_strict(f["codes"], default=None).alias(n)
        for n, f in fields.items()
        if f["type"] == "code" and f["split"] is None
    ]
    frame = lf.with_columns(failed.alias("_failed")).collect()
    accepted = (
        frame.lazy()
        .filter(~pl.col("_failed"))
        .select(
            pl.col("_row").alias("source_row"),
            hmac_sha256(key, message).alias("person_key"),
            *codes,
            *keep,
            pl.lit(spec["agency"]).alias("agency_id"),
        )
    )
    rejected = frame.filter(pl.col("_failed")).select(
        pl.col("_row").alias("source_row"), pl.col("raw_record_id").alias("record_id")
    )
    out.mkdir(parents=True, exist_ok=True)
    accepted.sink_parquet(out / f"{path.stem}.parquet", compression="zstd")
    rejected.write_parquet(out / f"{path.stem}.rejected.parquet")
    return frame.height - rejected.height, rejected.height


# --- report: one scan of the store ---------------------------------------------------------


def scan_store(store: Path) -> dict[str, int]:
    """Count the store's rows and group them once (the floor for ``tce report``)."""
    files = sorted(str(p) for p in store.glob("period=*/agency=*/*.parquet"))
    lf = pl.scan_parquet(files)
    rows = lf.select(pl.len()).collect().item()
    groups = (
        lf.group_by("reporting_period", "local_authority_code", "primary_exploitation_type")
        .agg(pl.col("person_key").n_unique())
        .collect()
    )
    return {"rows": int(rows), "groups": groups.height}


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "validate":
        path, spec = Path(args[0]), json.loads(Path(args[1]).read_text())
        print(json.dumps(validate(path, spec)))
    elif command == "harmonise":
        out, key = Path(args[0]), bytes.fromhex(args[1])
        pairs = list(zip(args[2::2], args[3::2], strict=True))
        totals = [
            harmonise_file(Path(f), json.loads(Path(s).read_text()), key, out) for f, s in pairs
        ]
        print(
            json.dumps(
                {"accepted": sum(a for a, _ in totals), "rejected": sum(r for _, r in totals)}
            )
        )
    elif command == "scan":
        print(json.dumps(scan_store(Path(args[0]))))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
