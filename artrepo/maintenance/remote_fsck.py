"""`artrepo fsck --remote NAME`: prove that every ref of a remote reaches complete, intact data.

Checks what the remote's own objects prove (remote_view.py): every ref in
the ref table reaches a commit in the remote's git packs, stock `git fsck
--strict` passes on them, every reachable record and manifest parses; every
chunk of every reachable manifest is named by an index file of the table,
its pack exists with the size and id its index entries imply. With
`read_data`, every pack holding a reachable chunk is downloaded, one at a
time, and verified (pack id, bounded decompression, BLAKE3 of every chunk)
in memory; nothing is written locally and nothing is ever unpickled.
"""
from __future__ import annotations

from collections import defaultdict

from artrepo.errors import IntegrityError
from artrepo.maintenance.fsck import FsckReport, Problem
from artrepo.maintenance.remote_view import expected_pack, git_connectivity, open_view, pack_size, reach


def fsck_remote(repo, remote_name: str, *, read_data: bool = False) -> FsckReport:
    """Check the remote `remote_name`; the report lists every problem with the versions it affects."""
    report = FsckReport(git_checked=True)
    with open_view(repo, remote_name) as view:
        git_connectivity(view)
        reached = reach(view)
        report.versions = len(reached.versions)
        report.chunks = len(reached.users)
        report.packs = len(view.packs)
        pack_users = _check_chunks(view, reached)
        if read_data:
            report.chunks_read = _read_packs(view, pack_users, reached)
        _note_orphans(view, report)
        report.problems += [Problem(message, affects) for message, affects in view.problems]
    return report


def _check_chunks(view, reached) -> dict[bytes, set[str]]:
    """Every reachable chunk is indexed and its pack exists intact; returns {pack id: versions using it}."""
    locations = view.locations()
    indexed = view.indexed()
    pack_users: dict[bytes, set[str]] = defaultdict(set)
    missing: list[bytes] = []
    for cid, labels in sorted(reached.users.items()):
        loc = locations.get(cid)
        if loc is None:
            missing.append(cid)
            continue
        pid, entry = loc
        pack_users[pid].update(labels)
        if entry.raw_length != reached.raw_length[cid]:
            view.problem(f"chunk {cid.hex()[:12]}: the manifest says {reached.raw_length[cid]} bytes, the remote "
                         f"index {entry.raw_length}", labels)
    if missing:
        affects = set().union(*(reached.users[c] for c in missing))
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        view.problem(f"chunk {missing[0].hex()[:12]}{more} in none of the remote's index files", affects)
    for pid, labels in sorted(pack_users.items()):
        fname, entries = indexed[pid]
        info = view.packs.get(pid)
        wrong = expected_pack(pid, entries)
        if info is None:
            view.problem(f"pack {pid.hex()[:12]} (named by remote index {fname[:12]}) is missing", labels)
        elif wrong:
            view.problem(f"remote index {fname[:12]}: {wrong}", labels)
        elif info.size != pack_size(entries):
            view.problem(f"pack {pid.hex()[:12]}: {info.size} bytes on the remote, its index says "
                         f"{pack_size(entries)} (truncated or replaced)", labels)
    return pack_users


def _read_packs(view, pack_users: dict[bytes, set[str]], reached) -> int:
    """Download and verify each pack holding a reachable chunk, one at a time; returns chunks verified."""
    from artrepo.remotes.backend import RemoteMissingError
    from artrepo.remotes.packs import pack_key, verify_pack

    indexed = view.indexed()
    verified = 0
    for pid, labels in sorted(pack_users.items()):
        if pid not in view.packs:
            continue  # reported already
        try:
            entries = verify_pack(pid, view.backend.get(pack_key(pid)))
        except RemoteMissingError:
            view.problem(f"pack {pid.hex()[:12]} vanished during the check", labels)
            continue
        except IntegrityError as exc:
            view.problem(f"remote {exc}", labels)
            continue
        if entries != indexed[pid][1]:
            view.problem(f"pack {pid.hex()[:12]}: its header differs from its remote index entries", labels)
            continue
        verified += sum(1 for e in entries if e.chunk_id in reached.users)
    return verified


def _note_orphans(view, report: FsckReport) -> None:
    from artrepo.remotes.gitpacks import git_pack_key

    indexed = view.indexed()
    orphans = [pid for pid in view.packs if pid not in indexed]
    if orphans:
        size = sum(view.packs[p].size for p in orphans)
        report.notes.append(f"{len(orphans)} remote packs ({size} bytes) that no index file of the ref table names "
                            "(left by interrupted pushes or a push in progress): 'artrepo gc --remote "
                            f"{view.name}' removes them once older than the grace period")
    listed = {f"index/{n}" for n in view.state.index_files} | {git_pack_key(n) for n in view.state.git_packs}
    stray = [k for k in list(view.index_files) + list(view.git_files) if k not in listed]
    if stray:
        report.notes.append(f"{len(stray)} remote index or git pack files the ref table does not name")
