"""The review step validate and harmonise run after the checks, per agency and period:

1. compare the agency's return with its previous quarter in the store and add the
   period-over-period queries (file-level, on the agency's first file);
2. apply the agency's acknowledgements (``<mappings folder>/acks/<agency>.yaml``): matching
   queries move from ``findings`` to ``acknowledged``, so they no longer count for the exit
   code, the manifest's ``findings_by_code`` or the feedback workbook;
3. report each acknowledgement that matched nothing as a ``stale-acknowledgement`` (info).

Why it is not part of ``check_file``: it needs the whole agency (an agency may send several
files), the store and the pseudonymised rows, none of which a single file's check has.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from tce_cli.config import Thresholds
from tce_cli.cycle.acks import ACKS_FOLDER, apply_acks, load_acks, stale_findings
from tce_cli.cycle.compare import change_findings, compare, snapshot_from_files, snapshot_from_store
from tce_cli.errors import StoreError
from tce_cli.findings import sort_findings
from tce_cli.pipeline import FileResult, ValidationResult

if TYPE_CHECKING:
    from tce_cli.harmonise import HarmonisedFile
    from tce_cli.store import Store


@dataclasses.dataclass(frozen=True)
class Previous:
    """Where to look for the previous quarter, and whether person keys can be compared."""

    store: Store | None
    keys_comparable: bool
    why_not: str = ""
    """Why the previous quarter cannot be used at all (store missing or unreadable)."""


def acks_dir_for(result: FileResult, fallback: Path) -> Path:
    """Acknowledgements live beside the mapping used (else under ``fallback``)."""
    base = result.mapping_path.parent if result.mapping_path is not None else fallback
    return base / ACKS_FOLDER


def review_agency(
    results: Sequence[FileResult],
    *,
    files: Sequence[HarmonisedFile] | None,
    previous: Previous,
    acks_dir: Path,
    thresholds: Thresholds,
) -> list[FileResult]:
    """Review one agency's files for one period (see the module docstring).

    ``files`` are ``results`` harmonised (accepted rows in store columns); None when there
    is no store to compare with.
    """
    first = results[0]
    notes: list[str] = []
    extra = _period_findings(first, files, previous, thresholds, notes)
    entries = load_acks(acks_dir, first.mapping.agency.id).for_period(first.period)
    matched: set[int] = set()
    out: list[FileResult] = []
    for i, result in enumerate(results):
        findings = result.findings
        if i == 0 and extra.height:
            findings = sort_findings(pl.concat([findings, extra]))
        outcome = apply_acks(findings, entries)
        matched |= outcome.matched
        acknowledged = pl.concat([result.acknowledged, outcome.acknowledged])
        out.append(
            dataclasses.replace(
                result, findings=outcome.outstanding, acknowledged=sort_findings(acknowledged)
            )
        )
    path = acks_dir / f"{first.mapping.agency.id}.yaml"
    stale = [(n, e) for n, e in entries if n not in matched]
    if entries:
        notes.append(
            f"Acknowledgements: {len(entries) - len(stale)} of {len(entries)} entries for "
            f"{first.period.label} in {path.name} matched; {len(stale)} stale."
        )
    if stale:
        found = stale_findings(
            stale, agency=first.mapping.agency.id, source_file=first.path.name, path=path
        )
        out[0] = dataclasses.replace(
            out[0], findings=sort_findings(pl.concat([out[0].findings, found]))
        )
    out[0] = dataclasses.replace(out[0], notes=(*out[0].notes, *notes))
    return out


def _period_findings(
    first: FileResult,
    files: Sequence[HarmonisedFile] | None,
    previous: Previous,
    thresholds: Thresholds,
    notes: list[str],
) -> pl.DataFrame:
    agency, before = first.mapping.agency.id, first.period.previous()
    empty = first.findings.clear()
    if previous.store is None or files is None:
        if previous.why_not:
            notes.append(f"Not compared with {before.label}: {previous.why_not}")
        return empty
    if any(h.accepted.height == 0 and h.result.rows_read > 0 for h in files):
        notes.append(f"Not compared with {before.label}: every row of a file is rejected.")
        return empty
    try:
        prev = snapshot_from_store(previous.store, before, agency)
    except StoreError as exc:
        notes.append(f"Not compared with {before.label}: {exc.message}")
        return empty
    except (pl.exceptions.PolarsError, OSError):
        notes.append(f"Not compared with {before.label}: its stored return cannot be read.")
        return empty
    if prev is None:
        notes.append(f"Not compared with {before.label}: the store has no return from {agency}.")
        return empty
    changes = compare(
        prev,
        snapshot_from_files(files),
        thresholds=thresholds,
        keys_comparable=previous.keys_comparable,
    )
    flagged = int(changes["flagged"].sum())
    notes.append(
        f"Compared with {agency}'s {before.label} return in {previous.store.root}: "
        f"{flagged} period-over-period "
        f"{'query' if flagged == 1 else 'queries'}."
    )
    if not previous.keys_comparable:
        notes.append(
            "Children missing since last quarter not checked: no pseudonymisation key "
            "matching the store's (set TCE_KEY or key_file in tce.toml)."
        )
    return change_findings(changes, agency=agency, source_file=first.path.name)


def previous_in(store_root: Path | None, key_fingerprint: str | None) -> Previous:
    """The store to compare with; person keys compare when the key matches the store's.

    ``key_fingerprint`` is that of the key the current rows were pseudonymised with (None:
    rows made with the --no-pseudonymise key).
    """
    from tce_cli.store import Store

    if store_root is None:
        return Previous(None, False)
    store = Store(store_root)
    try:
        marker = store.marker()
    except StoreError as exc:
        return Previous(None, False, exc.message)
    if marker is None:
        return Previous(None, False, f"'{store_root}' holds no harmonised data yet.")
    if marker.pseudonymised:
        comparable = key_fingerprint is not None and key_fingerprint == marker.key_fingerprint
    else:
        comparable = key_fingerprint is None
    return Previous(store, comparable)


def group_by_agency(items: Sequence[FileResult]) -> list[list[int]]:
    """Indexes of ``items`` grouped by (agency, period), in first-seen order."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, f in enumerate(items):
        key = (f.mapping.agency.id, f.period.label)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def review_harmonised(
    files: Sequence[HarmonisedFile],
    *,
    previous: Previous,
    acks_fallback: Path,
    thresholds: Thresholds,
) -> list[HarmonisedFile]:
    """Review every agency of a harmonise run; accepted and rejected rows are unchanged."""
    out = list(files)
    for group in group_by_agency([h.result for h in files]):
        members = [files[i] for i in group]
        reviewed = review_agency(
            [h.result for h in members],
            files=members,
            previous=previous,
            acks_dir=acks_dir_for(members[0].result, acks_fallback),
            thresholds=thresholds,
        )
        for i, result in zip(group, reviewed, strict=True):
            out[i] = dataclasses.replace(files[i], result=result)
    return out


def review_validation(
    result: ValidationResult,
    *,
    store_root: Path | None,
    key: bytes | None,
    acks_fallback: Path,
    thresholds: Thresholds | None = None,
) -> ValidationResult:
    """Review a validate run. With a store, the rows are pseudonymised in memory (with
    ``key`` when it is the store's key, so children can be followed from last quarter) and
    compared with the previous quarter; nothing is written."""
    from tce_cli.harmonise import NOT_PSEUDONYMISED_KEY, harmonise_file
    from tce_cli.pseudonymise import key_fingerprint

    previous = previous_in(store_root, key_fingerprint(key) if key is not None else None)
    marker = previous.store.marker() if previous.store is not None else None
    if marker is not None and not marker.pseudonymised:
        row_key, previous = (
            NOT_PSEUDONYMISED_KEY,
            dataclasses.replace(previous, keys_comparable=True),
        )
    else:
        row_key = key if key is not None and previous.keys_comparable else NOT_PSEUDONYMISED_KEY
    out = list(result.files)
    for group in group_by_agency(result.files):
        members = [result.files[i] for i in group]
        files = None
        if previous.store is not None:
            files = [harmonise_file(f, key=row_key) for f in members]
        reviewed = review_agency(
            members,
            files=files,
            previous=previous,
            acks_dir=acks_dir_for(members[0], acks_fallback),
            thresholds=thresholds or Thresholds(),
        )
        for i, reviewed_file in zip(group, reviewed, strict=True):
            out[i] = reviewed_file
    return ValidationResult(tuple(out))


__all__ = [
    "Previous",
    "acks_dir_for",
    "previous_in",
    "review_agency",
    "review_harmonised",
    "review_validation",
]
