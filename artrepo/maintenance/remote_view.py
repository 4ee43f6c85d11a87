"""A remote as `fsck`, `gc` and `du --remote` see it: what its own objects prove, nothing else.

    with open_view(repo, "origin") as view:
        view.state.refs, view.packs, view.index_by_file, view.problems

The remote's git packs are imported (through `git index-pack --strict`)
into a scratch repository under `.artrepo/tmp/`, never into the local one,
so an object the local repository happens to hold cannot hide one the remote
lacks. Index files are read from the remote (never from the local cache) and
checked against their names; packs are listed with their sizes and ages in
one listing. Damage is collected in `problems` instead of raised, so one bad
object does not hide the rest.
"""
from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from artrepo.errors import ArtrepoError, IntegrityError, NotFoundError
from artrepo.maintenance.inventory import RefTarget, classify
from artrepo.storage import hashing
from artrepo.storage.index import decode_index
from artrepo.storage.packfile import PackEntry, encode_header

_PACK_NAME = re.compile(r"[0-9a-f]{64}\Z")


@dataclass
class RemoteView:
    name: str
    backend: object
    state: object  # RemoteState
    scratch: object  # Repository holding the remote's git objects only
    packs: dict = field(default_factory=dict)  # pack id -> ObjectInfo, from one listing of packs/
    index_files: dict = field(default_factory=dict)  # key -> ObjectInfo (index/)
    git_files: dict = field(default_factory=dict)  # key -> ObjectInfo (git/)
    index_by_file: dict[str, dict[bytes, list[PackEntry]]] = field(default_factory=dict)
    problems: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (message, versions affected)

    def problem(self, message: str, affects=()) -> None:
        self.problems.append((message, tuple(sorted(set(affects)))))

    def indexed(self) -> dict[bytes, tuple[str, list[PackEntry]]]:
        """Every pack an index file in the ref table names: pack id -> (index file, entries)."""
        out: dict[bytes, tuple[str, list[PackEntry]]] = {}
        for fname in self.state.index_files:
            for pid, entries in self.index_by_file.get(fname, {}).items():
                out.setdefault(pid, (fname, entries))
        return out

    def locations(self) -> dict[bytes, tuple[bytes, PackEntry]]:
        """chunk id -> (pack id, entry), first index file in the table's order winning."""
        out: dict[bytes, tuple[bytes, PackEntry]] = {}
        for pid, (_f, entries) in self.indexed().items():
            for e in entries:
                out.setdefault(e.chunk_id, (pid, e))
        return out


@contextlib.contextmanager
def open_view(repo, remote_name: str):
    """Read the remote named `remote_name` of `repo`; the scratch repository is removed afterwards."""
    from artrepo.remotes.config import get_remote, open_remote
    from artrepo.remotes.state import read_state
    from artrepo.repository import Repository

    remote = get_remote(repo, remote_name)
    backend = open_remote(remote)
    state = read_state(backend)
    if not state.exists:
        raise NotFoundError(f"remote {remote.name} ({remote.url}) holds no artrepo repository yet")
    repo.tmp.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=repo.tmp, prefix="remote-view-"))
    scratch = None
    try:
        scratch = Repository.init(folder)
        view = RemoteView(remote.name, backend, state, scratch)
        _list_objects(view)
        _import_git(view)
        _read_index_files(view)
        yield view
    finally:
        if scratch is not None:
            scratch.close()
        shutil.rmtree(folder, ignore_errors=True)


def _list_objects(view: RemoteView) -> None:
    for key, info in view.backend.stat_prefix("packs").items():
        name = key[len("packs/"):]
        if key.startswith("packs/") and _PACK_NAME.match(name):
            view.packs[bytes.fromhex(name)] = info
    view.index_files = view.backend.stat_prefix("index")
    view.git_files = view.backend.stat_prefix("git")


def _import_git(view: RemoteView) -> None:
    from artrepo.remotes.backend import RemoteMissingError
    from artrepo.remotes.gitpacks import git_pack_key, import_git_pack

    for name in view.state.git_packs:
        try:
            import_git_pack(view.scratch, name, view.backend.get(git_pack_key(name)))
        except RemoteMissingError:
            view.problem(f"git pack {name[:12]} named by the ref table is missing")
        except IntegrityError as exc:
            view.problem(f"git pack {name[:12]}: {exc}")
    lines = [f"create {ref} {oid}\n" for ref, oid in sorted(view.state.refs.items()) if view.scratch.objects.contains(oid)]
    if lines:
        subprocess.run(["git", "--git-dir", str(view.scratch.git_dir), "update-ref", "--stdin"],
                       input="".join(lines).encode(), check=True, capture_output=True)


def _read_index_files(view: RemoteView) -> None:
    from artrepo.remotes.backend import RemoteMissingError

    for fname in view.state.index_files:
        try:
            data = view.backend.get(f"index/{fname}")
            if hashing.digest(data).hex() != fname:
                raise IntegrityError(f"index {fname[:12]}: content does not match its name")
            view.index_by_file[fname] = decode_index(data, fname[:12])
        except RemoteMissingError:
            view.problem(f"index file {fname[:12]} named by the ref table is missing")
        except IntegrityError as exc:
            view.problem(f"index file {fname[:12]} is damaged: {exc}")


def expected_pack(pid: bytes, entries: list[PackEntry]) -> str | None:
    """What is wrong with an index's description of a pack, judged without downloading it."""
    header = encode_header(entries)
    if hashing.digest(header) != pid:
        return f"pack {pid.hex()[:12]}: its index entries do not hash to its name"
    return None


def pack_size(entries: list[PackEntry]) -> int:
    """The exact size of the pack that holds exactly these entries."""
    return max((e.offset + e.length for e in entries), default=0) + len(encode_header(entries))


@dataclass
class Reach:
    """What the remote's refs reach: chunk users (versions naming them) and every manifest read."""

    users: dict[bytes, set[str]] = field(default_factory=dict)
    raw_length: dict[bytes, int] = field(default_factory=dict)
    versions: list[tuple[RefTarget, object]] = field(default_factory=list)  # (target, manifest) of version refs


def reach(view: RemoteView) -> Reach:
    """Read every ref's record and manifest from the remote's own git objects; problems go to the view."""
    out = Reach()
    for ref, oid in sorted(view.state.refs.items()):
        target = classify(ref, oid)
        if not view.scratch.objects.contains(oid):
            view.problem(f"ref {ref} points at {oid[:12]}, which none of the remote's git packs holds",
                         [target.label])
            continue
        try:
            if view.scratch.objects.tree_file(oid, "manifest.msgpack") is None:
                continue  # runs, annotations: no data of their own
            record, manifest = view.scratch.record(oid), view.scratch.manifest(oid)
        except ArtrepoError as exc:
            view.problem(f"ref {ref}: unreadable ({exc})", [target.label])
            continue
        except Exception as exc:  # decodes, but has the wrong shape
            view.problem(f"ref {ref}: malformed record ({exc!r})", [target.label])
            continue
        if manifest.content_hash != record.content_hash:
            view.problem(f"version {oid[:12]}: manifest does not match the record's content hash", [target.label])
        if target.kind == "version":
            out.versions.append((target, manifest))
        for f in list(manifest.files) + [f for _, _, f in manifest.visualizations]:
            for cid, n in f.chunks:
                out.users.setdefault(cid, set()).add(target.label)
                out.raw_length.setdefault(cid, n)
    return out


def git_connectivity(view: RemoteView) -> None:
    """Stock `git fsck --strict` over the remote's git objects; each broken ref is named."""
    git = ["git", "--git-dir", str(view.scratch.git_dir)]
    proc = subprocess.run([*git, "fsck", "--strict", "--no-dangling", "--no-progress"],
                          capture_output=True, text=True)
    if proc.returncode == 0:
        return
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    broken = []
    for ref, oid in sorted(view.state.refs.items()):
        walk = subprocess.run([*git, "rev-list", "--objects", "--quiet", oid], capture_output=True)
        if walk.returncode != 0:
            broken.append(classify(ref, oid).label)
    for line in lines[:20] or [f"git fsck exited {proc.returncode}"]:
        view.problem(f"remote git objects: {line}", broken)
