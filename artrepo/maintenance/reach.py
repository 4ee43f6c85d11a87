"""Which chunks the repository still needs: those of every version a ref reaches.

A version's chunks are needed while a ref points straight at its commit
(version refs, aliases, heads, and any other ref whose commit holds a
manifest). Versions reachable only as git ancestors of later versions keep
their records (git history) but not their data: that is what retention frees.
"""
from __future__ import annotations

from artrepo.errors import IntegrityError
from artrepo.maintenance.inventory import artrepo_refs, is_oid
from artrepo.repository import Repository


def reachable_chunks(repo: Repository, *, ignore_refs=frozenset()) -> set[bytes]:
    """Chunk ids of every manifest a ref points at; refuses when that cannot be known for sure."""
    needed: set[bytes] = set()
    seen: set[str] = set()
    for ref, text in sorted(artrepo_refs(repo.git_dir).items()):
        if ref in ignore_refs:
            continue
        if not is_oid(text):
            raise IntegrityError(f"ref {ref} is damaged ({text[:40]!r}); cannot tell which data it needs: "
                                 "run 'artrepo fsck' and repair it first (nothing was deleted)")
        if text in seen:
            continue
        seen.add(text)
        try:
            if repo.objects.tree_file(text, "manifest.msgpack") is None:
                continue  # runs, pipelines, cache, annotations: no chunks of their own
            manifest = repo.manifest(text)
        except Exception as exc:  # unreadable or malformed: never guess
            raise IntegrityError(f"ref {ref}: {exc}; cannot tell which data it needs: run 'artrepo fsck' "
                                 "(nothing was deleted)") from None
        needed.update(manifest.chunk_ids())
    return needed
