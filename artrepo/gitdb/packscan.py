"""A git pack as received, read in one pass: every object with the id computed from it.

    held = scan_pack(data)        # {hex id: (type, body)}, deltas applied

A pull reads the packs it imports this way while `git index-pack` checks
them (remotes/gitpacks.py): one pass over bytes already in memory instead of
a search of the pack index per object, on the other core.
"""
from __future__ import annotations

import struct
import zlib

from artrepo.gitdb.objects import HELD_OVERHEAD
from artrepo.gitdb.gitpack import OFS_DELTA, REF_DELTA, TYPES, PackError, apply_delta, inflate_at, ofs_back

SCAN_OBJECT_MAX = 4 << 20  # scan_pack keeps objects up to this size (records and manifests are far smaller)
SCAN_TOTAL_MAX = 128 << 20  # and stops once they take this much (a pull's packs together: remotes/gitpacks.py)


def scan_pack(data, limit: int = SCAN_TOTAL_MAX) -> dict[str, tuple[str, bytes]]:
    """{hex id: (type, body)} of the objects of a pack as received (`PACK` header, entries), in one pass.

    Each id is the SHA-1 computed here over the object's type, size and body,
    so what it returns is what those ids name, whatever the pack's bytes hold.
    Deltas are applied when their base came before them in the pack (as git
    writes packs). The scan stops at the first object over SCAN_OBJECT_MAX
    bytes, once they take `limit` bytes of memory, or at the first malformed entry
    (git's import of the pack says what is wrong): what it left out is read
    from the repository as usual.
    """
    out: dict[str, tuple[str, bytes]] = {}
    try:
        if limit > 0:
            _scan(data, out, limit)
    except (PackError, zlib.error, IndexError, KeyError, struct.error):
        pass
    return out


def _scan(data, out: dict, limit: int) -> None:
    from hashlib import sha1  # OpenSSL's, imported by a pull only: twice as fast as _sha1 on small objects

    if data[:4] != b"PACK":
        return
    (count,) = struct.unpack_from(">I", data, 8)
    view = memoryview(data)  # slices without copies
    names = {code: (name.encode(), name) for code, name in TYPES.items()}
    at: dict[int, str] = {}  # entry offset -> id, for OFS_DELTA bases
    pos, total = 12, 0
    for _ in range(count):  # ~4 us an object: entry_at inlined, one dict lookup a type
        offset = pos
        c = data[pos]
        kind, size, shift = (c >> 4) & 7, c & 15, 4
        pos += 1
        while c & 0x80:
            c = data[pos]
            pos += 1
            size |= (c & 0x7F) << shift
            shift += 7
        if size > SCAN_OBJECT_MAX:
            return
        base = None
        if kind == OFS_DELTA:
            back, pos = ofs_back(data, pos)
            base = at.get(offset - back)
        elif kind == REF_DELTA:
            base = bytes(view[pos:pos + 20]).hex()
            pos += 20
        body, pos = inflate_at(view, pos, size)
        if kind == OFS_DELTA or kind == REF_DELTA:
            if base not in out:
                continue  # its base is later in the pack, or not in it: read from the repository
            name, base_body = out[base]
            body = apply_delta(base_body, body, SCAN_OBJECT_MAX)
            raw_name = name.encode()
        else:
            raw_name, name = names[kind]
        oid = sha1(b"%s %d\0%s" % (raw_name, len(body), body)).hexdigest()
        out[oid] = (name, body)
        at[offset] = oid
        total += len(body) + HELD_OVERHEAD
        if total > limit:
            return
