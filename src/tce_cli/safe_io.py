"""Safe output helpers used by every stage that writes files.

- Atomic writes: data goes to a temporary file in the destination folder, is flushed to disk,
  and is then renamed over the destination, so a reader never sees half a file and a failed
  write leaves the old file untouched.
- Formula-injection neutralising for CSV (and any text a spreadsheet may open): text cells that
  a spreadsheet would run as a formula get a leading apostrophe.
- Several files all-or-nothing (:func:`write_files_atomically`): staged, swapped in, and
  put back as they were if anything fails.
- Path containment: a mapping or template can never make tce write outside its output folder.

OS failures (read-only folder, full disk, no permission) become ``OutputError`` naming the path,
never cell values.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tce_cli.errors import OutputError

if TYPE_CHECKING:
    import polars as pl

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
"""First characters that make Excel, LibreOffice or Google Sheets evaluate a cell (OWASP)."""

_TRIGGER_RE = r"^(?:[\t\r\n]|\s*[=+\-@])"
_NUMBER_RE = r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$"
_TRIGGER = re.compile(_TRIGGER_RE)
_NUMBER = re.compile(_NUMBER_RE)

_TEMP_PREFIX = ".tce-tmp-"


def neutralise_formula(text: str) -> str:
    """Return ``text`` made safe to open in a spreadsheet.

    Text starting with ``= + - @`` (after optional spaces), a tab or a line break gets a
    leading apostrophe, so spreadsheets show it as text instead of running it. Plain numbers
    such as ``-5`` or ``+1.5`` are left alone: a spreadsheet reads them as numbers, not
    formulas, and analysts expect them unchanged.
    """
    if _TRIGGER.match(text) and not _NUMBER.match(text):
        return "'" + text
    return text


def neutralise_expr(column: str | pl.Expr) -> pl.Expr:
    """Polars expression version of :func:`neutralise_formula` for a String column."""
    import polars as pl

    expr = pl.col(column) if isinstance(column, str) else column
    risky = expr.str.contains(_TRIGGER_RE) & ~expr.str.contains(_NUMBER_RE)
    out = pl.when(risky).then(pl.lit("'") + expr).otherwise(expr)
    name = expr.meta.output_name(raise_if_undetermined=False)
    return out.alias(name) if name else out


def text_table(frame: pl.DataFrame | pl.LazyFrame, *, neutralise: bool = True) -> pl.LazyFrame:
    """Prepare a frame for CSV: lists joined with ``;``, dates ISO, text cells neutralised.

    Column names and order are kept. Dates and datetimes become ISO-8601 text; numbers and
    booleans are left for the CSV writer.
    """
    import polars as pl

    lazy = frame.lazy()
    schema = lazy.collect_schema()
    exprs: list[pl.Expr] = []
    for name, dtype in schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.List):
            col = col.cast(pl.List(pl.String)).list.join(";")
        elif dtype == pl.Date:
            col = col.dt.strftime("%Y-%m-%d")
        elif isinstance(dtype, pl.Datetime):
            col = col.dt.strftime("%Y-%m-%dT%H:%M:%S")
        elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            col = col.cast(pl.String)
        else:
            exprs.append(col)
            continue
        exprs.append((neutralise_expr(col) if neutralise else col).alias(name))
    return lazy.select(exprs)


def ensure_inside(base: Path, path: Path) -> Path:
    """Return ``path`` resolved (symlinks followed), or raise if it escapes ``base``.

    A relative ``path`` is taken relative to ``base``.

    Raises:
        OutputError: when the resolved path is not ``base`` or below it.
    """
    root = base.resolve()
    target = (path if path.is_absolute() else root / path).resolve()
    if target != root and root not in target.parents:
        raise OutputError(
            f"Refusing to write '{path}': it is outside the output folder '{base}'.",
            hint="Use a file name inside the output folder (no '..', no absolute paths, "
            "no links pointing elsewhere).",
        )
    return target


def output_error(exc: OSError, path: Path) -> OutputError:
    """Translate an OS write failure into an OutputError with a plain-English reason."""
    folder = path.parent if path.suffix else path
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(
            f"Cannot write to '{folder}': the folder is read-only or you lack permission.",
            hint="Choose a folder you can write to, or ask for write access.",
        )
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return OutputError(
            f"Cannot write '{path}': the disk is full (or your quota is used up).",
            hint="Free some space or write to another disk; nothing was changed.",
        )
    if code == errno.ENOENT:
        return OutputError(
            f"Cannot write '{path}': the folder does not exist.",
            hint="Create the folder first, or check the path.",
        )
    reason = exc.strerror or type(exc).__name__
    return OutputError(
        f"Cannot write '{path}': {reason}.",
        hint="Check the path, that the file is not open in another program, and the disk.",
    )


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (renames) to disk where the OS supports it."""
    if os.name == "nt":  # Windows cannot open a folder for fsync; renames are journaled.
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Path, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` when the block succeeds.

    The temporary file is flushed to disk before the rename and removed if the block raises,
    so ``path`` is either the old file or the complete new one. Writers given the temporary
    path may replace it (Polars does), so it is fsynced by name after the block.

    Args:
        path: the final destination; its folder must exist.
        mode: permission bits for the new file (e.g. ``0o600``); default: the umask's.

    Raises:
        OutputError: when the folder is read-only, the disk is full, or similar.
    """
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise output_error(exc, path) from exc
    os.close(fd)
    tmp = Path(name)
    backup: Path | None = None
    replaced = False
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            _apply_umask(tmp)
        fsync_file(tmp)
        if path.is_file():  # kept until the rename is on disk, to put back if that fails
            backup = tmp.with_name(tmp.name + ".old")
            _keep_copy(path, backup)
        os.replace(tmp, path)
        replaced = True
        fsync_dir(path.parent)
    except BaseException as exc:
        _undo(path, tmp, backup if replaced else None, replaced)
        if isinstance(exc, OSError):
            raise output_error(exc, path) from exc
        raise
    finally:
        if backup is not None:
            backup.unlink(missing_ok=True)


def _undo(path: Path, tmp: Path, backup: Path | None, replaced: bool) -> None:
    """Put ``path`` back as it was after a failed :func:`atomic_path` block."""
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)
        if backup is not None:
            os.replace(backup, path)
        elif replaced:
            path.unlink(missing_ok=True)


def fsync_file(path: Path) -> None:
    """Flush one file's contents to disk."""
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))  # Windows fsync needs write
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, mode=mode) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(
    path: Path, text: str, *, encoding: str = "utf-8", mode: int | None = None
) -> None:
    """Write ``text`` to ``path`` atomically, with ``\\n`` line endings on every OS."""
    atomic_write_bytes(path, text.encode(encoding), mode=mode)


def write_all_or_nothing(files: Mapping[Path, bytes]) -> None:
    """Write several files (in any folders), each atomically; if one fails, put back the
    ones already written, so the folders are left as they were.

    For outputs in different folders, which one staging folder cannot hold (see
    :func:`write_files_atomically`): the old contents are kept in memory until all are
    written.

    Raises:
        OutputError: a file cannot be written (the others are restored).
    """
    written: list[tuple[Path, bytes | None]] = []
    try:
        for path, data in files.items():
            old = path.read_bytes() if path.is_file() else None
            atomic_write_bytes(path, data)
            written.append((path, old))
    except BaseException:
        for path, old in reversed(written):
            with contextlib.suppress(OSError):
                if old is None:
                    path.unlink()
                else:
                    atomic_write_bytes(path, old)
        raise


def _apply_umask(path: Path) -> None:
    # mkstemp creates 0o600; give the final file the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


# --- several files, all or nothing -------------------------------------------------------

Writer = Callable[[Path], None]
"""Writes one file at the path it is given (a temporary path inside the staging folder)."""

STAGING_PREFIX = ".tce-staging-"


def write_files_atomically(root: Path, files: Mapping[str, Writer]) -> None:
    """Write several files under ``root`` so that either all change or none does.

    Every file is first written and flushed in a staging folder inside ``root`` (same disk,
    so renames are atomic). Then each is renamed over its target in order, keeping the old
    file as a hard-linked backup (a target is never missing, even briefly). If anything
    fails, every replaced file is put back and new folders are removed, so ``root`` is left
    byte-for-byte as it was.

    Args:
        root: the folder all files live under (created if missing).
        files: relative path (``/``-separated, no ``..``) -> function writing that file.

    Raises:
        OutputError: a read-only folder, a full disk or another OS failure (nothing changed).
        ValueError: a path is absolute or climbs out of ``root``.
    """
    for name in files:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"{name!r} is not a path inside the folder")
    _FileSet(Path(root), files).run()


def _replace(source: Path, target: Path) -> None:
    """Atomically move ``source`` over ``target`` (a seam for failure-injection tests)."""
    os.replace(source, target)


class _FileSet:
    """Stage every file, then swap them in; undo every swap if anything fails."""

    def __init__(self, root: Path, files: Mapping[str, Writer]) -> None:
        self.root = root
        self.files = files
        self.staging = root / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        self.done: list[tuple[Path, Path | None]] = []  # (target, backup of the old file)
        self.new_dirs: list[Path] = []

    def run(self) -> None:
        try:
            self._make_dirs(self.root)
            self._stage()
            self._commit()
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, OSError):
                raise output_error(exc, self.root) from exc
            raise
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)

    def _staged(self, n: int, name: str) -> Path:
        return self.staging / "new" / f"{n}{Path(name).suffix}"

    def _stage(self) -> None:
        (self.staging / "new").mkdir(parents=True)
        for n, (name, write) in enumerate(self.files.items()):
            staged = self._staged(n, name)
            write(staged)
            fsync_file(staged)

    def _commit(self) -> None:
        (self.staging / "old").mkdir()
        for n, name in enumerate(self.files):
            target = self.root / name
            self._make_dirs(target.parent)
            backup: Path | None = None
            if target.exists():
                backup = self.staging / "old" / str(n)
                _keep_copy(target, backup)
            self.done.append((target, backup))
            _replace(self._staged(n, name), target)
        for folder in sorted({t.parent for t, _ in self.done}):
            fsync_dir(folder)

    def _make_dirs(self, folder: Path) -> None:
        missing: list[Path] = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            path.mkdir()
            self.new_dirs.append(path)

    def _rollback(self) -> None:
        for target, backup in reversed(self.done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, target)
                else:
                    target.unlink(missing_ok=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        for folder in reversed(self.new_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()


def _keep_copy(target: Path, backup: Path) -> None:
    """Keep the old file as a backup without ever removing it from its place."""
    try:
        os.link(target, backup)
    except OSError:  # file systems without hard links
        shutil.copy2(target, backup)
