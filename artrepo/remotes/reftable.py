"""A remote's base ref table: `<url>/tables/<BLAKE3 hex>`, immutable, the bulk of its refs.

The ref table (`state`, state.py) holds recent changes over one base table;
when they grow past `FOLD_AT` refs, a pusher folds them into a new base. A
base table is a git `packed-refs` file (`<oid> SP <ref> LF`, sorted by ref
bytes, header `# pack-refs with: sorted `), zstd-compressed, named by the
BLAKE3 of its compressed bytes and written create-only. Downloaded once per
repository and checked whole (name, every ref name and id, strictly sorted),
it is kept decompressed under `.artrepo/remote-cache/<remote>/tables/` and
searched in place (gitdb.packedrefs): a push looks up the refs it changes,
never decodes the other 100,000.
"""
from __future__ import annotations

from pathlib import Path

from artrepo.atomic import write_atomic
from artrepo.errors import IntegrityError
from artrepo.gitdb.packedrefs import HEADER, PackedRefs
from artrepo.storage.ids import file_name

FOLDER = "tables"
FOLD_AT = 1000  # changes kept in the ref table itself before they are folded into a new base table
MAX_TABLE_BYTES = 1 << 30


def table_key(name: str) -> str:
    return f"{FOLDER}/{name}"


def encode_table(refs: dict[str, str]) -> tuple[str, bytes, bytes]:
    """(name, compressed bytes, text) of the base table holding `refs`."""
    import zstandard

    lines = sorted((f"{oid} {ref}\n".encode() for ref, oid in refs.items()), key=lambda line: line[41:])
    text = HEADER + b"".join(lines)
    data = zstandard.ZstdCompressor(level=3).compress(text)
    return file_name(data), data, text


def decode_table(data: bytes, name: str, url: str, valid) -> bytes:
    """The text of a downloaded base table, refused whole (IntegrityError) unless its name, every ref
    (`valid(ref, oid)` says why not, or None) and the order of its lines are right."""
    import zstandard

    if file_name(data) != name:
        raise IntegrityError(f"remote {url}: base ref table {name[:12]} does not match its name")
    try:
        text = zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_TABLE_BYTES)
    except zstandard.ZstdError as exc:
        raise IntegrityError(f"remote {url}: unreadable base ref table {name[:12]} ({exc})") from None
    if not text.startswith(HEADER) or not text.endswith(b"\n"):
        raise IntegrityError(f"remote {url}: base ref table {name[:12]} is not a sorted packed-refs file")
    previous = b""
    for line in text[len(HEADER):-1].split(b"\n"):
        ref = line[41:]
        if line[40:41] != b" " or ref <= previous:
            raise IntegrityError(f"remote {url}: base ref table {name[:12]} is not sorted packed-refs lines")
        why = valid(ref.decode("utf-8", "replace"), line[:40].decode("ascii", "replace"))
        if why is not None:
            raise IntegrityError(f"remote {url}: invalid ref {ref[:300]!r} in base ref table {name[:12]} ({why})")
        previous = ref
    return text


class TableCache:
    """Base tables of one remote, checked once and kept decompressed (None: kept in memory only)."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self._open: dict[str, PackedRefs] = {}

    def get(self, name: str) -> PackedRefs | None:
        found = self._open.get(name)
        if found is None and self.folder is not None:
            try:
                found = PackedRefs((self.folder / name).read_bytes())
            except FileNotFoundError:
                return None
            self._open[name] = found
        return found

    def add(self, name: str, text: bytes) -> PackedRefs:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomic(self.folder / name, text, sync=False, sync_dir=False)  # a lost copy is fetched again
            for old in self.folder.iterdir():  # one base at a time is all a repository reads
                if old.name != name and not old.name.startswith("."):
                    old.unlink(missing_ok=True)
        table = self._open[name] = PackedRefs(text)
        return table
