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
    per_name: dict[str, list] = defaultdict(list)
    for target in version_refs(repo.git_dir):
        per_name[target.name].append(repo.manifest(target.oid))
    doc = _figures(per_name, lambda cid: locations[cid][1].length if cid in locations else None)
    packs, _ = pack_files(store)
    needed = reachable_chunks(repo)
    doc.update(stored_bytes=sum(p.size for p in packs.values()),
               unreferenced_bytes=sum(p.size for p in packs.values()
                                      if p.entries is not None and not (p.chunk_ids & needed)))
    return doc


def _figures(per_name: dict[str, list], stored_size) -> dict:
    """The figures of `du` over {artifact name: manifests of its versions}; `stored_size(chunk)` or None."""
    per_name_chunks: dict[str, set[bytes]] = defaultdict(set)
    per_name_logical: dict[str, int] = defaultdict(int)
    raw: dict[bytes, int] = {}
    for name, manifests in per_name.items():
        for manifest in manifests:
            for f in list(manifest.files) + [f for _, _, f in manifest.visualizations]:
                per_name_logical[name] += f.size
                for cid, n in f.chunks:
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


def usage_remote(repo: Repository, remote_name: str) -> dict:
    """`usage` for a remote: the same figures, from its ref table, index files and one listing of its packs."""
    from artrepo.errors import IntegrityError
    from artrepo.maintenance.remote_view import open_view, reach

    with open_view(repo, remote_name) as view:
        reached = reach(view)
        if view.problems:
            message, _ = view.problems[0]
            raise IntegrityError(f"remote {remote_name}: {message}; run 'artrepo fsck --remote {remote_name}'")
        locations = view.locations()
        indexed = view.indexed()
        per_name: dict[str, list] = defaultdict(list)
        for target, manifest in reached.versions:
            per_name[target.name].append(manifest)
        doc = _figures(per_name, lambda cid: locations[cid][1].length if cid in locations else None)
        unreferenced = [pid for pid in view.packs
                        if pid not in indexed or not any(e.chunk_id in reached.users for e in indexed[pid][1])]
        doc.update(remote=remote_name, stored_bytes=sum(i.size for i in view.packs.values()),
                   unreferenced_bytes=sum(view.packs[p].size for p in unreferenced),
                   metadata_bytes=sum(i.size for i in view.index_files.values())
                   + sum(i.size for i in view.git_files.values()))
        return doc
