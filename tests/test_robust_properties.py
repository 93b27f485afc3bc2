"""Properties that must hold for any data, checked with Hypothesis on generated returns.

- Every row is accounted for: rows read = accepted + rejected, and the accepted and rejected
  source rows are exactly the rows written (no row lost, none counted twice).
- Harmonise then ``export --format csv`` gives back the shared fields' values.
- The same input and key always give the same pseudonyms (whatever the row order or file
  format); another key gives none of them.
- Disclosure control never publishes a count from 1 to the threshold, never suppresses a true
  zero, and leaves no suppressed count recoverable from the published totals, also in linked
  tables sharing margins and in a three-level hierarchy (checked with an independent solver).

Examples are bounded so the suite stays fast; hunt longer by hand with, e.g.,
``TCE_PROPERTY_EXAMPLES=1000 .venv/bin/pytest tests/test_robust_properties.py``.
"""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
from collections.abc import Hashable, Sequence
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _robust import MINI_HEADER, MINI_MAPPING, nhs_numbers_999
from tce_cli.export import ExportFormat, export_period
from tce_cli.harmonise import harmonise_file, run_harmonise
from tce_cli.mapping import load_mapping
from tce_cli.periods import parse_period
from tce_cli.pipeline import check_file
from tce_cli.pseudonymise import add_person_key
from tce_cli.report import Constraint, recoverable, suppress
from tce_cli.safe_io import neutralise_formula
from tce_cli.store import Store

PERIOD = parse_period("2026-27 Q2")
TODAY = date(2026, 11, 25)
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
COLUMNS = MINI_HEADER.split(",")
NHS = nhs_numbers_999(1000, 40)
EXAMPLES = int(os.environ.get("TCE_PROPERTY_EXAMPLES", "15"))  # more by hand: e.g. 1000
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- generated returns in the mini layout (tests/fixtures/validate/mini.yaml) -------------------

junk = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
ddmmyyyy = st.dates(date(2005, 1, 1), date(2026, 9, 30)).map(lambda d: d.strftime("%d/%m/%Y"))
recent = st.dates(date(2024, 1, 1), date(2026, 9, 30)).map(lambda d: d.strftime("%d/%m/%Y"))
count = st.integers(0, 20).map(str)


def _mostly(valid: st.SearchStrategy[str], *extra: str) -> st.SearchStrategy[str]:
    """Usually a valid value; sometimes blank, one of ``extra``, or anything at all."""
    return st.one_of(valid, valid, valid, st.sampled_from(["", *extra]), junk)


CELL: dict[str, st.SearchStrategy[str]] = {
    "Ref": _mostly(st.from_regex(r"R[0-9]{1,6}", fullmatch=True), "-R1", "=R1"),
    "Child ID": _mostly(st.from_regex(r"C[0-9]{1,6}", fullmatch=True)),
    "NHS No": _mostly(st.sampled_from(NHS), "943 476 5919", "123"),
    "UPN": st.just(""),
    "Name": junk,
    "DOB": _mostly(ddmmyyyy, "31/02/2012", "03/05/10"),
    "Postcode": _mostly(st.sampled_from(["M14 5RX", "BL1 1AA", "WN1 2DA"]), "NOT A PC"),
    "Extracted": st.just("10/10/2026"),
    "Gender": _mostly(st.sampled_from(["Boy", "Girl"]), "Mle"),
    "Ethnicity": _mostly(st.sampled_from(["WBRI", "ABAN", "MWBC"]), "ZZZZ"),
    "Status": _mostly(st.sampled_from(["Looked after", "Child in need", "None"])),
    "Types": _mostly(st.sampled_from(["Sexual", "Criminal", "Criminal;County Lines"])),
    "Risk": _mostly(st.sampled_from(["Significant", "Moderate", "Low"])),
    "Assessed": _mostly(recent),
    "Referred by": _mostly(st.sampled_from(["Police", "School"])),
    "Opened": _mostly(recent, "31/31/2026"),
    "Closed": st.one_of(st.just(""), st.just(""), recent),
    "Outcome": st.sampled_from(["", "Risk reduced"]),
    "Missing": _mostly(count, "several", "-1"),
    "RHI offered": st.one_of(st.just(""), count),
    "RHI done": st.just(""),
    "RHI 72h": st.just(""),
    "NRM": st.sampled_from(["No", "Referred", ""]),
    "NRM date": st.one_of(st.just(""), recent),
    "Notes": junk,
}
assert list(CELL) == COLUMNS
row = st.tuples(*(CELL[c] for c in COLUMNS)).map(list)
blank_row = st.just([""] * len(COLUMNS))
rows = st.lists(st.one_of(row, row, row, blank_row), min_size=0, max_size=25)
line_ends = st.sampled_from(["\n", "\r\n"])


def _field(value: str) -> str:
    """RFC 4180: quote a value holding a delimiter, a quote or any line break (Python's csv
    module leaves a lone CR unquoted when rows end in LF, and a reader must then take it
    for a row break, as Excel does)."""
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def write_csv(folder: Path, data: Sequence[Sequence[str]], eol: str = "\n") -> Path:
    lines = [",".join(_field(v) for v in cells) for cells in [COLUMNS, *data]]
    path = folder / "mini_2026-27Q2.csv"
    path.write_bytes((eol.join(lines) + eol).encode("utf-8"))
    return path


def _is_blank(cells: Sequence[str]) -> bool:
    return all(not c.strip() for c in cells)


def _mapping_with_header_row(folder: Path) -> Path:
    """The mini mapping with the header row fixed, so rows of junk are never taken for it."""
    text = MINI_MAPPING.read_text("utf-8").replace(
        'source: {match: "mini_*.csv"}', 'source: {match: "mini_*.csv", header_row: 1}'
    )
    path = folder / "mini.yaml"
    path.write_text(text, "utf-8")
    return path


@FAST
@given(data=rows, eol=line_ends)
def test_every_row_is_accounted_for(data: list[list[str]], eol: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(Path(folder), data, eol)
        mapping_path = _mapping_with_header_row(Path(folder))
        result = check_file(path, mapping=load_mapping(mapping_path), period=PERIOD, today=TODAY)
        harmonised = harmonise_file(result, key=KEY)
    read, accepted, rejected = harmonised.counts
    assert read == accepted + rejected
    expected = len(data)
    while expected and _is_blank(data[expected - 1]):  # trailing blank rows are not rows
        expected -= 1
    assert read == expected
    kept = set(harmonised.accepted["source_row"].to_list())
    dropped = set(harmonised.rejected["source_row"].to_list())
    assert not kept & dropped
    assert kept | dropped == set(range(2, 2 + read))  # Excel rows: header is row 1
    blank = {i + 2 for i, cells in enumerate(data[:read]) if _is_blank(cells)}
    assert blank <= dropped


# --- harmonise -> store -> export round trip ----------------------------------------------------

valid_row = st.fixed_dictionaries(
    {
        "Ref": st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,12}", fullmatch=True),
        "NHS No": st.sampled_from(NHS),
        "Gender": st.sampled_from(["Boy", "Girl"]),
        "Types": st.sampled_from(["Sexual", "Criminal", "Criminal;County Lines"]),
        "Risk": st.sampled_from(["Significant", "Moderate", "Low"]),
        "Opened": st.dates(date(2025, 1, 1), date(2026, 9, 1)),
        "Missing": st.integers(0, 50),
        "DOB": st.dates(date(2010, 1, 1), date(2014, 12, 31)),
    }
)
SEX = {"Boy": "M", "Girl": "F"}
TYPES = {"Sexual": "CSE", "Criminal": "CCE", "County Lines": "CL"}
RISK = {"Significant": "HIGH", "Moderate": "MEDIUM", "Low": "LOW"}


def _cells(r: dict[str, object]) -> list[str]:
    opened = r["Opened"]
    dob = r["DOB"]
    assert isinstance(opened, date) and isinstance(dob, date)
    values = {
        **dict.fromkeys(COLUMNS, ""),
        "Ref": str(r["Ref"]),
        "NHS No": str(r["NHS No"]),
        "DOB": dob.strftime("%d/%m/%Y"),
        "Extracted": "10/10/2026",
        "Gender": str(r["Gender"]),
        "Ethnicity": "WBRI",
        "Status": "Child in need",
        "Types": str(r["Types"]),
        "Risk": str(r["Risk"]),
        "Assessed": (opened + timedelta(days=1)).strftime("%d/%m/%Y"),
        "Referred by": "Police",
        "Opened": opened.strftime("%d/%m/%Y"),
        "Missing": str(r["Missing"]),
        "RHI offered": str(r["Missing"]),
        "RHI done": str(r["Missing"]),
        "RHI 72h": str(r["Missing"]),
        "NRM": "No",
    }
    return [values[c] for c in COLUMNS]


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(
        valid_row,
        min_size=1,
        max_size=12,
        unique_by=(lambda r: r["Ref"], lambda r: r["NHS No"]),
    )
)
def test_harmonise_then_export_round_trips_shared_fields(data: list[dict[str, object]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_csv(folder, [_cells(r) for r in data])
        mapping_path = _mapping_with_header_row(folder)
        run_harmonise(
            [path],
            period=PERIOD,
            store_root=folder / "store",
            mapping_path=mapping_path,
            mappings_dir=folder,
            key=KEY,
            key_fingerprint="sha256:test",
            today=TODAY,
            generated_at=datetime(2026, 11, 25, tzinfo=UTC),
        )
        out = export_period(Store(folder / "store"), PERIOD, ExportFormat.CSV, folder / "x.csv")
        exported = pl.read_csv(out.path, infer_schema=False)
    by_row = {int(r["source_row"]): r for r in exported.iter_rows(named=True)}
    assert sorted(by_row) == list(range(2, 2 + len(data)))  # valid rows are all kept
    for i, r in enumerate(data):
        got = by_row[i + 2]
        opened = r["Opened"]
        assert isinstance(opened, date)
        assert got["record_id"] == neutralise_formula(str(r["Ref"]))
        assert got["sex"] == SEX[str(r["Gender"])]
        assert got["risk_level"] == RISK[str(r["Risk"])]
        assert got["exploitation_types"] == ";".join(TYPES[t] for t in str(r["Types"]).split(";"))
        assert got["episode_start_date"] == opened.isoformat()
        assert got["missing_episodes_count"] == str(r["Missing"])
        assert got["agency_id"] == "mini-csc"
        assert len(got["person_key"]) == 64


# --- pseudonyms --------------------------------------------------------------------------------

identifiers = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(NHS), st.just("")),
        st.one_of(st.from_regex(r"C[0-9]{1,6}", fullmatch=True), st.just("")),
    ),
    min_size=1,
    max_size=20,
)


def _mapped(folder: Path, ids: Sequence[tuple[str, str]]) -> pl.LazyFrame:
    """The identifiers as harmonise sees them: written to a mini return, read and mapped."""
    cells = []
    for i, (nhs, child) in enumerate(ids):
        values = dict.fromkeys(COLUMNS, "")
        values |= {"Ref": f"R{i}", "NHS No": nhs, "Child ID": child, "Extracted": "10/10/2026"}
        cells.append([values[c] for c in COLUMNS])
    path = write_csv(folder, cells)
    mapping = load_mapping(_mapping_with_header_row(folder))
    result = check_file(path, mapping=mapping, period=PERIOD, today=TODAY)
    return result.mapped.lazy().select("nhs_number", "la_child_id")


def _keys(
    mapped: pl.LazyFrame, ids: Sequence[tuple[str, str]], key: bytes
) -> dict[tuple[str, str], str]:
    keyed = add_person_key(mapped, key).collect()
    pairs = zip(ids, keyed["person_key"].to_list(), strict=True)
    return {ident: k for ident, k in pairs if k is not None}


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(ids=identifiers, seed=st.randoms(use_true_random=False))
def test_same_input_and_key_give_the_same_pseudonyms(
    ids: list[tuple[str, str]], seed: random.Random
) -> None:
    shuffled = list(ids)
    seed.shuffle(shuffled)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        mapped = _mapped(Path(a), ids)
        first = _keys(mapped, ids, KEY)
        again = _keys(_mapped(Path(b), shuffled), shuffled, KEY)
        other = _keys(mapped, ids, OTHER_KEY)
    assert first == again  # deterministic, whatever the row order
    for (nhs, child), k in first.items():
        assert len(k) == 64 and int(k, 16) >= 0
        for message in (f"NHS:{nhs}", f"LA_ID:{child}", nhs, child):  # keyed, not a bare hash
            assert k != hashlib.sha256(message.encode()).hexdigest()
    if first:
        assert not set(first.values()) & set(other.values())  # another key links nothing
    by_id: dict[str, set[str]] = {}
    for (nhs, child), k in first.items():
        by_id.setdefault(nhs or f"child:{child}", set()).add(k)
    assert all(len(v) == 1 for v in by_id.values())  # one child, one key


# --- disclosure control --------------------------------------------------------------------------

counts = st.sampled_from([0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 15, 30])


def _grid(
    name: str, body: Sequence[Sequence[int]], row_totals: Sequence[Hashable] | None = None
) -> tuple[dict[Hashable, int], list[Constraint[Hashable]]]:
    """A table with row and column totals (``row_totals`` names cells shared with another
    table, so two tables can share a margin)."""
    n, m = len(body), len(body[0])
    values: dict[Hashable, int] = {}
    total_of_row = list(row_totals) if row_totals else [(name, i, "T") for i in range(n)]
    for i in range(n):
        for j in range(m):
            values[name, i, j] = body[i][j]
        values[total_of_row[i]] = sum(body[i])
    for j in range(m):
        values[name, "T", j] = sum(body[i][j] for i in range(n))
    values["grand"] = sum(sum(r) for r in body)
    eqs: list[Constraint[Hashable]] = [
        Constraint(total_of_row[i], tuple((name, i, j) for j in range(m))) for i in range(n)
    ]
    eqs += [Constraint((name, "T", j), tuple((name, i, j) for i in range(n))) for j in range(m)]
    eqs.append(Constraint("grand", tuple(total_of_row)))
    eqs.append(Constraint("grand", tuple((name, "T", j) for j in range(m))))
    return values, eqs


def _determined(eqs: Sequence[Constraint[Hashable]], hidden: set[Hashable]) -> set[Hashable]:
    """Hidden cells whose value follows from the equations: x_k is determined exactly when
    adding the equation x_k = 0 does not raise the rank of the hidden-cell system (an
    independent check of tce_cli.report.recoverable, by plain Gaussian elimination)."""
    unknowns = sorted({k for c in eqs for k in c.cells if k in hidden}, key=repr)
    index = {k: i for i, k in enumerate(unknowns)}
    matrix: list[list[Fraction]] = []
    for c in eqs:
        line = [Fraction(0)] * len(unknowns)
        for k in c.parts:
            if k in index:
                line[index[k]] += 1
        if c.total in index:
            line[index[c.total]] -= 1
        matrix.append(line)
    base = _rank(matrix)
    out = set()
    for k, i in index.items():
        unit = [Fraction(0)] * len(unknowns)
        unit[i] = Fraction(1)
        if _rank([*matrix, unit]) == base:
            out.add(k)
    return out


def _rank(matrix: list[list[Fraction]]) -> int:
    rows = [r[:] for r in matrix if any(r)]
    rank, col = 0, 0
    width = len(rows[0]) if rows else 0
    while rank < len(rows) and col < width:
        pivot = next((i for i in range(rank, len(rows)) if rows[i][col]), None)
        if pivot is None:
            col += 1
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for i in range(len(rows)):
            if i != rank and rows[i][col]:
                f = rows[i][col] / rows[rank][col]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[rank], strict=True)]
        rank += 1
        col += 1
    return rank


def _check_suppression(
    values: dict[Hashable, int], eqs: list[Constraint[Hashable]], threshold: int
) -> None:
    result = suppress(values, eqs, threshold)
    hidden = set(result.cells)
    published = {k: v for k, v in values.items() if k not in hidden}
    assert not [k for k, v in published.items() if 1 <= v <= threshold]
    assert not [k for k in hidden if values[k] == 0]  # true zeros stay
    assert not result.unprotected
    assert not recoverable(values, eqs, hidden)
    assert not _determined(eqs, hidden)  # the independent solver agrees


bodies = st.integers(2, 4).flatmap(
    lambda n: st.integers(2, 4).flatmap(
        lambda m: st.lists(st.lists(counts, min_size=m, max_size=m), min_size=n, max_size=n)
    )
)


@settings(max_examples=EXAMPLES + 20, deadline=None)
@given(a=bodies, data=st.data(), threshold=st.sampled_from([3, 5, 10]))
def test_linked_tables_sharing_a_margin_leak_nothing(
    a: list[list[int]], data: st.DataObject, threshold: int
) -> None:
    """Two tables (LA x type, LA x sex) publish the same LA totals; a cell hidden in one must
    not be recoverable by combining both."""
    n = len(a)
    b = []  # each LA's total split three ways (by sex), so the shared totals agree
    for i in range(n):
        total = sum(a[i])
        cuts = sorted(data.draw(st.lists(st.integers(0, total), min_size=2, max_size=2)))
        b.append([cuts[0], cuts[1] - cuts[0], total - cuts[1]])
    shared = [("LA", i) for i in range(n)]
    va, ea = _grid("type", a, shared)
    vb, eb = _grid("sex", b, shared)
    assert all(va[k] == vb[k] for k in shared) and va["grand"] == vb["grand"]
    _check_suppression(va | vb, ea + eb, threshold)


@settings(max_examples=EXAMPLES + 20, deadline=None)
@given(
    leaves=st.lists(st.lists(counts, min_size=2, max_size=4), min_size=2, max_size=4),
    threshold=st.sampled_from([5]),
)
def test_a_three_level_hierarchy_leaks_nothing(leaves: list[list[int]], threshold: int) -> None:
    """Region = sum of areas, area = sum of teams: a total and all but one part published
    would give the last part away, at any level."""
    values: dict[Hashable, int] = {}
    eqs: list[Constraint[Hashable]] = []
    for i, teams in enumerate(leaves):
        for j, v in enumerate(teams):
            values["team", i, j] = v
        values["area", i] = sum(teams)
        eqs.append(Constraint(("area", i), tuple(("team", i, j) for j in range(len(teams)))))
    values["region"] = sum(values["area", i] for i in range(len(leaves)))
    eqs.append(Constraint("region", tuple(("area", i) for i in range(len(leaves)))))
    _check_suppression(values, eqs, threshold)
