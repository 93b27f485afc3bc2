"""Two independent 64-bit hashes of ``person_key``, to group and match children on integers.

Grouping or joining on a 64-bit integer is several times quicker than on the 64-character key.
Two different keys share a 64-bit hash with a chance of about n²/2⁶⁵ (1 in 37 million for a
million children), so whoever groups on ``_h1`` checks that ``_h2`` is the same within each
group and falls back to the key text when it is not: results never depend on luck.
"""

from __future__ import annotations

import polars as pl

H1, H2 = "_h1", "_h2"
SEEDS = (0x7CE1, 0x7CE2)
"""Seeds of the two hashes."""


def hashes(person: pl.Expr) -> list[pl.Expr]:
    """The two independent hashes of ``person`` (``_h1``, ``_h2``)."""
    return [person.hash(SEEDS[0]).alias(H1), person.hash(SEEDS[1]).alias(H2)]
