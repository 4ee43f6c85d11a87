"""Deleted versions of a Repository (`delete_artifact_version`; docs/format.md §7, §11b).

A deletion is an annotation (`deleted: true`, append-only, so push and pull
carry it); a deleted version is published by no ref, here or on a remote once
pushed, and a pull adopts no ref naming it. Its record stays (runs name it);
its data goes at the first gc at least the grace period after the deletion.
"""
from __future__ import annotations

import contextlib

from artrepo.gitdb import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from artrepo.repository.versions import VersionInfo


class Deletions:
    """The deletions part of `Repository` (a mixin: it uses the versions and annotations parts)."""

    def delete_version(self, info: VersionInfo) -> None:
        """Delete a published version: a deletion recorded, then nothing publishes it any more.

        Order: the deletion annotation (append-only: push and pull carry it,
        and a pull does not publish a deleted version again), then, under the
        name's lock, the aliases naming it and its version ref, then
        `heads/<name>`. Its record stays (runs name it); its data goes at the
        first gc at least the grace period after the deletion. A crash between
        the annotation and the refs leaves it published: deleting it again
        finishes the job.
        """
        self.annotate(info.id, deleted=True)
        self.unpublish(info.name, info.id)

    def unpublish(self, name: str, version_id: str) -> None:
        """Remove every ref publishing a version of `name` (a deleted one): aliases, labels, then the head."""
        with self.lock(name):
            for alias, oid in self.aliases(name).items():
                if oid == version_id:
                    self.refs.delete(layout.alias_ref(name, alias), oid)
            for label, oid in self.version_refs(name).items():
                if oid == version_id:
                    self.refs.delete(layout.version_ref(name, label), oid)
            if not self.version_refs(name):
                head = self.refs.get(layout.head_ref(name), derived=True)
                if head is not None:
                    self.refs.delete(layout.head_ref(name), head)
                for prefix in (layout.version_prefix(name), layout.alias_prefix(name)):
                    with contextlib.suppress(OSError):  # an empty loose-ref folder would still list the name
                        (self.git_dir / prefix).rmdir()
        self.update_head(name)

    def deleted(self, version_id: str) -> bool:
        """Whether a deletion of this version was recorded here or arrived from a trusted remote (one from
        another remote is not applied: a stranger's bucket cannot take versions away; docs/reliability.md)."""
        return any(note.deleted and self.trusts_remote(origin) for note, origin in self.annotated(version_id))

    def unpublish_deleted(self, elsewhere: set[str]) -> None:
        """Unpublish the local versions whose deletion arrived from elsewhere (a pull or a push merged the
        annotations): those not in `elsewhere`, the version ids the other side still publishes."""
        local = {oid: layout.split_version_ref(ref)[0] for ref, oid in self.published_refs().items()
                 if layout.ref_kind(ref) == "version"}
        for oid in self.deleted_among(set(local) - elsewhere):
            self.unpublish(local[oid], oid)

    def deleted_among(self, version_ids) -> set[str]:
        """Those of `version_ids` whose deletion was recorded; reads the annotations of annotated ones only."""
        head = self.refs.get(layout.ANNOTATIONS)
        if head is None:
            return set()
        wanted = set(version_ids)
        annotated = {top + rest for top in self.objects.tree_listing(head, "") if any(v.startswith(top) for v in wanted)
                     for rest in self.objects.tree_listing(head, top)}
        return {v for v in wanted & annotated if self.deleted(v)}
