"""Expand command-line inputs (files, folders, globs) into a sorted list of export files."""

from __future__ import annotations

import glob
from pathlib import Path

from tce_cli.errors import InputFileError

EXPORT_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")


def expand_inputs(items: list[Path]) -> list[Path]:
    """Files as given; folders -> their export files; globs -> their matches. Sorted, unique."""
    found: list[Path] = []
    for item in items:
        text = str(item)
        if item.is_dir():
            found += sorted(
                p
                for p in item.iterdir()
                if p.is_file()
                and p.suffix.lower() in EXPORT_SUFFIXES
                and not p.name.startswith(("~$", "."))
            )
        elif item.is_file():  # before globbing: "Return [Q2].csv" is a file, not a pattern
            found.append(item)
        elif any(ch in text for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            if not matches:
                raise InputFileError(
                    f"No files match '{text}'.", hint="Check the folder and the pattern."
                )
            found += [p for p in matches if p.is_file()]
        elif item.exists():
            found.append(item)
        else:
            raise InputFileError(
                f"File not found: {text}",
                hint="Check the path; put quotes round names with spaces.",
            )
    unique = list(dict.fromkeys(found))
    if not unique:
        raise InputFileError(
            "No export files to process.", hint="Give CSV or XLSX files, or a folder holding them."
        )
    return unique
