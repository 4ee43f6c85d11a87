"""Git packs on a remote: `git/<BLAKE3 of the pack>.pack` (built and verified by gitdb.packs)."""
from __future__ import annotations

from artrepo.errors import IntegrityError
from artrepo.gitdb.packscan import SCAN_TOTAL_MAX, scan_pack
from artrepo.gitdb.packs import import_pack
from artrepo.storage.ids import file_name


def git_pack_key(name: str) -> str:
    return f"git/{name}.pack"


def import_git_pack(repo, name: str, data: bytes, hold: bool = False, meanwhile=None) -> None:
    """Verify a pack from the remote and add its objects to `repo`.

    `hold`: keep its objects in memory too (`ObjectStore.hold`, until the
    caller releases them), read from the pack's bytes while git checks it,
    each id computed from its object (gitdb.packscan); `meanwhile()` then
    runs with them held, before git's verdict: it may read, never publish.
    If git refuses the pack, every held object is released.
    """
    if file_name(data) != name:
        raise IntegrityError(f"git pack {name[:12]} from the remote does not match its name")
    if not hold:
        import_pack(repo.objects, data)
        return

    def read_while_git_checks():
        repo.objects.hold(scan_pack(data, SCAN_TOTAL_MAX - repo.objects.held_bytes))  # bounded over all packs
        if meanwhile is not None:
            meanwhile()

    try:
        import_pack(repo.objects, data, meanwhile=read_while_git_checks)
    except BaseException:
        repo.objects.release()
        raise
