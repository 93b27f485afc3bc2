"""Header matching: normalise names, then score a header against a field's synonyms by exact
match, word overlap, word containment and edit distance (agency-exports.md §4)."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_PUNCT = re.compile(r"[_\-./?()'’:,;\[\]{}\"*!\\|<>#=+%]+")
_DIGITS = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")
_STOPWORDS = frozenset({"of", "the", "a", "an", "and", "to", "in", "for", "on", "at", "is"})


def normalise(header: str) -> str:
    """Comparison form of a header: camelCase split, lower-case, punctuation as spaces."""
    text = _CAMEL.sub(" ", header.strip())
    text = _PUNCT.sub(" ", text.lower())
    return " ".join(text.split())


def compact(header: str) -> str:
    """The normalised header without spaces (``LAchildID`` and ``la child id`` agree)."""
    return normalise(header).replace(" ", "")


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def words(header: str, abbreviations: Mapping[str, str]) -> frozenset[str]:
    """Content words of a header: numbers split from letters (``72hrs``), abbreviations
    expanded, plurals folded, filler dropped."""
    pieces = _DIGITS.sub(" ", normalise(header).replace("&", " ")).split()
    raw = [abbreviations.get(w, w) for w in pieces]
    kept = [_stem(w) for w in raw if len(w) > 1 and w not in _STOPWORDS]
    return frozenset(kept or (_stem(w) for w in raw))


@dataclass(frozen=True)
class HeaderMatch:
    """How well a header matches a field's synonyms."""

    score: float
    synonym: str
    how: str


NO_MATCH = HeaderMatch(0.0, "", "")


@dataclass(frozen=True)
class _Forms:
    norm: str
    compact: str
    words: frozenset[str]
    chars: Counter[str]


class HeaderScorer:
    """Scores headers against synonyms, remembering what it has worked out."""

    def __init__(self, abbreviations: Mapping[str, str]) -> None:
        self.abbreviations = dict(abbreviations)
        self._forms: dict[str, _Forms] = {}
        self._scores: dict[tuple[str, str], HeaderMatch] = {}

    def forms(self, text: str) -> _Forms:
        if text not in self._forms:
            norm = normalise(text)
            self._forms[text] = _Forms(
                norm, norm.replace(" ", ""), words(text, self.abbreviations), Counter(norm)
            )
        return self._forms[text]

    def score(self, header: str, synonym: str) -> HeaderMatch:
        """Score one header against one synonym (1 = the same name)."""
        key = (header, synonym)
        if key not in self._scores:
            self._scores[key] = self._score(self.forms(header), self.forms(synonym), synonym)
        return self._scores[key]

    @staticmethod
    def _score(h: _Forms, s: _Forms, synonym: str) -> HeaderMatch:
        if h.norm == s.norm or h.compact == s.compact:
            return HeaderMatch(1.0, synonym, "same name")
        best = NO_MATCH
        if h.words and h.words == s.words:
            best = HeaderMatch(0.97, synonym, "same words")
        common = len(h.words & s.words)
        if common:
            dice = 2 * common / (len(h.words) + len(s.words))
            best = _better(best, HeaderMatch(round(0.9 * dice, 3), synonym, "shared words"))
            if s.words <= h.words:
                contained = round(0.6 + 0.3 * len(s.words) / len(h.words), 3)
                best = _better(best, HeaderMatch(contained, synonym, "contains"))
        if _quick_ratios(h, s) >= 0.8:
            ratio = difflib.SequenceMatcher(None, h.norm, s.norm).ratio()
            if ratio >= 0.8:
                similar = HeaderMatch(round(0.9 * ratio, 3), synonym, "similar spelling")
                best = _better(best, similar)
        return best

    def best(self, header: str, synonyms: Iterable[str]) -> HeaderMatch:
        """The best-scoring synonym for ``header`` (ties: the first synonym listed)."""
        best = NO_MATCH
        for synonym in synonyms:
            match = self.score(header, synonym)
            if match.score > best.score:
                best = match
                if best.score == 1.0:
                    break
        return best


def _quick_ratios(h: _Forms, s: _Forms) -> float:
    """SequenceMatcher's ``real_quick_ratio()`` then ``quick_ratio()`` (upper bounds of
    ``ratio()``) from lengths and cached letter counts: building a SequenceMatcher for every
    header x synonym pair takes seconds on a file with 1,000 columns."""
    total = len(h.norm) + len(s.norm)
    if not total:
        return 1.0
    if 2 * min(len(h.norm), len(s.norm)) / total < 0.8:
        return 0.0
    return 2 * sum((h.chars & s.chars).values()) / total


def _better(a: HeaderMatch, b: HeaderMatch) -> HeaderMatch:
    return b if b.score > a.score else a
