"""Value recodes: match each distinct source value of a code column to a framework code.

Stages, first hit wins: what tce already understands (codes, labels, built-in aliases, see
transform.recode_table); the drafting aliases (data/synonyms.yaml); the same with punctuation
ignored; a lettered or coded prefix removed (Annex A ``a) Male``, ``C1: ICO``); an NHS ethnic
category letter with a local sub-code (``A1``); the same words in another order; a similar
spelling (difflib ratio >= 0.8); a value containing exactly one code's label.

Work over a column's values is vectorised (value counts, split and explode in Polars); only the
distinct values are looped over.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from tce_cli.draft.vocab import load_vocabulary
from tce_cli.mapping import FieldSpec
from tce_cli.schema import load_schema
from tce_cli.transform import _norm_text as transform_key
from tce_cli.transform import recode_table

SEPARATORS = (";", "|", ",", "/")
"""Multi-value separators tried, in order of preference."""
SIMILARITY = 0.8
BLANK_WORDS = frozenset({"N A", "NA", "NULL", "NIL", "-", "--", "NOT APPLICABLE", "BLANK"})
_PREFIX = re.compile(r"^\s*(?:[a-zA-Z]\)|[A-Z]{1,2}\d{0,2}\s*[:)]|\d{1,2}\s*[):.]|\d{1,2}\s+-)\s*")
_SUBCODE = re.compile(r"^([A-Z])\d{1,2}$")
_POS = re.compile(r"(?<=[A-Z])\+")
_NEG = re.compile(r"(?<=[A-Z])-(?=\s|$)")


def value_key(text: str) -> str:
    """Comparison form of a value: upper-case, punctuation as spaces (kept if nothing else);
    a sign after a word survives as a word (``RG+`` -> ``RG POSITIVE``)."""
    upper = _NEG.sub(" NEGATIVE", _POS.sub(" POSITIVE", text.upper()))
    key = " ".join(re.sub(r"[^0-9A-Z✓]+", " ", upper).split())
    return key or text.strip()


def _words(key: str) -> frozenset[str]:
    return frozenset(key.split())


_NEGATIONS = frozenset({"NOT", "NO", "NON", "NEVER", "NONE", "WITHOUT"})


def _negated(key: str) -> bool:
    """True when a value says 'not': fuzzy matches must agree (``Open to CSC`` is not
    ``Not open to CSC``)."""
    return bool(_NEGATIONS & _words(key))


@dataclass(frozen=True)
class Recode:
    """What one distinct source value recodes to."""

    source: str
    rows: int
    code: str | None
    how: str
    confidence: float
    builtin: bool = False
    """True when tce recodes it already (a code, a label or a built-in alias)."""

    @property
    def matched(self) -> bool:
        return self.code is not None


class CodeMatcher:
    """Recodes values for one framework code field, optionally with one coding scheme."""

    def __init__(self, field: str, scheme: str | None = None) -> None:
        schema = load_schema()
        vocab = load_vocabulary()
        self.field = field
        self.scheme = scheme
        self.code_list = schema.field(field).codes or ""
        codes = schema.codes(field)
        self.builtin = recode_table(schema, field, FieldSpec(column="_"))
        self._builtin_how: dict[str, str] = {}
        for code, label in codes.items():
            self._builtin_how.setdefault(transform_key(code), "code")
            self._builtin_how.setdefault(transform_key(label), "label")
        scheme_table = vocab.schemes.get(self.code_list, {}).get(scheme or "", {})
        sources: list[tuple[dict[str, str], str]] = [
            ({c: c for c in codes}, "code"),
            ({label: c for c, label in codes.items()}, "label"),
            (schema.aliases_for(field), "built-in alias"),
            (scheme_table, scheme or ""),
            (vocab.values.get(self.code_list, {}), "alias"),
        ]
        keys: dict[str, tuple[str, str]] = {}
        for table, how in sources:
            for source, code in table.items():
                keys.setdefault(value_key(source), (code, how))
        self.keys = keys
        self._letters = {k for k in map(value_key, scheme_table) if len(k) == 1}
        self._compact = {k.replace(" ", ""): v for k, v in sorted(keys.items()) if len(k) >= 4}
        self._fuzzy = sorted(k for k in keys if len(k) >= 3)
        self._by_words = {_words(k): v for k, v in sorted(keys.items())}

    def match(self, value: str, rows: int = 0, *, fuzzy: bool = True) -> Recode:
        """Recode one source value (``fuzzy=False`` skips the slow similarity stages)."""
        tkey = transform_key(value)
        if tkey in self.builtin:
            how = self._builtin_how.get(tkey, "built-in alias")
            return Recode(value, rows, self.builtin[tkey], how, 1.0, builtin=True)
        if "?" in value and value.strip() != "?":
            return Recode(value, rows, None, "not matched (a '?' marks a guess)", 0.0)
        found = self._exact(value)
        if found is not None:
            code, how, conf = found
            return Recode(value, rows, code, how, conf)
        if fuzzy:
            for stage in (self._same_words, self._similar, self._contains):
                hit = stage(value_key(value))
                if hit is not None:
                    return Recode(value, rows, hit[0], hit[1], hit[2])
        if value_key(value) in BLANK_WORDS:
            return Recode(value, rows, "", "placeholder for blank", 0.9)
        return Recode(value, rows, None, "not matched", 0.0)

    def _exact(self, value: str) -> tuple[str, str, float] | None:
        key = value_key(value)
        if key in self.keys:
            code, how = self.keys[key]
            exact = key == transform_key(value)
            return code, how if exact else f"{how}, punctuation ignored", 0.97
        if key.replace(" ", "") in self._compact:
            code, how = self._compact[key.replace(" ", "")]
            return code, f"{how}, spacing ignored", 0.95
        stripped = _PREFIX.sub("", value.strip(), count=1)
        if stripped and stripped != value.strip():
            skey = value_key(stripped)
            if skey in self.keys:
                return self.keys[skey][0], f"{self.keys[skey][1]} after a prefix", 0.95
        sub = _SUBCODE.match(key)
        if sub and sub.group(1) in self._letters:
            return self.keys[sub.group(1)][0], f"{self.scheme} with a local sub-code", 0.85
        return None

    def _same_words(self, key: str) -> tuple[str, str, float] | None:
        hit = self._by_words.get(_words(key))
        return (hit[0], "same words in another order", 0.9) if hit else None

    def _similar(self, key: str) -> tuple[str, str, float] | None:
        if len(key) < 4:
            return None
        close = difflib.get_close_matches(key, self._fuzzy, n=3, cutoff=SIMILARITY)
        if not close:
            return None
        close = [c for c in close if _negated(c) == _negated(key)]
        if not close:
            return None
        ratios = [difflib.SequenceMatcher(None, key, c).ratio() for c in close]
        rivals = {self.keys[c][0] for c, r in zip(close, ratios, strict=True) if r == ratios[0]}
        if len(rivals) > 1:
            return None
        return self.keys[close[0]][0], f"similar to '{close[0]}'", round(ratios[0], 2)

    def _contains(self, key: str) -> tuple[str, str, float] | None:
        """The code whose key is the longest one found inside the value; keys of any length
        count as rivals (``CP/LAC`` holds CP and LAC: no match)."""
        words = _words(key)
        found = [
            (len(_words(k)), k)
            for k in self.keys
            if _words(k) <= words and _negated(k) == _negated(key)
        ]
        if not found:
            return None
        top = max(n for n, _ in found)
        best = sorted(k for n, k in found if n == top)
        codes = {self.keys[k][0] for k in best}
        if len(codes) != 1 or not any(len(w) >= 3 for k in best for w in k.split()):
            return None
        return codes.pop(), f"contains '{best[0]}'", 0.75


@functools.cache
def matcher(field: str, scheme: str | None = None) -> CodeMatcher:
    """The (cached) matcher of a code field."""
    return CodeMatcher(field, scheme)


def distinct_counts(series: pl.Series, split: str | None = None) -> list[tuple[str, int]]:
    """Distinct trimmed non-blank values (or pieces after ``split``) with row counts,
    most frequent first, ties by value."""
    text = series.cast(pl.String).str.strip_chars()
    if split is not None:
        text = text.str.split(split).explode().str.strip_chars()
    text = text.filter(text.is_not_null() & (text != ""))
    counts = text.value_counts(name="n").sort(["n", text.name], descending=[True, False])
    return [(str(v), int(n)) for v, n in counts.iter_rows()]


def recoded_share(recodes: Sequence[Recode]) -> float:
    """Share of rows whose value recodes to a code."""
    total = sum(r.rows for r in recodes)
    return sum(r.rows for r in recodes if r.matched) / total if total else 0.0


@dataclass(frozen=True)
class Coding:
    """How a column codes a field: the scheme and separator that recognise most rows."""

    scheme: str | None
    split: str | None
    share: float


Pieces = Callable[[str], list[tuple[str, int]]]
"""Distinct pieces (with row counts) of a column split on a separator."""


def column_coding(
    field: str, values: list[tuple[str, int]], pieces: Pieces, *, multi: bool, fuzzy: bool
) -> Coding:
    """Choose the coding scheme, then (code-list fields only) the separator, that recognise
    most of a column's ``values``.

    A separator is kept when splitting on it recognises more rows than not splitting, or when
    nothing is recognised but it appears in at least a tenth of the distinct values and some
    piece appears in several values (a multi-valued column of local words).
    """
    if not values:
        return Coding(None, None, 0.0)
    code_list = load_schema().field(field).codes or ""
    scheme, whole = None, _share(matcher(field), values, fuzzy)
    for name in sorted(load_vocabulary().schemes.get(code_list, {})):
        share = _share(matcher(field, name), values, fuzzy)
        if share > whole:
            scheme, whole = name, share
    if whole >= 0.999 or not multi:
        return Coding(scheme, None, whole)
    m = matcher(field, scheme)
    best: tuple[float, str | None] = (whole, None)
    for sep in SEPARATORS:
        with_sep = [v for v, _ in values if sep in v]
        if not with_sep:
            continue
        split = pieces(sep)
        share = _share(m, split, fuzzy)
        if share > best[0] + 0.02:
            best = (share, sep)
        elif (
            best[1] is None
            and whole == 0
            and len(with_sep) * 10 >= len(values)
            and len(split) < sum(len(v.split(sep)) for v, _ in values)
        ):
            best = (0.0, sep)
    return Coding(scheme, best[1], best[0])


def _share(m: CodeMatcher, values: list[tuple[str, int]], fuzzy: bool) -> float:
    return recoded_share([m.match(v, n, fuzzy=fuzzy) for v, n in values])
