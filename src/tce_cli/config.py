"""Project settings from ``tce.toml``, found by walking up from the working folder (like git).

Every setting has a default, so tce runs without a config file. Paths in the file are relative
to the folder that holds it. Command-line options override the file (see :func:`resolve`).

```toml
store = "tce-store"
mappings = "mappings"
output = "tce-output"
key_file = "../keys/tce.key"      # optional; else --key-file or TCE_KEY
templates = "report_templates"    # optional
fail_on = "error"                 # error | query | info

[thresholds]
completeness_default = 95.0       # optional: % populated below which a field is queried
suppression = 5                   # counts 1..5 are shown as "c" in reports
period_change_pct = 50.0          # rows / open children / new episodes: % change queried
period_min_base = 20              # previous-quarter counts below this are not compared
disappeared_pct = 20.0            # % of last quarter's open children gone without closure
completeness_drop_points = 10.0   # fall in % filled in (points) queried
distribution_tvd = 0.3            # code-mix change (total variation distance) queried
age_difference_years = 1          # cross-agency: ages further apart than this conflict
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tce_cli.errors import ConfigError
from tce_cli.findings import Severity

CONFIG_NAME = "tce.toml"
T = TypeVar("T")


class Thresholds(BaseModel):
    """Numbers that tune checks and reports."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    completeness_default: float | None = Field(default=None, ge=0, le=100)
    suppression: int = Field(default=5, ge=0, le=100)
    # period-over-period queries (against the agency's previous quarter in the store)
    period_change_pct: float = Field(default=50.0, gt=0)
    """Rows, children open at the quarter end, new episodes: % rise or fall queried."""
    period_min_base: int = Field(default=20, ge=0)
    """Previous-quarter counts below this are too small to compare."""
    disappeared_pct: float = Field(default=20.0, ge=0, le=100)
    """% of last quarter's open children absent now (no closure) that is queried."""
    completeness_drop_points: float = Field(default=10.0, ge=0, le=100)
    """Fall in a field's % filled in, in percentage points, that is queried."""
    distribution_tvd: float = Field(default=0.3, gt=0, le=1)
    """Total variation distance between quarters' code mixes that is queried."""
    # cross-agency consistency
    age_difference_years: int = Field(default=1, ge=0)
    """Ages of one child differing by more than this across agencies are counted."""


class Settings(BaseModel):
    """The settings a ``tce.toml`` may hold (unknown keys are refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store: Path = Path("tce-store")
    key_file: Path | None = None
    mappings: Path = Path("mappings")
    templates: Path | None = None
    output: Path = Path("tce-output")
    thresholds: Thresholds = Thresholds()
    fail_on: Severity = Severity.ERROR


class Config(Settings):
    """Resolved project settings: paths made absolute, plus where they came from."""

    source: Path | None = None
    """The tce.toml these settings came from (None: built-in defaults)."""


def find_config(start: Path) -> Path | None:
    """The nearest ``tce.toml`` in ``start`` or a parent folder, up to the filesystem root."""
    folder = Path(start).resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / CONFIG_NAME
        if path.is_file():
            return path
    return None


def load_config(start: Path) -> Config:
    """Load the nearest ``tce.toml`` above ``start``, or the defaults relative to ``start``.

    Raises:
        ConfigError: the file is unreadable, not valid TOML, or has unknown keys or bad
            values; the message names the file and the key.
    """
    path = find_config(start)
    if path is None:
        return _absolute(Settings(), Path(start).resolve(), None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML ({exc}).",
            hint="Check quotes around paths and that each setting is 'name = value'.",
        ) from None
    except (OSError, UnicodeDecodeError):
        raise ConfigError(
            f"{path}: cannot be read.", hint="Check the file is UTF-8 text you may read."
        ) from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{path}: {_describe(exc)}",
            hint="Valid settings: store, key_file, mappings, templates, output, fail_on "
            "(error, query, info), [thresholds] " + ", ".join(Thresholds.model_fields) + ".",
        ) from None
    return _absolute(settings, path.parent, path)


def resolve(option_value: T | None, config_value: T) -> T:
    """The command-line value when given, else the config value."""
    return config_value if option_value is None else option_value


def _absolute(settings: Settings, base: Path, source: Path | None) -> Config:
    def fix(value: Path | None) -> Path | None:
        if value is None:
            return None
        value = value.expanduser()
        return value if value.is_absolute() else (base / value)

    values: dict[str, Any] = settings.model_dump()
    for name in ("store", "key_file", "mappings", "templates", "output"):
        values[name] = fix(values[name])
    return Config(**values, source=source)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        key = ".".join(str(x) for x in error["loc"]) or "(top level)"
        parts.append(f"{key}: {error['msg']}")
    return "; ".join(parts)


# --- tce init ----------------------------------------------------------------------------

CONFIG_TEMPLATE = """\
# tce project settings. Paths are relative to this file's folder.
# Command-line options override these; delete a line to use the default.

store = "tce-store"        # harmonised store (Parquet by period and agency)
mappings = "mappings"      # one YAML mapping per agency export layout
output = "tce-output"      # reports, exports and feedback workbooks

# The pseudonymisation key. Keep it OUT of this folder's version control and away from
# the data; or leave this unset and pass --key-file, or set the TCE_KEY variable.
# key_file = "../keys/tce.key"

# templates = "report_templates"   # your own report templates
# fail_on = "error"                # error | query | info: lowest severity giving exit 1

[thresholds]
# completeness_default = 95.0      # % populated below which a field is queried
suppression = 5                    # report counts 1..5 are shown as "c"
# period_change_pct = 50.0         # rows, open children, new episodes: % change queried
# disappeared_pct = 20.0           # % of last quarter's open children gone, no closure
# completeness_drop_points = 10.0  # fall in a field's % filled in (points) queried
# distribution_tvd = 0.3           # code-mix change between quarters that is queried
"""

MAPPINGS_README = """\
Agency mappings
===============

Put one YAML file here per agency export layout, e.g. bolton-csc.yaml. A mapping says who
the agency is, which files are theirs (a file-name pattern), and where each framework field
is found in their export, with value recodes and date formats.

Draft one from an agency's file, review the TODOs, then check it:

    tce mapping init path/to/export.xlsx
    tce mapping check mappings/

'tce schema' lists the framework fields and their codes.
"""

GITIGNORE = """\
# Keys and personal or pseudonymised data never go into version control.
*.key
tce-store/
tce-output/
"""


def init_project(folder: Path) -> list[Path]:
    """Scaffold a tce project in ``folder``; return the files and folders created.

    Creates ``tce.toml`` (commented defaults), ``mappings/README.txt``, an empty
    ``tce-store/`` and a ``.gitignore`` keeping keys, the store and outputs out of version
    control.

    Raises:
        ConfigError: any of the files already exists (nothing is written).
        OutputError: the folder cannot be written.
    """
    from tce_cli.safe_io import atomic_write_text, output_error

    folder = Path(folder)
    files = {
        folder / CONFIG_NAME: CONFIG_TEMPLATE,
        folder / "mappings" / "README.txt": MAPPINGS_README,
        folder / ".gitignore": GITIGNORE,
    }
    existing = [str(p) for p in files if p.exists()]
    if existing:
        raise ConfigError(
            f"Not overwriting existing files: {', '.join(existing)}.",
            hint="Choose an empty folder, or move those files aside first.",
        )
    created: list[Path] = []
    try:
        for path in [folder, folder / "mappings", folder / "tce-store", folder / "tce-output"]:
            if not path.exists():
                path.mkdir(parents=True)
                created.append(path)
        for path, text in files.items():
            atomic_write_text(path, text)
            created.append(path)
    except BaseException as exc:
        _remove(created)  # all or nothing: a half-made project would block the next try
        if isinstance(exc, OSError):
            raise output_error(exc, folder) from exc
        raise
    return created


def _remove(created: list[Path]) -> None:
    import contextlib

    for path in reversed(created):
        with contextlib.suppress(OSError):
            path.rmdir() if path.is_dir() else path.unlink()
