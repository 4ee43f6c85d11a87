"""Tags as ZenML has them: objects with `.name` that compare equal to their text.

A version's tags are its record's tags, then each annotation in time order
adds its `tags` and takes away its `removed_tags` (docs/format.md §7). An
artifact (a name, all its versions) has tags of its own, kept as annotations
under `artifact_key(name)`.

    av.tags == ["trained"]; av.tags[0].name == "trained"
"""
from __future__ import annotations

from artrepo import names
from artrepo.errors import UserError


class Tag(str):
    """A tag: a `str` (equal to its text, usable wherever a string is) with ZenML's `.name`.

        Tag(name="production") == "production"
    """

    __slots__ = ()

    def __new__(cls, name: str | None = None, color: object = None, exclusive: bool | None = None,
                cascade: bool | None = None):
        if name is None:
            raise UserError("a tag needs a name: Tag(name=...)")
        unsupported = [k for k, v in (("color", color), ("exclusive", exclusive), ("cascade", cascade)) if v]
        if unsupported:
            raise UserError(f"artrepo tags have a name only, not {', '.join(unsupported)} (ZenML dashboard "
                            "options); pass Tag(name=...) or the plain string")
        return super().__new__(cls, name)

    name = property(str.__str__)  # the plain text

    def __repr__(self) -> str:
        return f"Tag({self.name!r})"

    def __reduce__(self):
        return Tag, (self.name,)


def tag_names(tags) -> list[str]:
    """Plain strings from a str, a Tag, or a list of them (ZenML's `tags=` argument)."""
    if tags is None:
        return []
    if isinstance(tags, str):
        return [str.__str__(tags)]
    return [str.__str__(t) if isinstance(t, str) else _name_of(t) for t in tags]


def validated_tags(tags) -> tuple[str, ...]:
    """`tag_names(tags)`, each checked (`names.validate_tag`), each once, in order."""
    out = tuple(dict.fromkeys(tag_names(tags)))
    for t in out:
        names.validate_tag(t)
    return out


def _name_of(tag) -> str:
    name = getattr(tag, "name", None)
    if not isinstance(name, str):
        raise UserError(f"a tag is a string or a Tag, not {tag!r}")
    return name


def effective_tags(record_tags, annotations) -> list[Tag]:
    """The tags in force: `record_tags`, then each annotation's additions and removals in order."""
    out: list[Tag] = []
    for t in record_tags:
        if t not in out:
            out.append(Tag(t))
    for note in annotations:
        out.extend(Tag(t) for t in note.tags if t not in out)
        removed = set(note.removed_tags)
        out = [t for t in out if t not in removed]
    return out


def artifact_key(name: str) -> str:
    """The annotation key of the artifact `name` itself: 40 hex digits, like a version id."""
    import hashlib  # OpenSSL: not on the path of a cached run

    return hashlib.sha1(b"artifact\0" + name.encode()).hexdigest()
