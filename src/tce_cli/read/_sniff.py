"""Look at a file's bytes: its kind, text encoding, delimiter and line endings."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tce_cli.errors import ConfigError, InputFileError
from tce_cli.read._model import Format

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
UTF8_BOM = codecs.BOM_UTF8
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 64 * 1024
_SAMPLE_RECORDS = 100
_CHUNK = 32 * 1024 * 1024
# Bytes a text file should not contain: C0 controls other than tab, LF, VT, FF, CR and
# DEL. Deleting the allowed bytes leaves only the suspicious ones.
_ALLOWED = bytes(b for b in range(256) if b >= 32 or b in (9, 10, 11, 12, 13, 26))
_LABELS = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "cp1252": "windows-1252"}
_LABELS |= {"iso8859-1": "latin-1", "latin-1": "latin-1", "utf-16": "utf-16"}
_SAVE_HINT = "Open it in Excel and save it as 'Excel Workbook (.xlsx)' or 'CSV UTF-8'."


@contextmanager
def readable(path: Path) -> Iterator[None]:
    """Turn a permission error into an InputFileError naming the file."""
    try:
        yield
    except PermissionError:
        raise InputFileError(
            f"{path.name} cannot be read (permission denied).",
            hint="Close it in Excel if it is open there, and check you may read it.",
        ) from None


def detect_format(path: Path, head: bytes, fmt: Format | None) -> Format:
    """Decide whether ``path`` is a workbook or a CSV file, from its first bytes.

    Raises:
        InputFileError: a legacy or encrypted .xls file, or a zip that is not a workbook.
    """
    if head.startswith(OLE2_MAGIC):
        raise InputFileError(
            f"{path.name} is a legacy Excel .xls file or a password-protected workbook; "
            "tce reads .xlsx and CSV files.",
            hint=f"{_SAVE_HINT} Remove any password first.",
        )
    if fmt is not None:
        return fmt
    if head.startswith(ZIP_MAGICS):
        if not _is_workbook(path):
            raise InputFileError(
                f"{path.name} is a zip file but not an Excel workbook (.xlsx).",
                hint="Give tce the .xlsx or .csv export itself, not an archive or document.",
            )
        return "xlsx"
    return "csv"


def _is_workbook(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return True  # a damaged workbook: let the workbook reader report it as corrupt
    return "xl/workbook.xml" in names or "xl/workbook.bin" in names


def check_text(path: Path, head: bytes) -> None:
    """Refuse content that is not text (binary data, or UTF-16 without a byte-order mark).

    Raises:
        InputFileError: a PDF, or more than 5% of the first bytes are control bytes or NULs.
    """
    if head.startswith(UTF16_BOMS):
        return
    sample = head[:8192]
    odd = len(sample.translate(None, delete=_ALLOWED))
    if sample.startswith(b"%PDF") or odd > max(4, 0.05 * len(sample)):
        raise InputFileError(
            f"{path.name} is not a text CSV file (it holds binary data).",
            hint="Export the data as 'CSV UTF-8' or as an .xlsx workbook and try again.",
        )


def canonical_encoding(name: str) -> str:
    """Return the label tce reports for an encoding name (``cp1252`` -> ``windows-1252``).

    Raises:
        ConfigError: Python does not know the encoding.
    """
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise ConfigError(
            f"Unknown encoding '{name}'.", hint="Use utf-8, utf-8-sig or windows-1252."
        ) from None
    return _LABELS.get(codec, codec)


def to_utf8(path: Path, raw: bytes, encoding: str | None) -> tuple[bytes, str]:
    """Return the file's text as UTF-8 bytes without a byte-order mark, and its encoding.

    With ``encoding=None`` the encoding is detected: a UTF-8 BOM gives ``utf-8-sig``, a
    UTF-16 BOM ``utf-16``, bytes that are valid UTF-8 throughout ``utf-8``; a file whose
    first invalid byte follows valid UTF-8 characters is refused (a damaged UTF-8 file);
    anything else is ``windows-1252`` (or ``latin-1`` when bytes undefined in it occur).

    Raises:
        InputFileError: the bytes do not decode with the given (or BOM-declared) encoding.
    """
    if encoding is None:
        return _detect(path, raw)
    label = canonical_encoding(encoding)
    if label in ("utf-8", "utf-8-sig"):
        body = raw[len(UTF8_BOM) :] if raw.startswith(UTF8_BOM) else raw
        _require_utf8(path, body, label, offset=len(raw) - len(body))
        return body, ("utf-8-sig" if body is not raw else "utf-8")
    return _transcode(path, raw, encoding, label), label


def _detect(path: Path, raw: bytes) -> tuple[bytes, str]:
    if raw.startswith(UTF8_BOM):
        body = raw[len(UTF8_BOM) :]
        _require_utf8(path, body, "utf-8-sig", offset=len(UTF8_BOM))
        return body, "utf-8-sig"
    if raw.startswith(UTF16_BOMS):
        return _transcode(path, raw, "utf-16", "utf-16"), "utf-16"
    bad = utf8_error(raw)
    if bad is None:
        return raw, "utf-8"
    if not raw[:bad].isascii():
        # Valid UTF-8 characters before the bad byte: a UTF-8 file with a damaged byte, not a
        # Windows-1252 file. Re-decoding it all as Windows-1252 would garble every accent.
        raise _decode_error(path, raw, bad, "utf-8", offset=0)
    try:
        return raw.decode("cp1252").encode("utf-8"), "windows-1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1").encode("utf-8"), "latin-1"


@dataclass
class Probe:
    """What a file's text holds, found as it is read (in pieces, never held whole): NULs,
    quotes, control characters, tabs, whether it is all blank, and its line breaks (counted
    over the whole file, quotes ignored)."""

    nul: bool = False
    blank: bool = True
    quote: bool = False
    controls: bool = False
    tab: bool = False
    cr: int = 0
    lf: int = 0
    crlf: int = 0

    def line_ending_counts(self) -> dict[str, int]:
        """Count CRLF, bare LF and bare CR line breaks (a CR file: every CR is a break)."""
        if not self.lf:
            return {"CRLF": 0, "LF": 0, "CR": self.cr}
        return {"CRLF": self.crlf, "LF": self.lf - self.crlf, "CR": self.cr - self.crlf}


def probe_bytes(data: bytes) -> Probe:
    """Probe UTF-8 text already in memory (see Probe), a chunk at a time."""
    found = Probe()
    last = b""
    for start in range(0, len(data), _CHUNK):
        chunk = data[start : start + _CHUNK]
        _count(found, chunk, last)
        last = chunk[-1:]
    return found


def count_piece(
    found: Probe, piece: bytes, eol: str, lines: int, line_bytes: int, bare: int
) -> None:
    """Add a piece of UTF-8 text cut at a line break (see _chunks) to ``found``.

    ``lines``, ``line_bytes`` and ``bare`` are the piece's lines as Polars splits them: how
    many, their length, and the CRs left in them. Polars drops one CR before each LF, and a
    CR ending the text, so the line breaks follow without scanning the bytes again.
    """
    breaks = lines - (0 if piece.endswith(eol.encode()) else 1)
    if eol == "\n":
        last = int(piece.endswith(b"\r"))  # dropped by Polars: a bare CR
        crlf = len(piece) - line_bytes - breaks - last
        found.lf += breaks
        found.crlf += crlf
        found.cr += crlf + bare + last
    else:
        found.cr += breaks + bare
        found.lf += piece.count(b"\n") if b"\n" in piece else 0
    found.nul = found.nul or b"\x00" in piece
    found.quote = found.quote or b'"' in piece
    found.controls = found.controls or b"\x0b" in piece or b"\x0c" in piece
    found.tab = found.tab or b"\t" in piece
    if found.blank:
        found.blank = not piece.replace(b"\x00", b"").strip()


def _count(found: Probe, chunk: bytes, last: bytes) -> None:
    found.cr += chunk.count(b"\r")
    found.lf += chunk.count(b"\n")
    found.crlf += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
    found.nul = found.nul or b"\x00" in chunk
    found.quote = found.quote or b'"' in chunk
    found.controls = found.controls or b"\x0b" in chunk or b"\x0c" in chunk
    found.tab = found.tab or b"\t" in chunk
    found.blank = found.blank and not chunk.replace(b"\x00", b"").strip()


def utf8_error(data: bytes) -> int | None:
    """Return the offset of the first byte that is not valid UTF-8, or None.

    Checks the whole file in chunks so that a bad byte deep in a big file is found
    without holding a decoded copy of the file in memory.
    """
    if data.isascii():
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for start in range(0, len(data), _CHUNK):
        chunk = view[start : start + _CHUNK]
        pending = len(decoder.getstate()[0])  # bytes of a character split across chunks
        try:
            decoder.decode(chunk, final=start + _CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            return start + exc.start - pending
    return None


def _require_utf8(path: Path, body: bytes, label: str, *, offset: int) -> None:
    bad = utf8_error(body)
    if bad is not None:
        raise _decode_error(path, body, bad, label, offset=offset)


def _transcode(path: Path, raw: bytes, codec: str, label: str) -> bytes:
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise _decode_error(path, raw, exc.start, label, offset=0) from None
    return text.removeprefix("\ufeff").encode("utf-8")


def _decode_error(path: Path, data: bytes, at: int, label: str, *, offset: int) -> InputFileError:
    line = data.count(b"\n", 0, at) + 1
    other = "windows-1252" if label.startswith("utf-8") else "utf-8"
    return InputFileError(
        f"{path.name} is not valid {label}: undecodable byte at offset {at + offset} "
        f"(around line {line}).",
        hint=f"try --encoding {other}, or re-save the file as 'CSV UTF-8'.",
    )


def strip_nuls(data: bytes) -> bytes:
    """Remove NUL bytes, which some exporters pad fields with."""
    return data.replace(b"\x00", b"") if b"\x00" in data else data


def normalise_delimiter(delimiter: str) -> str:
    """Accept ``tab`` or ``\\t`` for a tab; require one character otherwise.

    Raises:
        ConfigError: not a single plain ASCII character (or tab), or a quote.
    """
    value = {"tab": "\t", "\\t": "\t"}.get(delimiter.lower(), delimiter)
    usable = value == "\t" or (value.isascii() and value.isprintable())
    if len(value) != 1 or value in '"\r\n' or not usable:
        raise ConfigError(
            f"Delimiter {delimiter!r} cannot be used: give one plain character.",
            hint="Use one of , ; | or tab.",
        )
    return value


def sniff_delimiter(sample: str) -> str:
    """Pick the delimiter among , ; tab | that splits the first records most consistently.

    Each candidate parses the sample (quotes respected); its score is the share of
    non-blank records having the most common cell count, times that count. A comma wins
    when nothing splits the records (a one-column file).
    """
    best, best_score = ",", 0.0
    for candidate in DELIMITERS:
        counts = sample_cell_counts(sample, candidate)
        if not counts:
            continue
        width, hits = Counter(counts).most_common(1)[0]
        score = width * hits / len(counts) if width >= 2 else 0.0
        if score > best_score:
            best, best_score = candidate, score
    return best


def sample_cell_counts(sample: str, delimiter: str) -> list[int]:
    """Return the cell counts of the first 100 non-blank records in ``sample``."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    counts: list[int] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                counts.append(len(row))
            if len(counts) >= _SAMPLE_RECORDS:
                break
    except csv.Error:
        pass
    return counts


def text_sample(data: bytes) -> str:
    """Decode the first ~64 KB of UTF-8 data, cut at the last line break."""
    head = data[:SAMPLE_BYTES]
    if len(data) > SAMPLE_BYTES:
        cut = max(head.rfind(b"\n"), head.rfind(b"\r"))
        head = head[: cut + 1] if cut > 0 else head
    return head.decode("utf-8", errors="ignore")


def line_ending_label(counts: dict[str, int]) -> str | None:
    """Name the line endings: LF, CRLF, CR, mixed, or None when there is no line break."""
    kinds = [kind for kind in ("CRLF", "LF", "CR") if counts.get(kind, 0) > 0]
    if not kinds:
        return None
    return kinds[0] if len(kinds) == 1 else "mixed"


def lone_cr_to_lf(data: bytes) -> bytes:
    """Turn bare CR line breaks into LF outside quoted fields (inside them, CRs stay)."""
    parts = data.split(b'"')
    parts[0::2] = [re.sub(rb"\r(?!\n)", b"\n", part) for part in parts[0::2]]
    return b'"'.join(parts)
