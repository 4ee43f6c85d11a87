"""`artrepo fsck [--remote NAME]`: prove that every ref reaches complete, intact data.

The same checks for the local repository and a remote (view.py), in order:
stock `git fsck --strict` on the git objects; every ref under refs/artrepo/
reaches a commit whose records parse (reach.py); every index file is
readable; every indexed pack exists with the size and id its entries imply
(and, where footers are read, the footer it should have); every chunk of
every reachable manifest is indexed. With `read_data`, every pack holding a
reachable chunk is read, one at a time, and every such chunk decompressed
(bounded) and hashed. Each problem names the artifact versions it affects.
Values are never loaded or unpickled: only records, manifests and chunk bytes.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field

from artrepo.errors import ArtrepoError, IntegrityError
from artrepo.maintenance.inventory import classify, retired_packs, survey
from artrepo.heap import paused_gc
from artrepo.maintenance.reach import Problem, Reach, reach
from artrepo.storage.ids import pack_id, short
from artrepo.storage.index import rows_of
from artrepo.storage.packfile import CHUNK, LENGTH, RAW, check_blob, footer_of_rows, pack_size, verify_footer


@dataclass
class FsckReport:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: int = 0
    chunks: int = 0
    packs: int = 0
    chunks_read: int = 0
    git_checked: bool = False

    @property
    def clean(self) -> bool:
        return not self.problems

    problem = Reach.problem  # a Problem into `problems`, its affected versions sorted once each


def fsck(view, *, read_data: bool = False) -> FsckReport:
    """Check the view's refs, records and data; the report lists every problem found.

    Stock git fsck checks every git object on the other core meanwhile; while
    it does, commits already found sound are taken from the reach cache. If
    git finds damage, every version is read again so that each problem names
    the versions it affects.
    """
    git = _start_git_fsck(view)
    cache = view.reach_cache() if git else None
    try:
        with paused_gc():
            report = _check_view(view, read_data, cache)
    finally:
        found = FsckReport()
        _finish_git_fsck(view, git, found)
    if found.problems and cache is not None:
        with paused_gc():
            report = _check_view(view, read_data, None)
    report.problems[:0] = found.problems  # git's findings first
    report.notes[:0] = found.notes
    report.git_checked = found.git_checked
    return report


def _check_view(view, read_data: bool, cache) -> FsckReport:
    report = FsckReport()
    # git fsck checks that the cached commits exist, where it sees every ref
    reached = reach(view, cache=cache, objects_checked=cache is not None and view.git_sees_every_ref)
    report.problems += reached.problems + reached.unsafe
    report.versions, report.chunks = len(reached.versions), len(reached.users)
    for head in reached.annotations:
        _check_annotations(view.reader, head, report)
    pack_users, bad, elsewhere = _check_store(view, reached, report, read_data)
    if read_data:
        _read_packs(view.store, reached.users, {pid: u for pid, u in pack_users.items() if pid not in bad}, report)
    _check_elsewhere(view, elsewhere, read_data, report)
    return report


def _check_annotations(reader, head: str, report: FsckReport) -> None:
    """Every annotation decodes and names the version it is filed under (readers skip the others)."""
    from artrepo.repository.annotations import read_annotation

    objects = reader.objects
    try:
        for top in objects.tree_listing(head, ""):
            for rest in objects.tree_listing(head, top):
                for blob in objects.tree_listing(head, f"{top}/{rest}").values():
                    try:
                        read_annotation(objects, top + rest, blob)
                    except ArtrepoError as exc:
                        report.problem(f"annotations ({head[:12]}): {exc}; readers skip it", ["annotations"])
    except ArtrepoError as exc:
        report.problem(f"annotations ({head[:12]}): {exc}", ["annotations"])


def _check_store(view, reached: Reach, report: FsckReport, read_data: bool):
    """Index files, packs and chunks; returns {pack id: versions using it} (with `read_data`, else only for
    damaged packs), the packs found damaged, and the chunks only pulled versions need that are not here
    ({remote: {chunk: labels}})."""
    store = view.store
    index = store.index
    gc = f"artrepo gc --remote {view.name}" if view.name else "artrepo gc"
    rebuild = f"; '{gc}' rebuilds the index from the packs' footers"
    index.verify()  # format 2 files are searched unhashed by readers: hashed here
    rows = index.rows()  # every file's rows, decoded once (a damaged one joins `damaged`)
    for name, why in sorted(index.damaged.items()):
        report.problem(f"index file {name[:12]} is damaged: {why}{rebuild}")
    for name in index.missing:
        report.problem(f"index file {name[:12]} named by the ref table is missing{rebuild}")
    packs, stray = survey(store, rows=rows)
    report.packs = len(packs)
    report.notes += [f"stray file {key} in the pack folder" for key in stray]
    where = index.locate_all(rows)  # chunk -> (pack, row), shared below
    bad = {pid for pid, pack in packs.items() if pack.error}
    damaged = [(packs[pid].error, pid) for pid in bad]
    for fname, by_pack in sorted(rows.items()):
        for pid, entries in by_pack.items():
            wrong = None if pid in bad else _indexed_pack(f"index {fname[:12]}", pid, entries, packs.get(pid), rows)
            if wrong:
                bad.add(pid)
                damaged.append((wrong, pid))
    pack_users: dict[bytes, set[str]] = defaultdict(set)
    if damaged or read_data:
        for cid, labels in reached.users.items():
            if cid in where:
                pack_users[where[cid][0]].update(labels)
    for message, pid in damaged:
        report.problem(message, pack_users.get(pid, ()))
    elsewhere = _check_chunks(view, reached, packs, rows, where, report)
    indexed = {pid for by_pack in rows.values() for pid in by_pack} - index.forgotten
    retired = view.retired()
    gone = retired_packs(store, packs, indexed, retired)
    replaced = [packs[pid] for pid in gone] + [info for _when, info in retired.values() if info is not None]
    if replaced:
        report.notes.append(f"{len(replaced)} packs and files ({sum(p.size for p in replaced)} bytes) replaced by "
                            f"'{gc}' and kept for readers of the previous ref table: it removes them once older "
                            "than the grace period")
    orphans = [p for pid, p in packs.items() if pid not in indexed and pid not in gone]
    if orphans:
        report.notes.append(f"{len(orphans)} packs ({sum(p.size for p in orphans)} bytes) that no index file names "
                            f"(left by interrupted writes, or a write in progress): '{gc}' removes them once older "
                            "than the grace period")
    leftovers = view.leftovers()
    if leftovers:
        report.notes.append(f"{len(leftovers)} files left by interrupted writes (temporary files, or index files "
                            "and git packs no ref table names): gc removes them once old")
    return pack_users, bad, elsewhere


def _indexed_pack(index: str, pid: bytes, entries: list[tuple], pack, rows: dict) -> str | None:
    """What is wrong with an indexed pack, judged from its entries, the listing and (if read) its footer."""
    if pack is None:
        return f"pack {short(pid)} (named by {index}) is missing"
    footer = rows[pack.matches][pid] if pack.matches else None  # its footer, byte for byte those rows
    if footer is entries:
        return None  # its footer, size and id are what these very rows make (inventory.survey)
    if footer is None and pack.footer is not None:
        footer = rows_of(pack.footer)
    made = footer_of_rows(entries)
    if pack_id(made) != pid:
        return f"{index}: its entries for pack {short(pid)} do not hash to the pack's name"
    size = sum(e[LENGTH] for e in entries) + len(made)
    if size != pack.size:
        return f"pack {short(pid)}: {pack.size} bytes, {index} says {size} (truncated or replaced)"
    if footer is not None and footer != entries:
        return f"{index}: chunks are not where it says in pack {short(pid)}"
    return None


def _check_chunks(view, reached: Reach, packs: dict, rows: dict, where: dict,
                  report: FsckReport) -> dict[str, dict[bytes, set[str]]]:
    """Chunks reachable here but absent; returns those only pulled versions need: {remote: {chunk: labels}}."""
    absent, wrong = [], []
    for cid, n in reached.raw_length.items():
        loc = where.get(cid)
        if loc is None:
            absent.append(cid)
        elif loc[1][RAW] != n:
            wrong.append(cid)
    for cid in sorted(wrong):
        report.problem(f"chunk {short(cid)}: the manifest says {reached.raw_length[cid]} bytes, the index "
                       f"{where[cid][1][RAW]}", reached.users[cid])
    elsewhere: dict[str, dict[bytes, set[str]]] = defaultdict(dict)
    if not absent:
        return elsewhere
    origins = view.pulled()
    remote_of = {classify(ref, oid).label: origins[oid] for ref, oid in view.refs().items() if oid in origins}
    in_packs = {e[CHUNK]: pid for pid, p in packs.items()
                for e in (rows[p.matches][pid] if p.matches else rows_of(p.footer or ()))}
    missing: dict[bytes | None, list[bytes]] = defaultdict(list)  # pack holding it (None: nowhere)
    for cid in sorted(absent):
        labels = reached.users[cid]
        remotes = {remote_of.get(label) for label in labels}
        if None in remotes or cid in in_packs:
            missing[in_packs.get(cid)].append(cid)
        else:  # pulled (with --metadata-only?): the remote it came from must hold it
            elsewhere[min(remotes)][cid] = labels
    for pid, cids in missing.items():
        affects = set().union(*(reached.users[c] for c in cids))
        if pid is None:
            report.problem(f"chunk {_first(cids)} missing from the store", affects)
        else:
            report.problem(f"chunk {_first(cids)} in pack {short(pid)} but in no index; 'artrepo gc' rebuilds the "
                           "index", affects)
    return elsewhere


def _first(cids: list[bytes]) -> str:
    return short(cids[0]) + (f" and {len(cids) - 1} more" if len(cids) > 1 else "")


def _check_elsewhere(view, elsewhere: dict[str, dict[bytes, set[str]]], read_data: bool, report: FsckReport) -> None:
    """Chunks of pulled versions that are not here must be in their remote's index (and, with read_data, intact)."""
    for remote, users in sorted(elsewhere.items()):
        try:
            store = view.remote_store(remote)
        except (ArtrepoError, OSError) as exc:
            report.notes.append(f"{len(users)} chunks of versions pulled from remote {remote} are not here and were "
                                f"not checked there ({exc})")
            continue
        try:
            _check_on(store, remote, users, read_data, report)
        finally:
            store.close()


def _check_on(store, remote: str, users: dict[bytes, set[str]], read_data: bool, report: FsckReport) -> None:
    absent = [c for c in users if not store.has(c)]
    if absent:
        damage = next(iter(store.index.damaged.values()), None)
        report.problem(f"chunk {_first(absent)} is neither here nor in the index of remote {remote}"
                       + (f" ({damage})" if damage else ""), set().union(*(users[c] for c in absent)))
    held = {c: labels for c, labels in users.items() if store.has(c)}
    if not held:
        return
    versions = set().union(*held.values())
    report.notes.append(f"{len(held)} chunks of {len(versions)} versions pulled with --metadata-only are still "
                        f"on remote {remote} (fetched on first use)" + (", read and verified there" if read_data else ""))
    if read_data:
        pack_users: dict[bytes, set[str]] = defaultdict(set)
        for cid, labels in held.items():
            pack_users[store.index.locations[cid][0]].update(labels)
        _read_packs(store, held, pack_users, report)


def _read_packs(store, users: dict[bytes, set[str]], pack_users: dict[bytes, set[str]], report: FsckReport) -> None:
    """Read each pack holding a chunk of `users`, one at a time, and verify those chunks."""
    for pid, labels in sorted(pack_users.items()):
        entries = store.index.packs[pid]
        try:
            data = store.read_pack(pid, pack_size(entries))
            if verify_footer(pid, data) != entries:
                raise IntegrityError(f"pack {short(pid)}: its footer differs from its index entries")
        except IntegrityError as exc:
            report.problem(str(exc), labels)
            continue
        blobs = memoryview(data)
        for e in entries:
            if e.chunk_id in users:
                try:
                    check_blob(blobs[e.offset:e.offset + e.length], e, pid)
                    report.chunks_read += 1
                except IntegrityError as exc:
                    report.problem(str(exc), users[e.chunk_id])


def _start_git_fsck(view):
    """Stock git's own check of the git objects (connectivity included), started in the background.

    `git fsck` ends by running `git commit-graph verify` (a quarter of its time
    at 100,000 commits, after the rest); it is started here beside it instead,
    so that it runs on whichever core is free first (a repository with
    alternates keeps git's own sequence: git verifies each folder's graph);
    not at all when there is no graph (a remote's scratch repository).
    """
    git = shutil.which("git")
    if git is None:
        return False
    import tempfile

    base = [git, "--git-dir", str(view.git_dir)]
    objects = os.path.join(view.git_dir, "objects")
    runs = [["fsck", "--strict", "--no-dangling", "--no-progress"]]
    info = os.path.join(objects, "info")
    if not os.path.exists(os.path.join(info, "alternates")) and (
            os.path.exists(os.path.join(info, "commit-graph")) or os.path.isdir(os.path.join(info, "commit-graphs"))):
        runs = [["-c", "core.commitGraph=false", *runs[0]], ["commit-graph", "verify", "--object-dir", objects]]
    started = []
    for args in runs:
        out = tempfile.TemporaryFile()
        started.append((subprocess.Popen([*base, *args], stdout=out, stderr=subprocess.STDOUT), out))
    return started


def _finish_git_fsck(view, started, report: FsckReport) -> None:
    """Wait for git fsck and report what it found, naming each broken ref."""
    if started is False:
        report.notes.append("git is not installed: git objects were checked only through libgit2")
        return
    text, failed = "", 0
    for proc, out in started:
        try:
            proc.wait(timeout=3600)
            out.seek(0)
            text += out.read().decode("utf-8", "replace")
        finally:
            out.close()
        failed = failed or proc.returncode
    report.git_checked = True
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not failed:
        report.notes += [f"git fsck: {ln}" for ln in lines if not ln.startswith(("Checking", "checking", "notice:"))]
        return
    base = [shutil.which("git") or "git", "--git-dir", str(view.git_dir)]
    broken, walked = [], {}
    for ref, oid in sorted(view.refs().items()):
        if oid not in walked:
            walked[oid] = subprocess.run([*base, "rev-list", "--objects", "--quiet", oid],
                                         capture_output=True).returncode == 0
        if not walked[oid]:
            broken.append(classify(ref, oid).label)
    for line in lines[:50] or [f"git fsck exited {failed}"]:
        report.problem(f"git fsck: {line}", broken)
