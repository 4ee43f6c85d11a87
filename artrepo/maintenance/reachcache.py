"""What each commit was found to hold, kept between runs of fsck, gc and du (a rebuildable cache).

    cache = open_cache(git_dir)         # .artrepo/cache/reach
    cache.get_many(commits)             # each (name, files), NONE (no version) or None (not known)

A commit id names its tree, record and manifest for good (SHA-1 all the way
down), so what reading them proved once (the record parses, the manifest
matches its content hash, its paths are safe) stays true as long as the
objects' bytes are intact, which stock `git fsck` checks every time. With
this cache, `fsck`, `gc` and `du` read one file instead of four objects per
version: 100,000 versions in a couple of seconds. A version is kept as its
name and its stored files' sizes and chunk lists. Only commits that were
found sound are kept; the file ends with the BLAKE3 of what precedes it, and
one that does not match is ignored (and rewritten). Deleting it is always safe.
"""
from __future__ import annotations

import os
from pathlib import Path

NONE = ()  # a commit that holds no version (a run, an annotation chain)
VERSION = 2
_MIN_NEW = 64  # fewer new entries than this (and than a tenth) are not worth rewriting the file


class ReachCache:
    """`path`: the file; `seed`: another cache, read only, asked about the commits this one does not know (a
    remote's cache seeded from the local repository's: a commit id names the same objects wherever they are)."""

    def __init__(self, path: Path, seed: "ReachCache | None" = None):
        self.path = Path(path)
        self.seed = seed
        self._entries: dict[bytes, tuple] | None = None
        self._new = 0
        self._seen: set[bytes] = set()

    def _load(self) -> dict[bytes, tuple]:
        if self._entries is None:
            self._entries = {}
            try:
                data = self.path.read_bytes()
            except OSError:
                return self._entries
            from artrepo.storage.hashing import digest

            body, check = data[:-32], data[-32:]
            if len(data) > 32 and digest(body) == check:
                import msgpack

                try:
                    doc = msgpack.unpackb(body, strict_map_key=False)
                    if doc.get("v") == VERSION and type(doc.get("commits")) is dict:
                        self._entries = doc["commits"]  # [name, files] as stored; [] for NONE (see get_many)
                except Exception:
                    self._entries = {}
        return self._entries

    def get_many(self, commits: list[str]) -> list:
        """What each commit holds: (name, files), NONE or None (the file is read once; each entry is a
        (name, files) sequence)."""
        entries, seen = self._load(), self._seen
        out = []
        for commit in commits:
            raw = bytes.fromhex(commit)
            found = entries.get(raw)
            if found is not None:
                seen.add(raw)
                found = found or NONE
            out.append(found)
        if self.seed is not None and None in out:
            unknown = [i for i, found in enumerate(out) if found is None]
            for i, found in zip(unknown, self.seed.get_many([commits[i] for i in unknown])):
                if found is not None:
                    self.put(commits[i], found)
                    out[i] = found
        return out

    def put(self, commit: str, value) -> None:
        raw = bytes.fromhex(commit)
        self._load()[raw] = value
        self._seen.add(raw)
        self._new += 1

    def save(self) -> None:
        """Keep the entries of the commits seen this time (others are gone), if enough is new."""
        entries = self._load()
        if self._new < _MIN_NEW and self._new * 10 < len(entries):
            return
        import msgpack

        from artrepo.atomic import write_atomic
        from artrepo.storage.hashing import digest

        kept = {k: list(v) for k, v in entries.items() if k in self._seen}
        body = msgpack.packb({"v": VERSION, "commits": kept}, use_bin_type=True)
        try:
            write_atomic(self.path, [body, digest(body)], sync=False)  # rebuildable: no flush
        except OSError:
            return  # a read-only repository: the next run reads the objects again
        self._new = 0


def open_cache(git_dir: Path) -> ReachCache | None:
    if os.environ.get("ARTREPO_REACH_CACHE", "1") == "0":
        return None
    return ReachCache(Path(git_dir) / "cache" / "reach")


def remote_cache(path: Path, local_git_dir: Path) -> ReachCache | None:
    """The reach cache of a remote's view, kept at `path` and seeded from the local repository's (read only:
    its own file keeps the local repository's commits)."""
    local = open_cache(local_git_dir)
    return None if local is None else ReachCache(path, local)
