"""Packing loose git objects, as `git repack --geometric=2 -d` does, in pure Python.

    packed, merged = repack_objects(repo.objects)

Every loose object (reachable or not: an object a save is about to publish
is as loose as garbage) goes into one new pack, together with the packs
too small to stay apart, so that pack sizes keep a geometric progression
(each pack at least twice the one below it, by objects): a repository of a
million objects has a few dozen packs, and each object is rewritten
O(log n) times over its life. The small packs runs leave (one each) are
merged so even when nothing is loose.
Order: the new pack is durable (pack, then idx) before the packs it absorbed
and the loose files it holds are removed, so a crash at any point leaves
every object readable (at worst twice). Objects are never dropped here:
unreachable ones go when `artrepo gc` prunes (git gc, after the grace period).
The caller holds the repository's maintenance lock (one packer at a time).
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path

from artrepo.errors import IntegrityError
from artrepo.gitdb.gitpack import TYPES, PackError
from artrepo.gitdb.packwriter import PackBuilder, remove_pack
from artrepo.gitdb.objects import ObjectStore, is_oid

FACTOR = 2


def loose_objects(objects: ObjectStore) -> list[str]:
    """Ids of the loose objects (temporary files of writers in progress excluded)."""
    out = []
    root = Path(objects.git_dir) / "objects"
    for entry in os.scandir(root):
        if len(entry.name) == 2 and entry.is_dir():
            out += [entry.name + n for n in os.listdir(entry.path) if is_oid(entry.name + n)]
    return out


def count_loose(objects: ObjectStore, sample: str = "17") -> int:
    """An estimate of the number of loose objects from one of the 256 folders (as `git gc --auto`)."""
    try:
        return 256 * len(os.listdir(Path(objects.git_dir) / "objects" / sample))
    except FileNotFoundError:
        return 0


def count_packs(objects: ObjectStore) -> int:
    """How many git packs there are (each run adds one)."""
    try:
        return sum(name.endswith(".idx") for name in os.listdir(Path(objects.git_dir) / "objects" / "pack"))
    except FileNotFoundError:
        return 0


def repack_objects(objects: ObjectStore) -> tuple[int, int]:
    """Pack every loose object with the packs too small to stay apart; (objects packed, packs merged)."""
    loose = loose_objects(objects)
    absorbed = rolled_up(sorted(objects.packs(refresh=True), key=lambda p: p.count), len(loose))
    if not loose and len(absorbed) < 2:
        return 0, 0
    builder = PackBuilder(Path(objects.git_dir) / "objects" / "pack")
    try:
        for oid in loose:
            try:
                kind, body = objects.read(oid)
            except IntegrityError:
                continue  # damaged or removed meanwhile: left where it is (fsck reports damage)
            builder.add(bytes.fromhex(oid), kind, body)
        for pack in absorbed:
            _copy(objects, pack, builder)
        idx = builder.finish()
    except BaseException:
        builder.abort()
        raise
    objects.packs(refresh=True)
    for pack in absorbed:
        if pack.idx_path != idx:
            remove_pack(pack.idx_path)
    _remove_packed_loose(objects, [oid for oid in loose if bytes.fromhex(oid) in builder])
    objects.packs(refresh=True)
    return len(loose), len(absorbed)


def rolled_up(packs: list, loose: int) -> list:
    """The packs (smallest first) to merge with `loose` objects, as `git repack --geometric=2` picks them:
    the biggest packs that keep the progression stay, then as many more as the new pack's size requires."""
    split = 0
    for i in range(len(packs) - 1, 0, -1):
        if packs[i].count < FACTOR * packs[i - 1].count:
            split = i + 1
            break
    roll = loose + sum(p.count for p in packs[:split])
    while split < len(packs) and packs[split].count < FACTOR * roll:
        roll += packs[split].count
        split += 1
    return packs[:split]


def _copy(objects: ObjectStore, pack, builder: PackBuilder) -> None:
    """Every entry of `pack` into `builder`: whole objects as stored (CRC checked), deltas resolved."""
    data = pack.pack
    for raw, code, start, stop, crc in pack.raw_entries():
        if raw in builder:
            continue
        entry = data[start:stop]
        if code in TYPES and zlib.crc32(entry) == crc:
            builder.add_raw(raw, entry)
            continue
        try:
            kind, body = objects.read(raw.hex())
        except IntegrityError:
            raise IntegrityError(f"git pack {pack.pack_path.name}: object {raw.hex()[:12]} is damaged; "
                                 "nothing was repacked") from None
        except PackError as exc:
            raise IntegrityError(f"git pack {pack.pack_path.name}: {exc}") from None
        builder.add(raw, kind, body)


def _remove_packed_loose(objects: ObjectStore, oids: list[str]) -> None:
    """Delete loose copies of objects now in a durable pack (as git prune-packed; the folders stay:
    the next saves would only make them again)."""
    root = Path(objects.git_dir) / "objects"
    for oid in oids:
        try:
            os.unlink(root / oid[:2] / oid[2:])
        except FileNotFoundError:
            pass
