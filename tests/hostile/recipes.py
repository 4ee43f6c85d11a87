"""The hostile remotes of issue 14, one recipe each: what an attacker writes into a shared bucket.

Every recipe takes a `Forgery` of the legit remote and rewrites it with the
documented format only (forgery.py). The recipes whose only defence is in
materializing, loading and printing (items 1, 8, 10, 11's manifests, 12) are
applied together to one shared remote per backend (conftest.world); the
others get a remote of their own.
"""
from __future__ import annotations

import io
from pathlib import Path

import msgpack
import numpy as np
import zstandard

from forgery import Blob, Forgery, canonical, digest, file_row, manifest_doc, record_doc

# -- item 1: symlink chains -------------------------------------------------------------------
DEPTH = 40


def chain(root: str, outside: Path) -> dict[str, str]:
    """Links under `root` (a folder prefix) that pass a lexical check but lead to /etc/passwd and `outside`.

    `L` (DEPTH folders down) points back to the root: lexically inside. `M` and `W`
    walk down to `L` and climb DEPTH + 2 levels: `normpath` cancels the climb against
    the walk, the kernel follows `L` first and climbs above the root.
    """
    deep = root + "d/" * DEPTH
    climb = "d/" * DEPTH + "L/" + "../" * (DEPTH + root.count("/") + 1)
    return {f"{deep}L": "../" * (DEPTH + root.count("/")), f"{root}M": climb + "etc/passwd",
            f"{root}W": climb + str(outside).lstrip("/")}


def forge_chain(forged: Forgery, outside: Path) -> str:
    return forged.forge_files("chain", {"dir/readme.txt": b"hello\n"}, chain("dir/", outside),
                              data_type="pathlib.PosixPath")


# -- items 2, 3 and 12: runs rewritten ------------------------------------------------------
def rewrite_run(forged: Forgery, change) -> str:
    """The legit run with its tree changed by `change(tree listing, run id)`; returns the run id."""
    (ref, run), = [(r, o) for r, o in forged.table["refs"].items() if r.startswith("refs/artrepo/runs/")]
    tree = forged.listing(run)
    change(tree, ref.rsplit("/", 1)[1])
    message = forged.git("cat-file", "commit", run).decode().split("\n\n", 1)[1]
    commit = forged.commit(forged.tree(tree), message)
    forged.ship(commit)
    forged.set_ref(ref, commit)
    return ref.rsplit("/", 1)[1]


def _subtree(forged: Forgery, tree: dict, name: str, change) -> None:
    entries = forged.listing(tree[name][len("tree:"):])
    change(entries)
    tree[name] = "tree:" + forged.tree(entries)


def _record(forged: Forgery, oid: str) -> dict:
    return msgpack.unpackb(forged.read(oid), raw=False)


def forge_bad_cache_keys(forged: Forgery) -> str:
    """The run's `keys/` tree holding names that are not cache keys (`..annotations`, `zz bad~name`)."""
    def change(tree, _run_id):
        def add(keys):
            blob = next(iter(keys.values()))
            keys.update({"..annotations": blob, "zz bad~name": blob, "x.lock": blob})
        _subtree(forged, tree, "keys", add)

    return rewrite_run(forged, change)


def forge_bad_provenance(forged: Forgery) -> str:
    """The run's `provenance.msgpack` replaced by a record whose `git` map is a string (§11c)."""
    doc = {"kind": "provenance", "schema": 1, "executed": True, "source": None, "git": "evil",
           "environment": {}, "user": None, "host": None}
    return rewrite_run(forged, lambda tree, _run_id: tree.update({"provenance.msgpack": forged.blob(canonical(doc))}))


def forge_poisoned_cache(forged: Forgery) -> str:
    """The run's `add` step, rewritten to name the attacker's `total:2` (6660) as its output."""
    def change(tree, run_id):
        steps = forged.listing(tree["steps"][len("tree:"):])
        step = _record(forged, steps["add.msgpack"])
        step["outputs"] = {"total": forged.forge_files(
            "total", {"data.msgpack": msgpack.packb(6660)}, label="2", materializer="builtin/v1",
            data_type="builtins.int", origin="pipeline",
            producer={"run_id": run_id, "step": "add", "output": "total"})}
        step["output_labels"] = {"total": "2"}
        blob = forged.blob(canonical(step))
        _subtree(forged, tree, "steps", lambda entries: entries.update({"add.msgpack": blob}))
        _subtree(forged, tree, "keys", lambda entries: entries.update({step["cache_key"]: blob}))

    return rewrite_run(forged, change)


TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J\x1b[H"
LINK = "\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\"
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"


def forge_escapes(forged: Forgery) -> str:
    """`esc:1` with control sequences in every text field, and the run with some in its records."""
    forged.forge_files("esc", {"data.msgpack": msgpack.packb(1)}, materializer="builtin/v1",
                       data_type=f"builtins.int{CLEAR}", origin=f"saved{TITLE}",
                       tags=[TITLE, CLEAR, "plain", "rtl\u202eexe.txt"],
                       metadata={LINK: CLIPBOARD, "c1": "\x9b31mred", "newline": "a\nForged: line"})
    forged.forge_files("esc-text", {"data.msgpack": msgpack.packb(f"a teammate's note{TITLE}{CLIPBOARD}")},
                       materializer="builtin/v1", data_type="builtins.str")
    rows = [["dir/\x1b]0;pwned\x07\nsecond line", 0, 0, "../../escape", []]]
    forged.forge_version("esc-path", record_doc("esc-path", rows), manifest_doc(rows))

    def change(tree, _run_id):
        record = _record(forged, tree["run.msgpack"])
        record["parameters"] = {"p": TITLE}
        tree["run.msgpack"] = forged.blob(canonical(record))

        def step(entries):
            doc = _record(forged, entries["report.msgpack"])
            doc.update(error=f"boom{CLIPBOARD}", parameters={"q": CLEAR})
            entries["report.msgpack"] = forged.blob(canonical(doc))
        _subtree(forged, tree, "steps", step)

    return rewrite_run(forged, change)


# -- items 4 and 5: what the index and pack headers claim -----------------------------------
def forge_lying_index(forged: Forgery) -> None:
    """`lie:1`, whose one chunk the index places in a pack that holds other bytes only."""
    data = b"the data lie:1 claims to hold\n"
    other = b"these are not the bytes you are looking for"
    forged.add_pack([Blob.raw(other)], index_rows=[[digest(data), 0, 0, len(other), len(data)]])
    forged.forge_files("lie", {"file/lie.txt": data}, pack=False)


def forge_codec_7(forged: Forgery) -> None:
    """`seven:1`, whose one chunk is stored raw under codec 7 (no such codec) in header and index."""
    data = b"stored under a codec that does not exist\n"
    forged.add_pack([Blob(digest(data), 7, data, len(data))])
    forged.forge_files("seven", {"file/seven.txt": data}, pack=False)


# -- item 7: annotations on someone else's version ------------------------------------------
def annotate(forged: Forgery, version_id: str, blob: bytes) -> None:
    """Add one annotation blob at `<id[:2]>/<id[2:]>/<hash>` of the annotations commit (§7, §8)."""
    ref = "refs/artrepo/annotations"
    current = forged.table["refs"].get(ref)
    top = forged.listing(current) if current else {}
    mid = forged.listing(top[version_id[:2]][5:]) if version_id[:2] in top else {}
    leaf = forged.listing(mid[version_id[2:]][5:]) if version_id[2:] in mid else {}
    leaf[digest(blob).hex()[:32]] = forged.blob(blob)
    mid[version_id[2:]] = "tree:" + forged.tree(leaf)
    top[version_id[:2]] = "tree:" + forged.tree(mid)
    commit = forged.commit(forged.tree(top), f"annotate {version_id[:12]}\n", (current,) if current else ())
    forged.ship(commit)
    forged.set_ref(ref, commit)


# -- item 8: visualizations that script ----------------------------------------------------
SCRIPT = "<script>document.title = 'pwned'</script>"
VISUALS = {"visualizations/page.html": ("html", f"<html><body><p>accuracy</p>{SCRIPT}</body></html>".encode()),
           "visualizations/plot.svg": ("image", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)'
                                                b'</script></svg>'),
           "visualizations/notes.md": ("markdown", f"# Report\n\n{SCRIPT}\n".encode())}


def forge_visuals(forged: Forgery) -> None:
    rows = [file_row("data.msgpack", b"\x01")]
    forged.add_chunks([b"\x01"] + [data for _, data in VISUALS.values()])
    visualizations = [[name, kind, file_row(name, data)] for name, (kind, data) in VISUALS.items()]
    forged.forge_version("report", record_doc("report", rows, materializer="builtin/v1", data_type="builtins.int"),
                         manifest_doc(rows, visualizations))


# -- item 9: memory bombs ---------------------------------------------------------------------
def zero_bomb(size: int) -> Blob:
    """A few KiB of zstd frame holding `size` zeros that honestly says so (valid hash and content size)."""
    import blake3

    block = bytes(16 << 20)
    compressor = zstandard.ZstdCompressor(level=1).compressobj(size=size)
    frame = b"".join(compressor.compress(block) for _ in range(size // len(block))) + compressor.flush()
    hasher = blake3.blake3()
    for _ in range(size // len(block)):
        hasher.update(block)
    return Blob(hasher.digest(), 1, frame, size)


def forge_bomb(forged: Forgery, bomb: Blob) -> None:
    forged.add_pack([bomb])
    row = ["file/zeros.bin", bomb.raw_length, 0, None, [[bomb.chunk_id, bomb.raw_length]]]
    forged.forge_version("bomb", record_doc("bomb", [row]), manifest_doc([row]))


# -- item 10: values that crash or allocate -------------------------------------------------
def nested_tuples(depth: int) -> bytes:
    data = msgpack.packb([1])
    for _ in range(depth):
        data = msgpack.packb([msgpack.ExtType(1, data)])
    return data


def npy_claiming(shape) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_2_0(out, {"shape": shape, "fortran_order": False, "descr": "<f8"})
    return out.getvalue() + bytes(80)


HOSTILE_VALUES = ["deep", "bigint", "ext9", "huge-npy", "wrong-mat", "deep-container"]


def forge_hostile_values(forged: Forgery) -> None:
    builtin = {"materializer": "builtin/v1", "data_type": "builtins.tuple"}
    forged.forge_files("deep", {"data.msgpack": nested_tuples(200)}, **builtin)
    forged.forge_files("bigint", {"data.msgpack": msgpack.packb(msgpack.ExtType(3, b"9" * 5000))}, **builtin)
    forged.forge_files("ext9", {"data.msgpack": msgpack.packb(msgpack.ExtType(9, b"\0"))}, **builtin)
    forged.forge_files("huge-npy", {"data.npy": npy_claiming((10**12,))}, materializer="numpy/v1",
                       data_type="numpy.ndarray")
    forged.forge_files("wrong-mat", {"data.msgpack": msgpack.packb(5)}, materializer="numpy/v1",
                       data_type="numpy.ndarray")
    # a container whose items nest 300 levels: items/0/items/0/…/data.msgpack
    index = msgpack.packb({"container": "list", "items": [[0, "container/v1", "builtins.list"]]})
    files = {"items/0/" * i + "items.msgpack": index for i in range(300)}
    files["items/0/" * 300 + "data.msgpack"] = msgpack.packb([1])
    forged.forge_files("deep-container", files, materializer="container/v1", data_type="builtins.list")


# -- item 11: records, pack headers and manifests of the wrong shapes -------------------------
def record_with_raw(doc: dict, key: str, raw: bytes) -> bytes:
    """Canonical msgpack of `doc` with the value of `key` replaced by `raw` bytes (e.g. 1,000 levels deep)."""
    packer = msgpack.Packer(use_bin_type=True)
    out = packer.pack_map_header(len(doc))
    for k in sorted(doc):
        out += packer.pack(k) + (raw if k == key else canonical(doc[k]))
    return out


BAD_RECORDS = {"bad-created": {"created_ns": 1.5e18}, "bad-size": {"size": "3"}, "bad-tags": {"tags": 7},
               "bad-type": {"type": "NoSuchArtifact"}, "bad-mat": {"materializer": 7}}


def forge_bad_records(forged: Forgery) -> list[str]:
    forged.add_chunks([b"x"])
    rows = [file_row("data.msgpack", b"x")]
    for name, changes in BAD_RECORDS.items():
        fields = {"materializer": "builtin/v1", "data_type": "builtins.bytes", **changes}
        forged.forge_version(name, record_doc(name, rows, **fields), manifest_doc(rows))
    deep = b"\x81\xa1k" * 1000 + b"\x01"  # {"k": {"k": … 1 …}} 1,000 levels deep
    forged.forge_version("bad-meta", record_with_raw(record_doc("bad-meta", rows), "metadata", deep),
                         manifest_doc(rows))
    return [*BAD_RECORDS, "bad-meta"]


BAD_HEADERS = {"three-fields": lambda b: [[b.chunk_id, b.codec, len(b.stored)]],
               "str-chunk-id": lambda b: [[b.chunk_id.hex(), b.codec, len(b.stored), b.raw_length]],
               "raw-length-2-62": lambda b: [[b.chunk_id, b.codec, len(b.stored), 2**62]]}


def forge_bad_headers(forged: Forgery) -> None:
    for kind, rows in BAD_HEADERS.items():
        data = f"behind a pack header with {kind}\n".encode()
        blob = Blob.raw(data)
        forged.add_pack([blob], header_rows=rows(blob))
        forged.forge_files(kind, {"file/x.txt": data}, pack=False)


BAD_TREES = {"twice": ([file_row("dir/a", b"1"), file_row("dir/a", b"2")], "twice"),
             "file-and-link": ([file_row("dir/a", b"1"), file_row("dir/a", symlink="b")], "twice"),
             "under-link": ([file_row("dir/a", symlink="b"), file_row("dir/a/b", b"1")], "is a link"),
             "under-file": ([file_row("dir/a", b"1"), file_row("dir/a/b", b"2")], "is a file")}


def forge_bad_trees(forged: Forgery) -> dict[str, str]:
    forged.add_chunks([b"1", b"2"])
    return {name: forged.forge_version(name, record_doc(name, rows, data_type="pathlib.PosixPath"),
                                       manifest_doc(rows))
            for name, (rows, _) in BAD_TREES.items()}
