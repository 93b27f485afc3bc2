"""Keyed pseudonyms for children: ``person_key`` = HMAC-SHA-256(key, "<BASIS>:<identifier>").

The identifier is the first present of NHS number, UPN, local authority child id and the
agency's own person id (``schema.IDENTIFIER_PRIORITY``), normalised so that the same child gets
the same key in every agency's data (domain §5). The HMAC is computed inside Polars with the
``polars_hash`` SHA-256 plugin (RFC 2104 built from two hashes), about a million keys a second,
with no Python loop over rows.

Keys are 32 or more random bytes, written as hex (or base64) text in a key file or in the
``TCE_KEY`` environment variable. Only a fingerprint of the key is ever shown or stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl
import polars_hash as plh

from tce_cli.errors import KeyFileError
from tce_cli.schema import IDENTIFIER_PRIORITY

KEY_ENV = "TCE_KEY"
MIN_KEY_BYTES = 32
KEY_BYTES = 32
_BLOCK = 64  # SHA-256 block size in bytes (RFC 2104 "B")

_MISSING_HINT = (
    "Run 'tce keygen tce.key' once and keep the file safe, then pass --key-file tce.key "
    f"or set {KEY_ENV}"
)
_FORMAT_HINT = (
    f"A key is the text written by 'tce keygen': at least {MIN_KEY_BYTES} random bytes as hex "
    "(64 characters) or base64. Ask the key custodian for the partnership's key file."
)
_HEX = re.compile(r"^[0-9a-fA-F]+$")


# --- identifiers -------------------------------------------------------------------------


def normalise_identifier(expr: pl.Expr, basis: str) -> pl.Expr:
    """Normalise an identifier column for hashing; blank becomes null.

    - ``NHS``: spaces, tabs and hyphens removed (``943 476 5919`` = ``943-476-5919``).
    - ``UPN``: all whitespace removed, upper-cased.
    - ``LA_ID`` and ``AGENCY_ID``: surrounding whitespace stripped, upper-cased.
    """
    text = expr.cast(pl.String)
    if basis == "NHS":
        text = text.str.replace_all(r"[\s\-]", "")
    elif basis == "UPN":
        text = text.str.replace_all(r"\s", "").str.to_uppercase()
    elif basis in ("LA_ID", "AGENCY_ID"):
        text = text.str.strip_chars().str.to_uppercase()
    else:
        raise ValueError(f"unknown person_key basis {basis!r}")
    return pl.when(text.str.len_bytes() > 0).then(text)


def available_identifiers(columns: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """The (column, basis) pairs of ``IDENTIFIER_PRIORITY`` present in ``columns``, in order."""
    present = set(columns)
    return tuple((name, basis) for name, basis in IDENTIFIER_PRIORITY if name in present)


def person_key_exprs(key: bytes, identifiers: Sequence[tuple[str, str]]) -> tuple[pl.Expr, pl.Expr]:
    """Expressions for ``person_key`` and ``person_key_basis``.

    Per row, the first identifier column (in the order given) that is non-blank after
    normalising is hashed as ``HMAC-SHA-256(key, "<BASIS>:<normalised id>")`` and written as 64
    lower-case hex characters; its basis (``NHS``, ``UPN``, ``LA_ID``, ``AGENCY_ID``) goes in
    ``person_key_basis``. Both are null when a row has no identifier.

    Args:
        key: the secret key bytes (see :func:`load_key`).
        identifiers: (column, basis) pairs in priority order, usually
            ``available_identifiers(frame.columns)``.
    """
    if not identifiers:
        null = pl.lit(None, dtype=pl.String)
        return null.alias("person_key"), null.alias("person_key_basis")
    normalised = [(normalise_identifier(pl.col(c), b), b) for c, b in identifiers]
    message = pl.coalesce([pl.lit(f"{basis}:") + norm for norm, basis in normalised])
    basis_expr = pl.coalesce(
        [pl.when(norm.is_not_null()).then(pl.lit(basis)) for norm, basis in normalised]
    )
    return hmac_sha256_expr(key, message).alias("person_key"), basis_expr.alias("person_key_basis")


def add_person_key(
    frame: pl.LazyFrame, key: bytes, *, drop_identifiers: bool = True
) -> pl.LazyFrame:
    """Add ``person_key`` and ``person_key_basis`` from the identifier columns present.

    With ``drop_identifiers`` (the default) the raw identifier columns are removed in the
    same step, so they cannot reach any output by accident.
    """
    columns = frame.collect_schema().names()
    identifiers = available_identifiers(columns)
    key_expr, basis_expr = person_key_exprs(key, identifiers)
    out = frame.with_columns(key_expr, basis_expr)
    if drop_identifiers:
        out = out.drop([name for name, _ in identifiers])
    return out


# --- HMAC in Polars ----------------------------------------------------------------------


def _sha256_hex(expr: pl.Expr) -> pl.Expr:
    """SHA-256 of a String or Binary expression, as 64 lower-case hex characters."""
    hashed: pl.Expr = plh.CryptographicHashingNameSpace(expr).sha2_256()
    return hashed


def hmac_sha256_expr(key: bytes, message: pl.Expr) -> pl.Expr:
    """HMAC-SHA-256 (RFC 2104) of a String expression (UTF-8 bytes) as lower-case hex.

    Equals ``hmac.new(key, message.encode(), hashlib.sha256).hexdigest()``; null stays null.
    The key-derived pads are Series literals, so they never appear in a printed query plan
    or a Polars error message.
    """
    block = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
    block = block.ljust(_BLOCK, b"\0")
    ipad = _hidden_literal(bytes(b ^ 0x36 for b in block).hex())
    opad = _hidden_literal(bytes(b ^ 0x5C for b in block).hex())
    inner_bytes = pl.concat_str([ipad, message.str.encode("hex")]).str.decode("hex")
    inner_hex = _sha256_hex(inner_bytes)
    outer_bytes = pl.concat_str([opad, inner_hex]).str.decode("hex")
    name = message.meta.output_name(raise_if_undetermined=False) or "hmac_sha256"
    return _sha256_hex(outer_bytes).alias(name)


def _hidden_literal(text: str) -> pl.Expr:
    # A one-value Series literal prints as "Series[tce_key_pad]" in query plans and Polars
    # error messages, where a scalar literal would print the key-derived pad itself.
    return pl.lit(pl.Series("tce_key_pad", [text], dtype=pl.String))


# --- keys --------------------------------------------------------------------------------


def parse_key(text: str, *, source: str) -> bytes:
    """Decode key text (hex, else base64) into bytes.

    Raises:
        KeyFileError: when the text is neither, or decodes to fewer than 32 bytes. The
            message names ``source`` and never quotes the text.
    """
    cleaned = "".join(text.split())
    if not cleaned:
        raise KeyFileError(f"The key in {source} is empty.", hint=_FORMAT_HINT)
    key: bytes | None = None
    if _HEX.match(cleaned) and len(cleaned) % 2 == 0:
        key = bytes.fromhex(cleaned)
    else:
        try:
            key = base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError):
            try:
                key = base64.urlsafe_b64decode(cleaned)
            except (binascii.Error, ValueError):
                key = None
    if key is None:
        raise KeyFileError(f"The key in {source} is not hex or base64 text.", hint=_FORMAT_HINT)
    if len(key) < MIN_KEY_BYTES:
        raise KeyFileError(
            f"The key in {source} is too short ({len(key)} bytes; at least "
            f"{MIN_KEY_BYTES} are needed).",
            hint=_FORMAT_HINT,
        )
    return key


def load_key(key_file: Path | None, env: Mapping[str, str]) -> bytes:
    """Load the pseudonymisation key from ``key_file``, else from ``env["TCE_KEY"]``.

    The caller decides precedence between options and config (``config.resolve``): pass the
    resolved key file, or None to fall back to the environment.

    Raises:
        KeyFileError: no key anywhere, the file is unreadable, or the key is malformed/short.
    """
    if key_file is not None:
        try:
            text = Path(key_file).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyFileError(
                f"Key file '{key_file}' does not exist.", hint=_MISSING_HINT
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not text"
            raise KeyFileError(
                f"Cannot read key file '{key_file}' ({reason}).",
                hint="Check the path and that you may read the file.",
            ) from None
        return parse_key(text, source=f"key file '{key_file}'")
    env_text = env.get(KEY_ENV)
    if env_text is None or not env_text.strip():
        raise KeyFileError(
            f"No pseudonymisation key: pass --key-file or set {KEY_ENV}.", hint=_MISSING_HINT
        )
    return parse_key(env_text, source=f"the {KEY_ENV} environment variable")


def key_fingerprint(key: bytes) -> str:
    """A short, non-secret id of a key: ``sha256:`` + 16 hex characters.

    Two stores or runs with the same fingerprint used the same key. The fingerprint cannot be
    used to compute pseudonyms.
    """
    return "sha256:" + hashlib.sha256(b"tce-fingerprint:" + key).hexdigest()[:16]


def generate_key(path: Path, *, force: bool = False) -> str:
    """Write a new random key (32 bytes as 64 hex characters) to ``path`` with mode 0600.

    Refuses to replace an existing file unless ``force``; with ``force`` the old key is
    replaced atomically. Returns the new key's fingerprint.

    Raises:
        KeyFileError: ``path`` exists and ``force`` is false, or it cannot be written.
    """
    from tce_cli.safe_io import atomic_write_text

    key = secrets.token_bytes(KEY_BYTES)
    text = key.hex() + "\n"
    path = Path(path)
    if path.is_dir():
        raise KeyFileError(
            f"'{path}' is a folder.", hint="Give a file name, e.g. 'tce keygen tce.key'."
        )
    if force and path.exists():
        atomic_write_text(path, text, mode=0o600)
        return key_fingerprint(key)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(
            f"Key file '{path}' already exists; tce will not overwrite a key.",
            hint="Replacing the key breaks linkage with every earlier quarter. If you are "
            "sure, re-run with --force.",
        ) from None
    except OSError as exc:
        raise KeyFileError(
            f"Cannot create key file '{path}' ({exc.strerror}).",
            hint="Check that the folder exists and you may write there.",
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), 0o600)  # in case the umask removed owner bits
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return key_fingerprint(key)
