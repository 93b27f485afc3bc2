"""A file's text in pieces of about 32 MB, each cut at a line break.

Reading a big export piece by piece keeps memory to the parsed cells plus one piece: the
file's bytes are never held whole, nor memory-mapped (a mapped file counts towards the
process's memory as it is read). Pieces that Polars parses as CSV records are cut only
where no quoted value is open, so every piece starts at the start of a record.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tce_cli.read._sniff import UTF8_BOM

CHUNK = 32 * 1024 * 1024
_TRIES = 64  # earlier line breaks tried before reading on (a very long quoted value)


def blocks(source: Path | bytes, size: int | None = None) -> Iterator[bytes]:
    """The source's bytes in order, ``size`` (default CHUNK) at a time, without a leading
    UTF-8 BOM."""
    size = size or CHUNK
    if isinstance(source, bytes):
        view = memoryview(source)
        start = len(UTF8_BOM) if source.startswith(UTF8_BOM) else 0
        for i in range(start, len(source), size):
            yield bytes(view[i : i + size])
        return
    with source.open("rb") as handle:
        first = handle.read(size)
        if first:
            yield first.removeprefix(UTF8_BOM)
        while block := handle.read(size):
            yield block


def pieces(
    source: Path | bytes, eol: str, *, quoted: bool, size: int | None = None
) -> Iterator[bytes]:
    """The text in pieces ending at a line break (the last piece at the end of the file).

    With ``quoted``, a piece ends only at a line break outside quoted values: where the count
    of quote characters since the start of the file is even (the file fits RFC 4180, so
    quotes come in pairs within each value).
    """
    brk = eol.encode()
    buf = b""
    for block in blocks(source, size):
        buf = buf + block if buf else block
        cut = _cut(buf, brk, quoted)
        if cut:
            yield buf[:cut]
            buf = buf[cut:]
    if buf:
        yield buf


def _cut(buf: bytes, brk: bytes, quoted: bool) -> int:
    """Where to end a piece of ``buf`` (just after a line break); 0 to read on."""
    cut = buf.rfind(brk) + 1
    for _ in range(_TRIES):
        if cut <= 0 or not quoted or buf.count(b'"', 0, cut) % 2 == 0:
            return max(cut, 0)
        cut = buf.rfind(brk, 0, cut - 1) + 1
    return 0
