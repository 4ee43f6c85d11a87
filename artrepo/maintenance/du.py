"""`artrepo du`: logical size versus bytes stored, per artifact and in total.

logical_bytes   what the versions would take stored one by one, uncompressed
stored_bytes    what the pack files take on disk
unique_bytes    stored bytes of chunks that only this artifact's versions use
shared_bytes    stored bytes of chunks that several artifacts use
dedup_saved_bytes / compression_saved_bytes: where the difference went.
"""
from __future__ import annotations

from collections import defaultdict

from artrepo.maintenance.inventory import retired_packs, survey
from artrepo.maintenance.reach import reach, refuse_on_damage


def usage(view) -> dict:
    """The figures of `du` for a view (the local repository or a remote): logical, stored, shared, unreferenced."""
    reached = reach(view, cache=view.reach_cache())
    refuse_on_damage(view, reached, "nothing was counted")
    locations = view.store.index.locations
    per_name: dict[str, list] = defaultdict(list)
    for target, files in reached.versions:
        per_name[target.name].append(files)
    doc = _figures(per_name, lambda cid: locations[cid][1].length if cid in locations else None)
    packs, _ = survey(view.store)
    index = view.store.index
    retired = retired_packs(view.store, packs, index.packs, view.retired())

    def unreferenced(pid, pack) -> bool:
        if pid in retired:
            return True
        entries = index.packs.get(pid) or pack.footer
        if entries is None:
            return pack.error is None  # never read, and no index names it: it serves nothing
        return not any(e.chunk_id in reached.users for e in entries)

    doc.update(stored_bytes=sum(p.size for p in packs.values()),
               unreferenced_bytes=sum(p.size for pid, p in packs.items() if unreferenced(pid, p)),
               metadata_bytes=view.metadata_bytes())
    if view.name:
        doc["remote"] = view.name
    return doc


def _figures(per_name: dict[str, list], stored_size) -> dict:
    """The figures of `du` over {artifact name: each version's files as (size, chunks)}; `stored_size(chunk)` or None."""
    per_name_chunks: dict[str, set[bytes]] = defaultdict(set)
    per_name_logical: dict[str, int] = defaultdict(int)
    raw: dict[bytes, int] = {}
    for name, versions in per_name.items():
        for files in versions:
            for size, chunks in files:
                per_name_logical[name] += size
                for cid, n in chunks:
                    per_name_chunks[name].add(cid)
                    raw[cid] = n
    users: dict[bytes, int] = defaultdict(int)
    for chunks in per_name_chunks.values():
        for cid in chunks:
            users[cid] += 1

    def stored(cid: bytes) -> int:
        return stored_size(cid) or 0

    artifacts = []
    for name in sorted(per_name):
        chunks = per_name_chunks[name]
        artifacts.append({
            "name": name, "versions": len(per_name[name]), "logical_bytes": per_name_logical[name],
            "unique_bytes": sum(stored(c) for c in chunks if users[c] == 1),
            "shared_bytes": sum(stored(c) for c in chunks if users[c] > 1),
            "stored_bytes": sum(stored(c) for c in chunks),
        })
    logical = sum(per_name_logical.values())
    distinct_raw = sum(raw.values())
    used_stored = sum(stored(c) for c in raw)
    return {
        "logical_bytes": logical,
        "stored_bytes": used_stored,
        "referenced_stored_bytes": used_stored,
        "unreferenced_bytes": 0,
        "shared_bytes": sum(stored(c) for c, k in users.items() if k > 1),
        "dedup_saved_bytes": logical - distinct_raw,
        "compression_saved_bytes": distinct_raw - used_stored,
        "missing_chunks": sum(1 for c in raw if stored_size(c) is None),
        "artifacts": artifacts,
    }
