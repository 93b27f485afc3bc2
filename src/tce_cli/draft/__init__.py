"""Draft an agency mapping from a sample export (``tce mapping init``).

Each framework field gets the best source column by header (normalised names, synonyms from
``data/synonyms.yaml``, word overlap, spelling) and by values (NHS numbers passing Modulus 11,
postcodes, dates, counts, codes of the field's code list); date formats are inferred from the
values; every distinct value of a code column is recoded (codes, labels, aliases, similar
spellings); personal and free-text columns are ignored with a reason; TODO comments mark every
decision left to a person. The result is deterministic: the same file gives the same YAML.
"""

from __future__ import annotations

from pathlib import Path

from tce_cli.draft.build import DraftOptions, check_options, draft_from_table, match_pattern
from tce_cli.draft.model import Draft, FieldDraft, IgnoredColumn
from tce_cli.draft.render import render
from tce_cli.errors import OutputError

__all__ = [
    "Draft",
    "DraftOptions",
    "check_options",
    "FieldDraft",
    "IgnoredColumn",
    "draft_from_table",
    "draft_mapping",
    "match_pattern",
    "render",
    "write_draft",
]


def draft_mapping(
    sample: Path, *, sheet: str | int | None = None, options: DraftOptions | None = None
) -> Draft:
    """Read ``sample`` (header found below any title rows) and draft its mapping.

    Raises:
        InputFileError: the sample cannot be read.
        ConfigError: an option is invalid (e.g. an unknown agency type).
    """
    from tce_cli.read import read_table

    options = options or DraftOptions()
    check_options(options)
    return draft_from_table(read_table(sample, sheet=sheet), options)


def write_draft(text: str, out: Path, *, force: bool) -> None:
    """Write the draft YAML to ``out`` atomically; refuse to replace a file unless ``force``.

    Raises:
        OutputError: ``out`` exists (and not ``force``), is a folder, or cannot be written.
    """
    from tce_cli.safe_io import atomic_write_text

    if out.is_dir():
        raise OutputError(f"{out} is a folder.", hint="Give the path of the .yaml file to write.")
    if out.exists() and not force:
        raise OutputError(
            f"{out} already exists; not overwritten.",
            hint="Choose another --out, or pass --force to replace it.",
        )
    if not out.parent.exists():
        out.parent.mkdir(parents=True)
    atomic_write_text(out, text)
