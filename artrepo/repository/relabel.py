"""Labels moved by transfers: a pull adopting the remote's labels, a push renumbering after them.

Many names at once, as one pull brings them: the names' stripe locks are
taken together (labels.NameLocks), the counters raised, then every new label
is created in one ref transaction (written into `packed-refs` when there are
many: a clone of 10,000 versions is one sync, not 10,000), the labels freed
are dropped, and the labels they freed are created. Order keeps every
version published at all times.
"""
from __future__ import annotations

from artrepo.errors import ConflictError
from artrepo.gitdb import layout
from artrepo.repository.labels import NameLocks


class Relabel:
    """The transfer part of `Repository` (a mixin: it uses `refs`, `record`, `version_refs`, `git_dir`)."""

    def lock_names(self, names) -> NameLocks:
        """The per-name locks of many names at once (`with repo.lock_names(names) as locks`)."""
        return NameLocks(self.git_dir, names)

    def set_labels(self, name: str, final: dict[str, str], message: str, lock=None) -> None:
        """Make the labels of `name` equal `final`; the caller holds `lock` (`self.lock(name)`)."""
        self.set_labels_many({name: final}, message, lock)

    def set_labels_many(self, finals: dict[str, dict[str, str]], message: str, locks=None,
                        current: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, str]]:
        """Make the labels of each name equal its `finals` entry; the caller holds `locks` for those names.
        `current`: the names' labels as read under those locks (else listed here). Returns the labels now."""
        creations: dict[str, str] = {}
        deferred: dict[str, str] = {}
        dropped: dict[str, str] = {}
        after: dict[str, dict[str, str]] = {}
        for name, final in finals.items():
            numbers = [int(label) for label in final if label.isdigit()]
            if numbers and locks is not None:
                locks.raise_counter(name, max(numbers))  # before the refs: the counter stays at least every label
            now = current[name] if current is not None and name in current else self.version_refs(name)
            for label, oid in final.items():
                if now.get(label) != oid:
                    (deferred if label in now else creations)[layout.version_ref(name, label)] = oid
            placed = set(final.values())
            gone = {label: oid for label, oid in now.items() if final.get(label) != oid and oid in placed}
            dropped.update({layout.version_ref(name, label): oid for label, oid in gone.items()})
            after[name] = {**{label: oid for label, oid in now.items() if label not in gone}, **final}
        self._create_versions(creations, message)
        self.refs.delete_many(dropped)
        self._create_versions(deferred, "relabel")
        return after

    def _create_versions(self, refs: dict[str, str], message: str) -> None:
        if not refs:
            return
        with self.refs.transaction(list(refs)) as txn:
            for ref, oid in refs.items():
                if txn.set(ref, lambda cur, oid=oid: oid if cur is None else None, message) != oid:
                    name, label = layout.split_version_ref(ref)
                    raise ConflictError(f"version {name}:{label} was created locally at the same time; run again")
            txn.commit()

    def move_labels(self, name: str, moves: list[tuple[str, str, str]]) -> None:
        """Apply (version id, old label, new label) moves decided against a remote."""
        with self.lock(name) as lock:
            final = dict(self.version_refs(name))
            for oid, old, new in moves:
                if final.get(old) == oid:
                    del final[old]
                final[new] = oid
            self.set_labels(name, final, "renumber", lock)
        self.update_heads([name])

    def update_head(self, name: str) -> None:
        self.update_heads([name])

    def update_heads(self, names, labels: dict[str, dict[str, str]] | None = None) -> None:
        """Recompute the derived `heads/<name>` of each name: its newest version by creation time.
        `labels`: {name: {label: version id}} of these names if the caller knows them (else listed)."""
        from artrepo.repository.versions import label_key

        newest = {}
        for name in names:
            refs = labels[name] if labels is not None else self.version_refs(name)
            if refs:
                newest[layout.head_ref(name)] = max(
                    refs.items(), key=lambda kv: (self.record(kv[1]).created_ns, label_key(kv[0])))[1]
        if newest:
            with self.refs.transaction(list(newest), durable=False) as txn:
                for ref, oid in newest.items():
                    txn.set(ref, lambda cur, oid=oid: oid, "latest after transfer")
                txn.commit()
