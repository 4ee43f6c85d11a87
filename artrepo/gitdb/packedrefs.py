"""`packed-refs`, searched in place and rewritten by splicing (git's files backend format).

    packed = packed_refs(git_dir)
    packed.get("refs/artrepo/v/iris/3")          # binary search: O(log refs)
    dict(packed.items("refs/artrepo/v/iris/"))   # the refs under a prefix, in order

The file is `<oid> SP <refname> LF` per ref, sorted by refname bytes (git
writes it sorted and says so in its header: `# pack-refs with: ... sorted`),
optionally followed by `^<peeled oid>` lines. A reader maps the file and
searches it, so looking up one ref or listing one name's versions never reads
the other 100,000 lines; a file without the `sorted` trait is sorted in memory
once. Each version of the file is parsed once per process (cached by its
inode, size and mtime).
"""
from __future__ import annotations

import os
from collections.abc import Iterator

HEADER = b"# pack-refs with: sorted \n"
_MMAP_FROM = 1 << 16  # smaller files are read whole
_CACHE: dict[str, tuple[tuple, "PackedRefs"]] = {}


def _enc(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def _dec(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class PackedRefs:
    """One version of a `packed-refs` file (bytes or a read-only mapping), sorted."""

    def __init__(self, data=b""):
        start = 0
        sorted_ = False
        if data[:1] == b"#":
            end = data.find(b"\n")
            end = len(data) if end < 0 else end
            sorted_ = b" sorted " in bytes(data[:end]) + b" "
            start = min(end + 1, len(data))
        if not sorted_:
            data, start = _sorted_copy(data[start:]), 0
        self.data = data
        self.start = start

    def __len__(self) -> int:
        """About how many refs (from the size: lines are ~80 bytes); exact counting reads the file."""
        return (len(self.data) - self.start) // 80

    def _line_end(self, pos: int) -> int:
        end = self.data.find(b"\n", pos)
        return len(self.data) if end < 0 else end

    def _next_record(self, line_end: int) -> int:
        """The start of the record after the line ending at `line_end` (peeled lines skipped)."""
        data, pos = self.data, line_end + 1
        while pos < len(data) and data[pos] == 0x5E:  # "^": the peeled value of the record before
            pos = self._line_end(pos) + 1
        return min(pos, len(data))

    def seek(self, key: bytes) -> int:
        """Offset of the first record whose refname is >= `key` (len(data) if none)."""
        data, lo, hi = self.data, self.start, len(self.data)
        while lo < hi:
            mid = (lo + hi) // 2
            ls = max(data.rfind(b"\n", lo, mid) + 1, lo)
            if data[ls] == 0x5E:  # a peeled line belongs to the record above it (lo is a record start)
                ls = max(data.rfind(b"\n", lo, ls - 1) + 1, lo)
            le = self._line_end(ls)
            if data[ls + 41:le] < key:
                lo = self._next_record(le)
            else:
                hi = ls
        return lo

    def record(self, pos: int) -> tuple[bytes, bytes, int] | None:
        """(refname, oid, offset of the next record) of the record at `pos`, None at the end."""
        if pos >= len(self.data):
            return None
        le = self._line_end(pos)
        line = self.data[pos:le]
        return line[41:], line[:40], self._next_record(le)

    def get(self, name: str) -> str | None:
        key = _enc(name)
        found = self.record(self.seek(key))
        if found is None or found[0] != key:
            return None
        return found[1].decode("ascii", "replace")

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def items(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(refname, oid) of every ref starting with `prefix`, in order (the range found by two searches,
        then split in one go)."""
        key = _enc(prefix)
        start = self.seek(key) if key else self.start
        end = self.seek(_successor(key)) if key else len(self.data)
        for line in bytes(self.data[start:end]).split(b"\n"):
            if len(line) > 41 and line[40:41] == b" " and line[:1] not in (b"^", b"#"):
                yield _dec(line[41:]), line[:40].decode("ascii", "replace")

    def holding(self, oid: str) -> Iterator[str]:
        """The refs that hold `oid`, in order (a search of the bytes for it: no other line is parsed)."""
        data, needle = self.data, f"\n{oid} ".encode()
        if data[self.start:self.start + 41] == needle[1:]:  # the first record: no newline before it
            yield _dec(data[self.start + 41:self._line_end(self.start)])
        pos = data.find(needle, self.start)
        while pos >= 0:
            yield _dec(data[pos + 42:self._line_end(pos + 42)])
            pos = data.find(needle, pos + 1)

    def folders(self, prefix: str) -> set[str]:
        """First components of the refs under `prefix/` that have a further `/` (one search per folder)."""
        start = _enc(prefix) + b"/"
        out, key = set(), start
        while (found := self.record(self.seek(key))) is not None and found[0].startswith(start):
            rest = found[0][len(start):]
            folder, slash, _ = rest.partition(b"/")
            if slash:
                out.add(_dec(folder))
                key = start + folder + b"0"  # "0" follows "/": the first ref after this folder
            else:
                key = found[0] + b"\0"
        return out

    def edited(self, add: dict[str, str], drop=()) -> bytes:
        """The bytes of this file with `add` set ({ref: oid}) and `drop` removed, still sorted.

        Splices the few changed lines into the existing bytes: rewriting a file
        of 100,000 refs for a handful of changes copies it once, in C.
        """
        edits = []
        for name in sorted(set(add) | set(drop), key=_enc):
            key = _enc(name)
            pos = self.seek(key)
            found = self.record(pos)
            end = found[2] if found is not None and found[0] == key else pos
            edits.append((pos, end, f"{add[name]} {name}\n".encode("utf-8", "surrogateescape") if name in add else b""))
        out, last = [HEADER], self.start
        for pos, end, insert in edits:
            out += [self.data[last:pos], insert]
            last = end
        out.append(self.data[last:])
        body = b"".join(bytes(p) for p in out)
        return body if body.endswith(b"\n") else body + b"\n"


def _successor(key: bytes) -> bytes:
    """The smallest byte string greater than every string starting with `key`."""
    while key and key[-1] == 0xFF:
        key = key[:-1]
    return key[:-1] + bytes([key[-1] + 1]) if key else b"\xff" * 256


def _sorted_copy(body) -> bytes:
    """Records (with their peeled lines) sorted by refname: for files written without the `sorted` trait."""
    records: list[tuple[bytes, bytes]] = []
    for line in bytes(body).split(b"\n"):
        if not line or line.startswith(b"#"):
            continue
        if line.startswith(b"^") and records:
            records[-1] = (records[-1][0], records[-1][1] + line + b"\n")
        elif not line.startswith(b"^"):
            records.append((line[41:], line + b"\n"))
    records.sort(key=lambda r: r[0])
    return b"".join(r[1] for r in records)


_EMPTY = PackedRefs(HEADER)


def packed_refs(git_dir) -> PackedRefs:
    """The current `packed-refs` of a repository (re-read only when the file changed)."""
    path = os.path.join(git_dir, "packed-refs")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return _EMPTY
    try:
        st = os.fstat(fd)
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        cached = _CACHE.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        if st.st_size >= _MMAP_FROM:
            import mmap

            data = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        else:
            data = os.read(fd, st.st_size + 1)
    finally:
        os.close(fd)
    packed = PackedRefs(data)
    _CACHE[path] = (stamp, packed)
    return packed
