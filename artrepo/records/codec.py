"""Canonical msgpack: sorted map keys, bounded decoding, schema check."""
from __future__ import annotations

import contextlib

import msgpack

from artrepo.errors import FormatError

MAX_RECORD = 64 * 1024 * 1024


def _canonical(value):
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def encode(doc: dict) -> bytes:
    return msgpack.packb(_canonical(doc), use_bin_type=True)


def decode(data: bytes, kind: str, schema: int) -> dict:
    """Decode a record of `kind`; refuse other kinds and unknown schemas."""
    if len(data) > MAX_RECORD:
        raise FormatError(f"{kind} record of {len(data)} bytes is larger than the {MAX_RECORD}-byte limit")
    try:
        doc = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:
        raise FormatError(f"unreadable {kind} record ({exc})") from None
    if not isinstance(doc, dict) or doc.get("kind") != kind:
        raise FormatError(f"not a {kind} record")
    if doc.get("schema") != schema:
        raise FormatError(f"{kind} record schema {doc.get('schema')!r} is not supported (expected {schema})")
    return doc


@contextlib.contextmanager
def fields(kind: str):
    """Turn a missing or misshaped field while building a record into a FormatError."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FormatError(f"malformed {kind} record ({type(exc).__name__}: {exc})") from None
