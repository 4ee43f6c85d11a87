"""Git packs on a remote: `git/<BLAKE3 of the pack>.pack` (built and verified by gitdb.packs)."""
from __future__ import annotations

from artrepo.errors import IntegrityError
from artrepo.gitdb.packs import build_pack, import_pack
from artrepo.storage import hashing


def git_pack_key(name: str) -> str:
    return f"git/{name}.pack"


def pack_name(data: bytes) -> str:
    return hashing.digest(data).hex()


def build_git_pack(repo, tips, exclude, present=frozenset()) -> bytes | None:
    """A pack of the objects `tips` reach and `exclude` (commits the remote has; those in `present` are known to
    be here) do not; None if empty."""
    return build_pack(repo.objects, tips, exclude, present)


def import_git_pack(repo, name: str, data: bytes) -> None:
    """Verify a pack from the remote and add its objects to `repo`."""
    if pack_name(data) != name:
        raise IntegrityError(f"git pack {name[:12]} from the remote does not match its name")
    import_pack(repo.objects, data)
