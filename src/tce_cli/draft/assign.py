"""Choose a source column for each framework field: score every (field, column) pair by
header and values, find Y/N flag-column groups, then assign greedily (best score first, each
column once) with the one deliberate reuse: the exploitation types column also feeds the
primary exploitation type (first listed)."""

from __future__ import annotations

from dataclasses import dataclass

from tce_cli.draft.detect import ColumnProfile, value_fit
from tce_cli.draft.headers import HeaderMatch, normalise, words
from tce_cli.draft.values import matcher, value_key
from tce_cli.draft.vocab import Vocabulary, header_scorer
from tce_cli.schema import FieldType, SchemaField

THRESHOLD = 0.5
"""Lowest score that maps a column to a field."""
CLOSE = 0.1
"""A rival within this score of the chosen column is listed as an alternative."""
VALUE_ONLY = {
    "nhs_number": 0.85,
    "upn": 0.85,
    "home_postcode": 0.85,
    "lsoa21_code": 0.85,
    "ethnicity": 0.8,
    "local_authority_code": 0.75,
    "csc_status": 0.7,
    "exploitation_types": 0.7,
    "risk_level": 0.7,
    "closure_reason": 0.7,
    "education_status": 0.7,
    "disruption_actions": 0.7,
}
"""Fields whose values alone identify them (weight applied to the value fit, when >= 0.8)."""
FLAG_FIELDS = ("exploitation_types", "disruption_actions")
PAIR = ("exploitation_types", "primary_exploitation_type")


@dataclass(frozen=True)
class Candidate:
    """One way to fill a field from the file."""

    field: str
    columns: tuple[str, ...]
    score: float
    how: str
    flags: tuple[tuple[str, str], ...] = ()
    """(column, code) when the field is a group of Y/N flag columns."""

    @property
    def column(self) -> str:
        return self.columns[0]


def header_match(header: str, f: SchemaField, vocab: Vocabulary, agency_type: str) -> HeaderMatch:
    """Best header match of ``header`` for field ``f``; later synonyms lose ties."""
    synonyms = (f.name.replace("_", " "), f.label, *vocab.field_synonyms(f.name, agency_type))
    scorer = header_scorer()
    best = HeaderMatch(0.0, "", "")
    for i, synonym in enumerate(synonyms):
        match = scorer.score(header, synonym)
        score = round(match.score - 0.0005 * i, 4) if match.score else 0.0
        if score > best.score:
            best = HeaderMatch(score, match.synonym, match.how)
    return best


def score_pair(
    f: SchemaField, p: ColumnProfile, vocab: Vocabulary, agency_type: str
) -> Candidate | None:
    """Score one column for one field (None when it does not fit at all)."""
    h = header_match(p.name, f, vocab, agency_type)
    if h.score < 0.3 and f.name not in VALUE_ONLY:
        return None
    fit = value_fit(f, p) if p.filled else 0.0
    combined = h.score * (0.55 + 0.45 * fit)
    distinctive = fit >= 0.8 and _plain_coding(f, p)
    value_only = VALUE_ONLY.get(f.name, 0.0) * fit if distinctive else 0.0
    if max(combined, value_only) < 0.3:
        return None
    values = f"values fit {fit:.0%}" if p.filled else "empty in the sample"
    if combined >= value_only:
        how = f"header {h.how} '{h.synonym}' ({h.score:.2f}); {values}"
        return Candidate(f.name, (p.name,), round(combined, 3), how)
    return Candidate(f.name, (p.name,), round(value_only, 3), f"values alone: {values}")


def _plain_coding(f: SchemaField, p: ColumnProfile) -> bool:
    """False when only an alternative scheme reads the values (short codes such as NHS
    ethnic category letters also fit a column of sexes or yes/no flags)."""
    if f.type not in (FieldType.CODE, FieldType.CODE_LIST):
        return True
    return p.coding(f.name, f.type is FieldType.CODE_LIST).scheme is None


def personal_reason(
    header: str, vocab: Vocabulary, best_field_score: float, profile: ColumnProfile
) -> str | None:
    """Why a column is personal or free text (and so ignored), or None. A column of yes/no
    answers is never personal (``CSE Concern (Y/N)`` is a flag, not notes)."""
    if profile.filled and profile.share("yes_no") >= 0.8:
        return None
    best = HeaderMatch(0.0, "", "")
    reason = ""
    for why, synonyms in vocab.ignore_headers.items():
        match = header_scorer().best(header, synonyms)
        if match.score > best.score:
            best, reason = match, why
    if best.score >= 0.75 and best.score > best_field_score:
        return reason
    wordy = max(profile.share("wordy"), profile.share("long"))
    if wordy >= 0.5 and best_field_score < 0.9:
        return "free text"
    return None


def flag_code(header: str, field: str, vocab: Vocabulary) -> str | None:
    """The code a Y/N flag column stands for (``CSE Flag`` -> CSE), or None."""
    drop = {w for fw in vocab.flag_words for w in words(fw, {})}
    kept = [w for w in normalise(header).split() if w not in drop]
    if not kept:
        return None
    m = matcher(field)
    key = value_key(" ".join(kept))
    hit = m.keys.get(key)
    return hit[0] if hit else None


def flag_candidates(
    f: SchemaField, profiles: dict[str, ColumnProfile], vocab: Vocabulary
) -> Candidate | None:
    """A group of two or more Y/N columns whose headers name codes of ``f``."""
    found: list[tuple[str, str]] = []
    for name, p in sorted(profiles.items()):
        if p.filled and p.share("yes_no") < 0.8:
            continue
        code = flag_code(name, f.name, vocab)
        if code is not None and code not in {c for _, c in found}:
            found.append((name, code))
    if len(found) < 2:
        return None
    order = list(profiles)
    found.sort(key=lambda item: order.index(item[0]))
    cols = tuple(c for c, _ in found)
    how = f"{len(found)} yes/no columns named after {f.label.lower() or f.name} codes"
    return Candidate(f.name, cols, 0.9, how, tuple(found))


@dataclass(frozen=True)
class Assignment:
    """The chosen candidate per field, rivals close behind it, and the best of the rest."""

    chosen: dict[str, Candidate]
    alternatives: dict[str, tuple[Candidate, ...]]
    closest: dict[str, Candidate]
    """Unmatched fields: the best candidate below the threshold."""
    reused: dict[str, str]
    """field -> the field whose column it reuses."""


def assign(candidates: list[Candidate], field_order: list[str]) -> Assignment:
    """Greedy: best score first (ties: schema order, then column name); a column once."""
    rank = {name: i for i, name in enumerate(field_order)}
    ordered = sorted(candidates, key=lambda c: (-c.score, rank[c.field], c.columns))
    chosen: dict[str, Candidate] = {}
    used: set[str] = set()
    for cand in ordered:
        if cand.score < THRESHOLD or cand.field in chosen or used & set(cand.columns):
            continue
        chosen[cand.field] = cand
        used |= set(cand.columns)
    reused = _reuse(chosen)
    alternatives: dict[str, tuple[Candidate, ...]] = {}
    closest: dict[str, Candidate] = {}
    owner = {col: c for c in chosen.values() for col in c.columns}
    for name in field_order:
        mine = [c for c in ordered if c.field == name]
        if name in chosen:
            top = chosen[name]
            alternatives[name] = tuple(
                c
                for c in mine
                if c.columns != top.columns
                and c.score >= max(THRESHOLD, top.score - CLOSE)
                and not any(_taken(owner, col, c) for col in c.columns)
            )
        elif mine:
            closest[name] = mine[0]
    return Assignment(chosen, alternatives, closest, reused)


def _taken(owner: dict[str, Candidate], column: str, rival: Candidate) -> bool:
    """True when ``column`` already fills another field at least as well as ``rival`` would."""
    other = owner.get(column)
    return other is not None and other.field != rival.field and other.score >= rival.score


def _reuse(chosen: dict[str, Candidate]) -> dict[str, str]:
    types, primary = PAIR
    if types in chosen and primary not in chosen and not chosen[types].flags:
        src = chosen[types]
        how = "the exploitation types column, first type listed"
        chosen[primary] = Candidate(primary, src.columns, round(src.score * 0.9, 3), how)
        return {primary: types}
    if primary in chosen and types not in chosen:
        src = chosen[primary]
        how = "the primary exploitation type column (one type per row)"
        chosen[types] = Candidate(types, src.columns, round(src.score * 0.9, 3), how)
        return {types: primary}
    return {}


def all_candidates(
    fields: list[SchemaField],
    profiles: dict[str, ColumnProfile],
    vocab: Vocabulary,
    agency_type: str,
) -> list[Candidate]:
    """Every (field, column) candidate worth considering, plus flag-column groups."""
    out: list[Candidate] = []
    for f in fields:
        for p in profiles.values():
            cand = score_pair(f, p, vocab, agency_type)
            if cand is not None:
                out.append(cand)
        if f.name in FLAG_FIELDS and f.type is FieldType.CODE_LIST:
            group = flag_candidates(f, profiles, vocab)
            if group is not None:
                out.append(group)
    return out
