"""A file's text in pieces of about 32 MB, each cut at a line break.

The CSV reader reads a file as plain lines piece by piece (see _lines), so the file's bytes
and lines are never held whole: only the few numbers kept per line, and one piece.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tce_cli.read._sniff import UTF8_BOM

CHUNK = 32 * 1024 * 1024


def pieces(source: Path | bytes, eol: str, *, size: int | None = None) -> Iterator[bytes]:
    """The text (without a leading UTF-8 BOM) in pieces ending at a line break, the last
    piece at the end of the file. Each piece is copied once from the source."""
    size = size or CHUNK
    brk = eol.encode()
    if isinstance(source, bytes):
        yield from _from_bytes(source, brk, size)
        return
    carry = b""  # text after the last cut, not yet given out (usually part of a line)
    with source.open("rb") as handle:
        block = handle.read(size).removeprefix(UTF8_BOM)
        while block:
            cut = block.rfind(brk) + 1
            if cut:
                yield b"".join((carry, memoryview(block)[:cut]))
                carry = block[cut:]
            else:
                carry = b"".join((carry, block))
            block = handle.read(size)
    if carry:
        yield carry


def _from_bytes(data: bytes, brk: bytes, size: int) -> Iterator[bytes]:
    lo = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    while lo < len(data):
        cut = data.rfind(brk, lo, lo + size) + 1
        hi = lo + size
        while cut <= lo and hi < len(data):  # a line longer than a piece
            hi += size
            cut = data.rfind(brk, lo, hi) + 1
        cut = cut if cut > lo else len(data)
        yield data[lo:cut]
        lo = cut
