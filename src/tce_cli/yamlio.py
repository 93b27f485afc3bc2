"""Reading YAML: the C-accelerated safe loader when PyYAML has it, one error wording.

Mappings, acknowledgements and the packaged schema and vocabulary are all read here, so every
YAML file gets the same safety (no Python object tags) and the same one-line error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tce_cli.errors import TceError

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str) -> Any:
    """Parse trusted or untrusted YAML text safely (plain data only)."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a SafeLoader (C or Python)


def read(path: Path, error: type[TceError], *, hint: str) -> Any:
    """Read and parse a UTF-8 (optionally BOM-prefixed) YAML file.

    Raises ``error`` with the file, line and column of a syntax problem and ``hint``.
    """
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text.", hint="Save the file as UTF-8.") from None
    try:
        return parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise error(f"{path}: {where}malformed YAML ({problem}).", hint=hint) from None
