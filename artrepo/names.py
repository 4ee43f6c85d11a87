"""Validation of artifact names, versions and aliases, and their encoding.

Names are 1-128 characters of ASCII letters, digits and `_ - .`, in parts
joined by `::`; no part is empty or starts with `.` or `-`, and `..` never
appears. Versions and aliases follow the same rule without `::`, up to 64
characters. Anything else is refused before a byte is written.

Before a name or version becomes a git ref component, a file name or an
object key it is encoded: `.` becomes `,` and `::` becomes `+`. Both
characters are outside the allowed set, so the encoding is a bijection, never
grows the string (128 bytes fits the 255-byte component limit) and yields a
component git accepts (`x.lock` -> `x,lock`, `a::b` -> `a+b`).
"""
from __future__ import annotations

import re
from artrepo.errors import InvalidNameError
from artrepo.plain import Frozen

MAX_NAME = 128
MAX_VERSION = 64
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")
_HEX = re.compile(r"[0-9a-f]{6,40}\Z")
_SETTING = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}\Z")


def _check_part(part: str, what: str, whole: str) -> None:
    if not _PART.match(part) or ".." in part:
        raise InvalidNameError(
            f"invalid {what} {whole!r}: use ASCII letters, digits, '_', '-' and '.', "
            "not starting with '.' or '-', without '..'"
        )


def validate_name(name: object) -> str:
    """Return `name` if it is a valid artifact name, else raise InvalidNameError."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"invalid artifact name {name!r}: it must be a non-empty string")
    if len(name) > MAX_NAME:
        raise InvalidNameError(f"invalid artifact name {name[:20]!r}...: longer than {MAX_NAME} characters")
    for part in name.split("::"):
        _check_part(part, "artifact name", name)
    return name


def validate_version(version: object, what: str = "version") -> str:
    """Return `version` as a string if valid (ints are accepted and converted)."""
    if isinstance(version, int) and not isinstance(version, bool) and version >= 0:
        version = str(version)
    if not isinstance(version, str) or not version:
        raise InvalidNameError(f"invalid {what} {version!r}: it must be a non-empty string")
    if len(version) > MAX_VERSION:
        raise InvalidNameError(f"invalid {what} {version[:20]!r}...: longer than {MAX_VERSION} characters")
    _check_part(version, what, version)
    return version


def validate_tag(tag: object) -> str:
    """Tags are free text within reason: 1-128 printable characters, no newline."""
    if not isinstance(tag, str) or not tag or len(tag) > 128 or not tag.isprintable():
        raise InvalidNameError(f"invalid tag {tag!r}: 1-128 printable characters")
    return tag


def validate_setting_name(name: str, what: str) -> str:
    """The name of a remote or a stack (`what`): up to 64 letters, digits, '_' and '-', not starting with '-'."""
    if not _SETTING.match(name or ""):
        raise InvalidNameError(f"invalid {what} name {name!r}: use letters, digits, '_' and '-' (up to 64)")
    return name


def encode(component: str) -> str:
    """Encode a validated name or version as one ref/path component."""
    return component.replace("::", "+").replace(".", ",")


def decode(component: str) -> str:
    """Inverse of :func:`encode`."""
    return component.replace(",", ".").replace("+", "::")


class Reference(Frozen):
    """A parsed reference: `name`, `name:version`, `name@alias` or an id prefix."""

    __slots__ = ("text", "name", "version", "alias")

    def __init__(self, text: str, name: str | None = None, version: str | None = None, alias: str | None = None):
        self._init(text=text, name=name, version=version, alias=alias)

    @property
    def may_be_id(self) -> bool:
        return self.version is None and self.alias is None and bool(_HEX.match(self.text))


def parse_reference(text: str, version: str | int | None = None) -> Reference:
    """Parse a reference string; `version` (from an API call) overrides `:version`."""
    if not isinstance(text, str) or not text:
        raise InvalidNameError(f"invalid reference {text!r}")
    if "@" in text:
        name, _, alias = text.rpartition("@")
        validate_name(name)
        validate_version(alias, "alias")
        if version is not None:
            raise InvalidNameError(f"reference {text!r} names an alias and a version")
        return Reference(text, name=name, alias=alias)
    # split at the last single colon: `a::b:3` is name `a::b`, version `3`
    m = re.match(r"(.*[^:]|)(?<!:):(?!:)([^:]*)\Z", text)
    name, ver = (m.group(1), m.group(2)) if m else (text, None)
    validate_name(name)
    if version is not None:
        if ver is not None:
            raise InvalidNameError(f"reference {text!r} names a version and version={version!r} is also given")
        ver = version
    return Reference(text, name=name, version=None if ver is None else validate_version(ver))
