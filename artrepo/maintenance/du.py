"""`artrepo du`: logical size versus bytes stored, per artifact and in total.

logical_bytes   what the versions would take stored one by one, uncompressed
stored_bytes    what the pack files take on disk
unique_bytes    stored bytes of chunks that only this artifact's versions use
shared_bytes    stored bytes of chunks that several artifacts use
dedup_saved_bytes / compression_saved_bytes: where the difference went.
"""
from __future__ import annotations

from collections import defaultdict

from artrepo.maintenance.inventory import pack_files, version_refs
from artrepo.maintenance.reach import reachable_chunks
from artrepo.repository import Repository


def usage(repo: Repository) -> dict:
    store = repo.chunks
    store.index.refresh()
    locations = store.index.locations
    per_name_chunks: dict[str, set[bytes]] = defaultdict(set)
    per_name_logical: dict[str, int] = defaultdict(int)
    per_name_versions: dict[str, int] = defaultdict(int)
    raw: dict[bytes, int] = {}
    for target in version_refs(repo.git_dir):
        manifest = repo.manifest(target.oid)
        files = list(manifest.files) + [f for _, _, f in manifest.visualizations]
        per_name_versions[target.name] += 1
        for f in files:
            per_name_logical[target.name] += f.size
            for cid, n in f.chunks:
                per_name_chunks[target.name].add(cid)
                raw[cid] = n
    users: dict[bytes, int] = defaultdict(int)
    for chunks in per_name_chunks.values():
        for cid in chunks:
            users[cid] += 1

    def stored(cid: bytes) -> int:
        loc = locations.get(cid)
        return loc[1].length if loc else 0

    packs, _ = pack_files(store)
    needed = reachable_chunks(repo)
    unreferenced = sum(p.size for p in packs.values() if p.entries is not None and not (p.chunk_ids & needed))
    artifacts = []
    for name in sorted(per_name_chunks.keys() | per_name_versions.keys()):
        chunks = per_name_chunks[name]
        artifacts.append({
            "name": name, "versions": per_name_versions[name], "logical_bytes": per_name_logical[name],
            "unique_bytes": sum(stored(c) for c in chunks if users[c] == 1),
            "shared_bytes": sum(stored(c) for c in chunks if users[c] > 1),
            "stored_bytes": sum(stored(c) for c in chunks),
        })
    logical = sum(per_name_logical.values())
    distinct_raw = sum(raw.values())
    used_stored = sum(stored(c) for c in raw)
    return {
        "logical_bytes": logical,
        "stored_bytes": sum(p.size for p in packs.values()),
        "referenced_stored_bytes": used_stored,
        "unreferenced_bytes": unreferenced,
        "shared_bytes": sum(stored(c) for c, k in users.items() if k > 1),
        "dedup_saved_bytes": logical - distinct_raw,
        "compression_saved_bytes": distinct_raw - used_stored,
        "missing_chunks": sum(1 for c in raw if c not in locations),
        "artifacts": artifacts,
    }
