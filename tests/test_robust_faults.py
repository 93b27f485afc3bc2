"""Faults: a write that fails at any point changes nothing; a full disk, a read-only folder or a
second writer gives one clear ``Error:`` line and exit 2.

For each writer (the store, the report pack, export, the feedback workbook and findings file,
keygen, init) a first run counts every call to the low-level write steps (file writes, fsyncs,
renames, backups, folder creation); then the command is re-run failing at one of those calls at
a time: the first call of each kind, the last swap and the last step (``TCE_ROBUST_FULL=1``:
every call).
Every file under the store and the output folder is hashed before and after: they must be
byte-for-byte as they were, with no temporary or staging files left behind.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import openpyxl
import polars as pl
import pytest

from _robust import (
    EXAMPLES,
    FULL,
    MAPPINGS,
    MINI_CSV,
    MINI_MAPPING,
    PERIOD,
    ROOT,
    STAMP,
    invoke,
    snapshot,
    write_key,
)
from tce_cli import safe_io, store

# openpyxl's generators, cut short by an injected fault, complain when garbage-collected
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

LATEST = sorted(EXAMPLES.iterdir())[-1]
BOLTON = LATEST / f"bolton_complex_safeguarding_{LATEST.name}.csv"


class Faults:
    """Wrap write steps; count their calls, or raise on the ``fail_at``-th call."""

    def __init__(
        self,
        seams: list[tuple[Any, str]],
        fail_at: int | None = None,
        error: Callable[[], BaseException] = lambda: OSError(errno.EIO, "Input/output error"),
    ) -> None:
        self.seams = seams
        self.fail_at = fail_at
        self.error = error
        self.calls: list[str] = []

    @contextlib.contextmanager
    def active(self) -> Iterator[Faults]:
        with contextlib.ExitStack() as stack:
            for owner, name in self.seams:
                original = getattr(owner, name)
                label = f"{getattr(owner, '__name__', owner)}.{name}"
                stack.enter_context(mock.patch.object(owner, name, self._wrap(original, label)))
            yield self

    def _wrap(self, original: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(label)
            if len(self.calls) == self.fail_at:
                raise self.error()
            return original(*args, **kwargs)

        return wrapper


# The write steps every writer goes through (tce_cli.safe_io and the libraries under it).
COMMON = [
    (safe_io, "fsync_file"),
    (safe_io, "fsync_dir"),
    (safe_io, "_keep_copy"),
    (os, "replace"),
    (tempfile, "mkstemp"),
    (Path, "mkdir"),
    (Path, "write_bytes"),
]
STORE_SEAMS = [*COMMON, (store, "_write_parquet"), (pl.DataFrame, "write_csv")]
EXPORT_SEAMS = [
    *COMMON,
    (pl.LazyFrame, "sink_csv"),
    (pl.LazyFrame, "sink_parquet"),
    (openpyxl.Workbook, "save"),
]
FEEDBACK_SEAMS = [*COMMON, (openpyxl.Workbook, "save")]
KEY_SEAMS = [*COMMON, (os, "fsync"), (os, "open")]


def _fail_everywhere(
    args: list[Any],
    seams: list[tuple[Any, str]],
    watched: list[Path],
    *,
    only: Callable[[list[str]], list[int]] | None = None,
) -> int:
    """Run ``args`` once counting write steps, then once failing at each; return the count.

    The counting run's changes are undone first, so every failing run starts from the same
    state and would really change something if it got through.
    """
    backup = Path(tempfile.mkdtemp(prefix="tce-faults-"))
    for n, folder in enumerate(watched):
        if folder.exists():
            shutil.copytree(folder, backup / str(n), symlinks=True)
    counter = Faults(seams)
    with counter.active():
        invoke(args, codes=(0, 1))
    for n, folder in enumerate(watched):
        shutil.rmtree(folder, ignore_errors=True)
        if (backup / str(n)).exists():
            shutil.copytree(backup / str(n), folder, symlinks=True)
    shutil.rmtree(backup)
    assert counter.calls, "no write step seen: the seams are wrong"
    steps = len(counter.calls)
    for k in (only or (every_step if FULL else each_kind))(counter.calls):
        before = {str(p): snapshot(p) for p in watched}
        with Faults(seams, fail_at=k).active():
            result = invoke(args, codes=(2,))
        gc.collect()  # half-written zips complain when collected: here, not mid-import
        after = {str(p): snapshot(p) for p in watched}
        assert after == before, f"failing at step {k} ({counter.calls[k - 1]}) changed files"
        assert "Hint:" in result.stderr
    return steps


def every_step(calls: list[str]) -> list[int]:
    return list(range(1, len(calls) + 1))


def each_kind(calls: list[str]) -> list[int]:
    """The first call of each kind of write step, the first and last swap, and the very last
    step (1-based): before anything is in place, mid-swap, and after everything is."""
    first = {c: i for i, c in reversed(list(enumerate(calls, start=1)))}
    swaps = [i for i, c in enumerate(calls, start=1) if c == "os.replace"]
    return sorted({*first.values(), *swaps[-1:], len(calls)})


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TCE_KEY", raising=False)
    write_key(tmp_path)
    return tmp_path


def _harmonise_args(work: Path, path: Path = MINI_CSV, stamp: str = STAMP) -> list[Any]:
    mapping = MINI_MAPPING if path == MINI_CSV else MAPPINGS / "bolton-csc.yaml"
    return [
        "harmonise",
        path,
        "--mapping",
        mapping,
        "--period",
        PERIOD,
        "--store",
        work / "store",
        "--key-file",
        work / "robust.key",
        "--generated-at",
        stamp,
        "--quiet",
    ]


# --- interrupted writes --------------------------------------------------------------------------


def test_store_write_interrupted_anywhere_leaves_it_as_it_was(work: Path) -> None:
    invoke(_harmonise_args(work), codes=(0,))  # a store with one agency already in it
    invoke(_harmonise_args(work, BOLTON), codes=(0,))
    args = _harmonise_args(work, stamp="2026-11-26T09:00:00+00:00")  # replaces mini-csc
    steps = _fail_everywhere(args, STORE_SEAMS, [work / "store"])
    assert steps >= 10
    invoke(args, codes=(0,))  # and the store still works


@pytest.mark.parametrize("step", ["os.replace", "tce_cli.safe_io.fsync_dir"])
def test_ctrl_c_during_a_store_write_leaves_it_as_it_was(step: str, work: Path) -> None:
    invoke(_harmonise_args(work), codes=(0,))
    args = _harmonise_args(work, BOLTON)

    def last(calls: list[str]) -> list[int]:
        return [max(i for i, c in enumerate(calls, start=1) if c == step)]

    counter = Faults(STORE_SEAMS)
    with counter.active():
        invoke(args, codes=(0,))
    shutil.rmtree(work / "store")
    invoke(_harmonise_args(work), codes=(0,))
    before = snapshot(work / "store")
    fault = Faults(STORE_SEAMS, fail_at=last(counter.calls)[0], error=KeyboardInterrupt)
    with fault.active():
        invoke(args, codes=(130,))  # 128 + SIGINT, as a shell reports Ctrl-C
    assert snapshot(work / "store") == before


def test_first_store_write_interrupted_leaves_no_store(work: Path) -> None:
    _fail_everywhere(_harmonise_args(work), STORE_SEAMS, [work])


def test_report_write_interrupted_anywhere_leaves_the_folder_as_it_was(work: Path) -> None:
    invoke(_harmonise_args(work), codes=(0,))
    out = work / "pack"
    common = ["report", "--period", PERIOD, "--store", work / "store", "--out", out]
    invoke([*common, "--generated-at", STAMP], codes=(0,))
    args = [*common, "--generated-at", "2026-12-01T09:00:00+00:00"]  # different bytes
    # with pack.md and measures.csv; the workbook adds one more file written the same way, so
    # with it only the last swap fails (two files already swapped are put back)
    _fail_everywhere([*args, "--format", "md"], COMMON, [out, work / "store"])

    def last_swap(calls: list[str]) -> list[int]:
        return [max(i for i, c in enumerate(calls, start=1) if c == "os.replace")]

    _fail_everywhere(args, COMMON, [out, work / "store"], only=last_swap)


@pytest.mark.parametrize("name", ["h.csv", "h.parquet", "h.xlsx"])
def test_export_interrupted_anywhere_leaves_the_folder_as_it_was(name: str, work: Path) -> None:
    invoke(_harmonise_args(work), codes=(0,))
    out = work / "out"
    out.mkdir()
    args = ["export", "--period", PERIOD, "--store", work / "store", "--out", out / name]
    invoke(args, codes=(0,))
    invoke(_harmonise_args(work, BOLTON), codes=(0,))  # the next export has other content
    _fail_everywhere(args, EXPORT_SEAMS, [out, work / "store"])


def test_feedback_and_findings_interrupted_anywhere_leave_both_as_they_were(work: Path) -> None:
    out = work / "out"
    out.mkdir()
    base = ["validate", "--mapping", MINI_MAPPING, "--period", PERIOD]
    files = ["--findings-out", out / "f.csv", "--feedback", out / "fb.xlsx"]
    other = work / "mini_other.csv"
    other.write_bytes(b"\n".join(MINI_CSV.read_bytes().splitlines()[:4]) + b"\n")
    invoke([*base, other, *files], codes=(1,))  # old outputs, from another file
    _fail_everywhere([*base, MINI_CSV, *files], FEEDBACK_SEAMS, [out])


def test_feedback_in_two_folders_is_still_all_or_nothing(work: Path) -> None:
    (work / "a").mkdir()
    (work / "b").mkdir()
    args = ["validate", MINI_CSV, "--mapping", MINI_MAPPING, "--period", PERIOD]
    args += ["--findings-out", work / "a" / "f.json", "--feedback", work / "b" / "fb.xlsx"]

    def after_the_first_file(calls: list[str]) -> list[int]:
        first = calls.index("os.replace") + 1  # f.json is in place from here on
        return list(range(first + 1, len(calls) + 1))

    _fail_everywhere(args, FEEDBACK_SEAMS, [work / "a", work / "b"], only=after_the_first_file)


def test_keygen_interrupted_anywhere_leaves_no_key_or_the_old_one(work: Path) -> None:
    folder = work / "keys"
    folder.mkdir()
    _fail_everywhere(["keygen", folder / "new.key"], KEY_SEAMS, [folder])
    invoke(["keygen", folder / "old.key"], codes=(0,))
    _fail_everywhere(["keygen", folder / "old.key", "--force"], KEY_SEAMS, [folder])


def test_init_interrupted_anywhere_leaves_the_folder_as_it_was(work: Path) -> None:
    _fail_everywhere(["init", work / "project"], COMMON, [work])


# --- full disk, read-only folder -----------------------------------------------------------------


def _runs(work: Path) -> dict[str, list[Any]]:
    out = work / "out"
    return {
        "harmonise": _harmonise_args(work, stamp="2026-11-26T09:00:00+00:00"),
        "report": ["report", "--period", PERIOD, "--store", work / "store", "--out", out / "p"],
        "export": ["export", "--period", PERIOD, "--store", work / "store", "--out", out / "x.csv"],
        "feedback": ["validate", MINI_CSV, "--mapping", MINI_MAPPING, "--period", PERIOD]
        + ["--feedback", out / "fb.xlsx", "--findings-out", out / "f.csv"],
        "keygen": ["keygen", out / "k.key"],
        "init": ["init", out / "project"],
        "mapping-init": ["mapping", "init", MINI_CSV, "--out", out / "m.yaml"],
    }


COMMANDS = ["harmonise", "report", "export", "feedback", "keygen", "init", "mapping-init"]
OS_ERRORS = [(errno.ENOSPC, c) for c in COMMANDS]  # each command's own write path
READ_ONLY = (errno.EACCES, errno.EROFS)
OS_ERRORS += [(e, c) for e in READ_ONLY for c in ("harmonise", "report", "keygen")]
WORDS = {errno.ENOSPC: ("full",), errno.EACCES: ("read-only", "permission")}
WORDS[errno.EROFS] = WORDS[errno.EACCES]


@pytest.fixture(scope="module")
def one_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("one-store")
    write_key(folder)
    invoke(_harmonise_args(folder), codes=(0,))
    return folder / "store"


@pytest.mark.parametrize(("code", "command"), OS_ERRORS)
def test_full_disk_or_read_only_folder_is_one_clear_line(
    code: int, command: str, one_store: Path, work: Path
) -> None:
    shutil.copytree(one_store, work / "store")
    (work / "out").mkdir()
    before = snapshot(work)
    seams = [(Path, "write_bytes"), (tempfile, "mkstemp"), (os, "open"), (Path, "mkdir")]
    seams += [(store, "_write_parquet"), (pl.LazyFrame, "sink_csv")]
    fault = Faults(seams, fail_at=1, error=lambda: OSError(code, os.strerror(code)))
    with fault.active():
        result = invoke(_runs(work)[command], codes=(2,))
    gc.collect()
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert any(w in errors[0].lower() for w in WORDS[code]), errors[0]
    assert snapshot(work) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_really_read_only_output_folder(work: Path) -> None:
    invoke(_harmonise_args(work), codes=(0,))
    out = work / "out"
    out.mkdir()
    out.chmod(0o500)
    try:
        for args in _runs(work).values():
            if "harmonise" not in args:
                invoke(args, codes=(2,))
    finally:
        out.chmod(0o700)


# --- two writers at once -------------------------------------------------------------------------

_HOLD = """
import sys, time
from pathlib import Path
from tce_cli.store import Store
with Store(Path(sys.argv[1])).lock():
    Path(sys.argv[2]).write_text("held")
    while not Path(sys.argv[3]).exists():
        time.sleep(0.05)
"""


def test_a_second_harmonise_while_the_store_is_locked_gets_a_clear_message(work: Path) -> None:
    invoke(_harmonise_args(work), codes=(0,))
    held, release = work / "held", work / "release"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(work / "store"), str(held), str(release)],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while not held.exists():
            assert time.monotonic() < deadline and holder.poll() is None
            time.sleep(0.05)
        before = snapshot(work / "store")
        result = invoke(_harmonise_args(work, BOLTON), codes=(2,))
        assert "being written by another tce run" in result.stderr
        after = snapshot(work / "store")
        assert after == before
    finally:
        release.write_text("go")
        holder.wait(timeout=30)
    invoke(_harmonise_args(work, BOLTON), codes=(0,))  # the lock is gone with its holder


def test_two_harmonise_processes_at_once_never_corrupt_the_store(work: Path) -> None:
    tce = str(Path(sys.executable).with_name("tce"))
    runs = [_harmonise_args(work), _harmonise_args(work, BOLTON)]
    procs = [
        subprocess.Popen(
            [tce, *[str(a) for a in args]],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        for args in runs
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    for code, err in outcomes:
        assert code in (0, 2) and "Traceback" not in err
        if code == 2:
            assert "being written by another tce run" in err
    assert any(code == 0 for code, _ in outcomes)
    root = work / "store"
    assert not (root / ".lock").exists()
    assert not list(root.glob(".tce-staging-*"))
    manifest = json.loads((root / "period=2026-27Q2" / "manifest.json").read_text("utf-8"))
    stored = {p.parent.name.removeprefix("agency=") for p in root.rglob("part-0.parquet")}
    assert stored == set(manifest["agencies"])
    for agency, entry in manifest["agencies"].items():
        part = root / "period=2026-27Q2" / f"agency={agency}" / "part-0.parquet"
        assert pl.read_parquet(part).height == entry["rows_accepted"]
