"""Run every benchmark: tce against the plain Polars reference, median of N runs, peak memory.

Each command runs as its own process (``os.wait4`` gives that process's peak RSS and CPU time),
so tce and the reference are measured alike, start-up included. Prints a Rich table and writes
``benchmarks/results/latest.json`` and ``benchmarks/results/<date>.md``.

Cases (sizes are multiplied by ``--scale``; ``--scale 0.01`` is a quick smoke run):

- validate: ``tce validate`` on a 100k and a 1M row CSV (Bolton layout) and a 100k row XLSX
  (Wigan layout: title rows, date and number cells), against ``reference.py validate``;
- harmonise: ``tce harmonise`` of 10 CSV files totalling 1M rows in the four CSV layouts,
  against the same checks plus HMAC (polars_hash) and a Parquet write in plain Polars;
- report: ``tce report`` on a store of 8 quarters x 1M rows, against one scan of that store
  (row count and one group_by);
- start-up: ``tce --help`` against ``python -c pass``.

Generated files and the store are cached in ``benchmarks/data/`` (git-ignored); delete it to
start again. Usage: ``make bench`` or ``.venv/bin/python -m benchmarks.run [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import gen

ROOT = gen.ROOT
RESULTS = ROOT / "benchmarks" / "results"
BIN = Path(sys.executable).parent
TCE = BIN / "tce"
PERIOD = gen.TEMPLATE_PERIOD
QUARTERS = 8
STAMP = "2026-11-25T09:00:00+00:00"


@dataclass
class Run:
    """One process: wall seconds, CPU seconds (user + system), peak RSS in MB, exit code."""

    wall: float
    cpu: float
    rss_mb: float
    returncode: int


@dataclass
class Measured:
    """Median wall time, CPU time and peak RSS over repeated runs of one command."""

    runs: list[Run] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def rss_mb(self) -> float:
        return statistics.median(r.rss_mb for r in self.runs)


# A tiny launcher process runs each command: a child's peak RSS starts at its parent's RSS
# when it forks, and this script holds generated data, so measuring its own children would
# overstate small commands. The launcher (a bare Python, ~10 MB) spawns the command, waits
# for it and writes wall seconds, CPU seconds, peak RSS (KB) and the exit code to a file.
_LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    json.dump([wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
               os.waitstatus_to_exitcode(status)], out)
"""


def measure(command: Sequence[str | Path], *, ok: Sequence[int] = (0,)) -> Run:
    """Run ``command`` once (cwd = repo root, stdout discarded) and measure it.

    Raises:
        RuntimeError: the exit code is not one of ``ok`` (stderr is shown).
    """
    report = gen.DATA / ".measure.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, str(report), *[str(c) for c in command]],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100"},
        check=False,
    )
    wall, cpu, rss_kb, code = json.loads(report.read_text())
    report.unlink()
    if code not in ok:
        shown = " ".join(str(c) for c in command)
        raise RuntimeError(f"{shown} exited {code}:\n{proc.stderr.decode(errors='replace')}")
    return Run(wall, cpu, rss_kb / 1024, code)


def pair(
    first: Sequence[str | Path],
    second: Sequence[str | Path] | None,
    times: int,
    *,
    before: Callable[[], None] | None = None,
    ok: Sequence[int] = (0,),
) -> tuple[Measured, Measured]:
    """Run two commands ``times`` times each, alternately (so a change in the machine's load
    hits both alike); ``before`` runs (untimed) before every run."""
    a, b = Measured(), Measured()
    for _ in range(times):
        for command, out in ((first, a), (second, b)):
            if command is None:
                continue
            if before is not None:
                before()
            out.runs.append(measure(command, ok=ok if out is a else (0,)))
    return a, b


@dataclass
class Case:
    """One benchmark: tce and the reference on the same input."""

    name: str
    what: str
    tce: Measured
    reference: Measured
    target_time: float | None = None
    target_rss: float | None = None
    absolute: bool = False
    """True when the target is a difference in seconds (start-up), not a ratio."""

    @property
    def ratio(self) -> float:
        return self.tce.wall / self.reference.wall

    @property
    def rss_ratio(self) -> float:
        return self.tce.rss_mb / self.reference.rss_mb

    @property
    def excess(self) -> float:
        return self.tce.wall - self.reference.wall

    def met(self) -> bool | None:
        if self.target_time is None:
            return None
        value = self.excess if self.absolute else self.ratio
        ok = value <= self.target_time
        if self.target_rss is not None:
            ok = ok and self.rss_ratio <= self.target_rss
        return ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "what": self.what,
            "tce": _summary(self.tce),
            "reference": _summary(self.reference),
            "ratio_wall": round(self.ratio, 3),
            "ratio_rss": round(self.rss_ratio, 3),
            "excess_wall_s": round(self.excess, 3),
            "target_time": self.target_time,
            "target_rss": self.target_rss,
            "target_is_seconds": self.absolute,
            "met": self.met(),
        }


def _summary(m: Measured) -> dict[str, Any]:
    return {
        "wall_s": round(m.wall, 3),
        "cpu_s": round(m.cpu, 3),
        "peak_rss_mb": round(m.rss_mb, 1),
        "runs": [asdict(r) for r in m.runs],
    }


# --- inputs ----------------------------------------------------------------------------------


def spec_file(agency: str) -> Path:
    """The reference's layout spec for ``agency`` (JSON, cached next to the data)."""
    path = gen.DATA / f"{agency}.spec.json"
    if agency not in _SPECS_WRITTEN:  # once per run, so a changed mapping is picked up
        gen.DATA.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(gen.reference_spec(agency), indent=1))
        _SPECS_WRITTEN.add(agency)
    return path


_SPECS_WRITTEN: set[str] = set()


def harmonise_inputs(total: int, quarters_back: int = 0) -> list[tuple[str, Path]]:
    """10 files totalling ``total`` rows, cycling through the four CSV layouts."""
    files = []
    for i in range(10):
        agency = gen.CSV_AGENCIES[i % len(gen.CSV_AGENCIES)]
        seed = gen.SEED + i
        path = gen.make(agency, total // 10, seed=seed, quarters_back=quarters_back)
        files.append((agency, path))
    return files


def key_file() -> Path:
    path = gen.DATA / "bench.key"
    if not path.exists():
        path.write_text("ab" * 32 + "\n")
    return path


def build_store(rows_per_quarter: int) -> Path:
    """A store of 8 quarters (``tce harmonise`` of 10 files per quarter), cached."""
    store = gen.DATA / f"store-{QUARTERS}q-{gen._size(rows_per_quarter)}"
    done = store / ".bench-complete"
    if done.exists():
        return store
    shutil.rmtree(store, ignore_errors=True)
    for back in reversed(range(QUARTERS)):
        inputs = [p for _, p in harmonise_inputs(rows_per_quarter, back)]
        command = [TCE, "harmonise", *inputs, "--period", gen.period_label(back)]
        command += ["--store", store, "--key-file", key_file(), "--mappings", "mappings", "-q"]
        command += ["--generated-at", STAMP]
        print(f"  building store: {gen.period_label(back)} ({len(inputs)} files)", flush=True)
        measure(command)
        if back:  # inputs of earlier quarters are only needed for the store
            for path in inputs:
                path.unlink()
                path.with_name(path.name + ".meta.json").unlink()
    done.write_text("ok\n")
    return store


# --- cases -----------------------------------------------------------------------------------


def validate_case(name: str, agency: str, rows: int, times: int, target: float | None) -> Case:
    path = gen.make(agency, rows)
    ref = [sys.executable, "-m", "benchmarks.reference", "validate", path, spec_file(agency)]
    command = [TCE, "validate", path, "--mappings", "mappings"]
    tce, reference = pair(command, ref, times, ok=(0, 1))
    what = f"tce validate, {rows:,} rows {path.suffix[1:].upper()} ({agency} layout)"
    return Case(name, what, tce, reference, target, 1.25 if name == "validate-csv-1m" else None)


def harmonise_case(rows: int, times: int) -> Case:
    inputs = harmonise_inputs(rows)
    store, out = gen.DATA / "bench-store", gen.DATA / "bench-reference-out"

    def clean() -> None:
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)

    command = [TCE, "harmonise", *[p for _, p in inputs], "--period", PERIOD, "--store", store]
    command += ["--key-file", key_file(), "--mappings", "mappings", "-q", "--generated-at", STAMP]
    ref: list[str | Path] = [sys.executable, "-m", "benchmarks.reference", "harmonise", out]
    ref.append("ab" * 32)
    for agency, path in inputs:
        ref += [path, spec_file(agency)]
    tce, reference = pair(command, ref, times, before=clean)
    clean()
    what = f"tce harmonise, 10 files, {rows:,} rows (4 CSV layouts)"
    return Case("harmonise-10-files", what, tce, reference, 3.0)


def report_case(rows_per_quarter: int, times: int) -> Case:
    store = build_store(rows_per_quarter)
    out = gen.DATA / "bench-report"
    command = [TCE, "report", "--period", PERIOD, "--store", store, "--out", out]
    command += ["--generated-at", STAMP, "-q"]
    scan = [sys.executable, "-m", "benchmarks.reference", "scan", store]
    tce, ref = pair(command, scan, times, before=lambda: shutil.rmtree(out, ignore_errors=True))
    shutil.rmtree(out, ignore_errors=True)
    what = f"tce report, store of {QUARTERS} quarters x {rows_per_quarter:,} rows"
    return Case("report-8-quarters", what, tce, ref, 2.0)


def startup_case(times: int) -> Case:
    tce, bare = pair([TCE, "--help"], [sys.executable, "-c", "pass"], times)
    return Case("startup", "tce --help vs python -c pass", tce, bare, 0.25, absolute=True)


# --- output ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import polars as pl

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpus": os.cpu_count(),
        "load_average_1m": round(load[0], 2),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "platform": platform.platform(),
    }


def show(cases: list[Case]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="tce vs plain Polars (median wall time, peak RSS)")
    for col in ("case", "tce s", "ref s", "ratio", "tce MB", "ref MB", "RSS ratio", "target"):
        table.add_column(col, justify="left" if col == "case" else "right")
    for c in cases:
        table.add_row(*_cells(c))
    Console(width=130).print(table)


def _cells(c: Case) -> list[str]:
    met = c.met()
    mark = "" if met is None else (" ✓" if met else " ✗")
    if c.absolute:
        ratio, target = f"+{c.excess:.2f} s", f"≤ +{c.target_time:g} s{mark}"
    else:
        ratio = f"{c.ratio:.2f}×"
        target = "" if c.target_time is None else f"≤ {c.target_time:g}×"
        if c.target_rss is not None:
            target += f", RSS ≤ {c.target_rss:g}×"
        target += mark
    return [
        c.name,
        f"{c.tce.wall:.2f}",
        f"{c.reference.wall:.2f}",
        ratio,
        f"{c.tce.rss_mb:.0f}",
        f"{c.reference.rss_mb:.0f}",
        f"{c.rss_ratio:.2f}×",
        target,
    ]


def markdown(cases: list[Case], info: dict[str, Any], command: str) -> str:
    lines = [
        f"# Benchmark results {info['date']}",
        "",
        f"`{command}` on {info['cpus']} CPUs, Python {info['python']}, Polars "
        f"{info['polars']}; load average at start {info['load_average_1m']}. "
        f"Median of {info['repeat']} runs (start-up: {info['repeat_startup']}); each run is "
        "a separate process, start-up included.",
        "",
        "| case | what | tce s | reference s | ratio | tce CPU s | ref CPU s | tce MB | "
        "ref MB | RSS ratio | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for c in cases:
        cells = _cells(c)
        lines.append(
            f"| {c.name} | {c.what} | {cells[1]} | {cells[2]} | {cells[3]} | {c.tce.cpu:.2f} | "
            f"{c.reference.cpu:.2f} | {cells[4]} | {cells[5]} | {cells[6]} | {cells[7]} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size by this")
    parser.add_argument(
        "--only", nargs="*", default=None, help="case names (prefixes) to run, default all"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    n = args.repeat

    def size(rows: int) -> int:
        return max(1000, int(rows * args.scale) // 1000 * 1000)

    def wanted(name: str) -> bool:
        return args.only is None or any(name.startswith(p) for p in args.only)

    plan: list[tuple[str, Callable[[], Case]]] = [
        ("startup", lambda: startup_case(max(10, n))),
        (
            "validate-csv-100k",
            lambda: validate_case("validate-csv-100k", "bolton-csc", size(100_000), n, None),
        ),
        (
            "validate-csv-1m",
            lambda: validate_case("validate-csv-1m", "bolton-csc", size(1_000_000), n, 1.5),
        ),
        (
            "validate-xlsx-100k",
            lambda: validate_case("validate-xlsx-100k", "wigan-csc", size(100_000), n, None),
        ),
        ("harmonise-10-files", lambda: harmonise_case(size(1_000_000), n)),
        ("report-8-quarters", lambda: report_case(size(1_000_000), n)),
    ]
    info = machine() | {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "repeat": n,
        "repeat_startup": max(10, n),
        "scale": args.scale,
    }
    cases: list[Case] = []
    failures: dict[str, str] = {}
    for name, run in plan:
        if not wanted(name):
            continue
        print(f"- {name} ...", flush=True)
        try:
            cases.append(run())
        except RuntimeError as exc:  # e.g. a command not working yet: note it, go on
            failures[name] = str(exc).strip()[-2000:]
            print(f"  FAILED: {failures[name]}", flush=True)
    show(cases)
    command = (
        "make bench"
        if args.scale == 1 and n == 3
        else " ".join(["python -m benchmarks.run", *(argv or sys.argv[1:])])
    )
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "cases": [c.as_dict() for c in cases], "failed": failures}
        (RESULTS / "latest.json").write_text(json.dumps(payload, indent=2) + "\n")
        md = markdown(cases, info, command)
        if failures:
            md += "\nFailed to run:\n\n" + "".join(
                f"- {k}: `{v.splitlines()[-1]}`\n" for k, v in failures.items()
            )
        (RESULTS / f"{info['date']}.md").write_text(md)
        print(f"Wrote {RESULTS / 'latest.json'} and {RESULTS / (info['date'] + '.md')}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
