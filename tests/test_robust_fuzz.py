"""Fuzzing the readers and ``tce validate`` with mutated example files.

A seeded RNG mutates the example exports (byte flips, truncations, inserted delimiters,
quotes, line breaks and NULs, deleted or repeated lines, swapped encodings, huge cells; for
workbooks, the same done to the sheet XML inside the zip) and runs ``tce validate`` (and now
and then ``tce inspect``) on each mutant. Anything but a clean exit 0/1/2 fails: a traceback,
an exception escaping, an "internal error", or a hang.

CI runs a small budget (40 mutants, stopping early after 15 s). Run longer by hand:

    TCE_FUZZ_N=5000 TCE_FUZZ_SECONDS=3600 TCE_FUZZ_SEED=7 .venv/bin/pytest tests/test_robust_fuzz.py

A failing mutant is kept in the test's tmp folder; the message names it and the seed.
"""

from __future__ import annotations

import io
import os
import random
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from _robust import EXAMPLES, MAPPINGS, MINI_CSV, MINI_MAPPING, PERIOD, invoke

N = int(os.environ.get("TCE_FUZZ_N", "40"))
SECONDS = float(os.environ.get("TCE_FUZZ_SECONDS", "15"))
SEED = int(os.environ.get("TCE_FUZZ_SEED", "20261125"))
SEED_LINES = 40  # example files are cut to their first lines: same layout, faster runs

_TOKENS = [b",", b";", b"\t", b"|", b'"', b'""', b"\n", b"\r", b"\r\n", b"\x00", b"\xff"]
_TOKENS += [b"\xef\xbb\xbf", b"=", b"\xc3", b"\xe2\x80", b"'", b" ", b"\x1b[31m", b"[/x]"]
_XML_TOKENS = [b"<", b">", b"&", b'"', b"</c>", b"<v>", b"\x00", b"\xff", b"&#0;", b"]]>"]


def _seeds() -> list[tuple[Path, Path, bytes]]:
    """(file name, mapping, original bytes) for the mini file and every latest example."""
    seeds = [(Path(MINI_CSV.name), MINI_MAPPING, MINI_CSV.read_bytes())]
    latest = sorted(EXAMPLES.iterdir())[-1]
    mappings = {
        "bolton": "bolton-csc.yaml",
        "gmp": "gmp.yaml",
        "mcc": "manchester-csc.yaml",
        "mft": "mft-health.yaml",
        "brightwater": "vcs-tracker.yaml",
        "wigan": "wigan-csc.yaml",
    }
    for path in sorted(latest.iterdir()):
        mapping = MAPPINGS / mappings[path.name.split("_")[0].lower()]
        data = path.read_bytes()
        if path.suffix != ".xlsx":
            data = b"".join(data.splitlines(keepends=True)[:SEED_LINES])
        else:
            data = _first_rows(data)
        seeds.append((Path(path.name), mapping, data))
    return seeds


def _first_rows(workbook: bytes) -> bytes:
    """The workbook with only its first rows on each sheet (title rows and header kept)."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(workbook))
    for ws in wb.worksheets:
        if ws.max_row > SEED_LINES:
            ws.delete_rows(SEED_LINES + 1, ws.max_row - SEED_LINES)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- mutations ---------------------------------------------------------------------------------


def _flip(rng: random.Random, data: bytearray) -> str:
    for _ in range(rng.randint(1, 8)):
        if data:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    return "flip"


def _truncate(rng: random.Random, data: bytearray) -> str:
    del data[rng.randrange(len(data) + 1) :]
    return "truncate"


def _insert(rng: random.Random, data: bytearray, tokens: list[bytes] = _TOKENS) -> str:
    for _ in range(rng.randint(1, 12)):
        i = rng.randrange(len(data) + 1)
        data[i:i] = rng.choice(tokens)
    return "insert"


def _delete(rng: random.Random, data: bytearray) -> str:
    if data:
        i = rng.randrange(len(data))
        del data[i : i + rng.randint(1, 200)]
    return "delete"


def _lines(rng: random.Random, data: bytearray) -> str:
    lines = bytes(data).splitlines(keepends=True)
    if len(lines) > 2:
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        choice = rng.randrange(3)
        if choice == 0:
            lines.insert(j, lines[i])
        elif choice == 1:
            lines[i], lines[j] = lines[j], lines[i]
        else:
            del lines[i]
    data[:] = b"".join(lines)
    return "lines"


def _encoding(rng: random.Random, data: bytearray) -> str:
    text = bytes(data).decode("utf-8", errors="replace")
    target = rng.choice(["utf-16", "utf-16-le", "cp1252", "latin-1", "utf-8-sig", "mid-bom"])
    if target == "mid-bom":
        i = rng.randrange(len(data) + 1)
        data[i:i] = b"\xef\xbb\xbf"
    else:
        data[:] = text.encode(target, errors="replace")
    return f"encoding:{target}"


def _huge_cell(rng: random.Random, data: bytearray) -> str:
    i = rng.randrange(len(data) + 1)
    data[i:i] = rng.choice([b"x", b'"', b",", b"\n"]) * rng.choice([1000, 70_000, 300_000])
    return "huge"


CSV_MUTATIONS: list[Callable[[random.Random, bytearray], str]] = [
    _flip,
    _truncate,
    _insert,
    _delete,
    _lines,
    _encoding,
    _huge_cell,
]


def _mutate_workbook(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Mutate the zip itself (mostly 'damaged workbook'), or an XML part inside it."""
    if rng.random() < 0.3:
        mutable = bytearray(data)
        how = rng.choice([_flip, _truncate, _delete])(rng, mutable)
        return bytes(mutable), f"zip-{how}"
    source = zipfile.ZipFile(io.BytesIO(data))
    names = [n for n in source.namelist() if n.endswith(".xml")]
    parts = [n for n in names if "worksheets/" in n or "sharedStrings" in n or "workbook" in n]
    target = rng.choice(parts or names)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name in source.namelist():
            body = bytearray(source.read(name))
            if name == target:
                how = rng.choice([_flip, _truncate, _delete, _insert])
                if how is _insert:
                    _insert(rng, body, _XML_TOKENS)
                else:
                    how(rng, body)
            out.writestr(name, bytes(body))
    return buffer.getvalue(), f"xml:{target}"


def mutate(rng: random.Random, name: Path, data: bytes) -> tuple[bytes, str]:
    if name.suffix == ".xlsx":
        return _mutate_workbook(rng, data)
    mutable = bytearray(data)
    done = [rng.choice(CSV_MUTATIONS)(rng, mutable) for _ in range(rng.randint(1, 3))]
    return bytes(mutable), "+".join(done)


# --- the run -----------------------------------------------------------------------------------


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_fuzz_readers_and_validate(work: Path) -> None:
    rng = random.Random(SEED)
    seeds = _seeds()
    started = time.monotonic()
    failures: list[str] = []
    ran = 0
    for n in range(N):
        if ran >= 10 and time.monotonic() - started > SECONDS:
            break
        name, mapping, original = seeds[n % len(seeds)]
        data, how = mutate(rng, name, original)
        folder = work / f"m{n:05d}"
        folder.mkdir()
        path = folder / name
        path.write_bytes(data)
        try:
            invoke(
                ["validate", path, "--mapping", mapping, "--period", PERIOD, "--show", "5"],
                timeout=60,
            )
            if n % 5 == 0:
                invoke(["inspect", path], timeout=60)
        except AssertionError as exc:
            failures.append(f"mutant {n} ({how}) of {name}, seed {SEED}: {path}\n{exc}")
            continue
        except Exception as exc:  # a hang or anything else: keep the mutant, report it
            failures.append(f"mutant {n} ({how}) of {name}, seed {SEED}: {path}\n{exc!r}")
            continue
        path.unlink()  # keep only failing mutants
        ran += 1
    assert not failures, "\n\n".join(failures[:5])
    assert ran >= min(N, 10)
