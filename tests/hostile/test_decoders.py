"""Property tests: every decoder of bytes from a repository or a remote, fed random and mutated input,
raises the format error (FormatError / IntegrityError) or returns a well-typed value, never anything else.

One function per decoder (`DECODERS`) is the only place that names artrepo's entry points, so
retargeting them after a restructuring is one line each. Seeds are built from docs/format.md
with msgpack/zstandard (forgery.py), not with artrepo's encoders. Examples are derandomized:
the same inputs every run.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable

import msgpack
import numpy as np
import pytest
import zstandard
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from artrepo.errors import FormatError, IntegrityError
from forgery import TRAILER, canonical, encode_table, file_row, index_bytes, manifest_doc, record_doc

MAX_CHUNK = 512 * 1024
# No shrinking: the first counterexample names the decoder's bug, and shrinking one costs seconds.
SETTINGS = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                    phases=(Phase.explicit, Phase.generate), report_multiple_bugs=False)


# -- the decoders (retarget here) ----------------------------------------------------------
def decode_version(data: bytes):
    from artrepo.records.artifact import VersionRecord

    return VersionRecord.from_msgpack(data)


def decode_manifest(data: bytes):
    from artrepo.records.artifact import Manifest

    return Manifest.from_msgpack(data)


def decode_annotation(data: bytes):
    from artrepo.records.artifact import Annotation

    return Annotation.from_msgpack(data)


def decode_run(data: bytes):
    from artrepo.records.run import RunRecord

    return RunRecord.from_msgpack(data)


def decode_step(data: bytes):
    from artrepo.records.run import StepRecord

    return StepRecord.from_msgpack(data)


def decode_provenance(data: bytes):
    from artrepo.records.run import ProvenanceRecord

    return ProvenanceRecord.from_msgpack(data)


def decode_pack_header(data: bytes):
    from artrepo.storage.packfile import decode_footer

    return decode_footer(data, len(data), "hypothesis")


def decode_index(data: bytes):
    from artrepo.storage.index import decode_index as decode

    return decode(data, "hypothesis")


def decode_ref_table(data: bytes):
    from artrepo.remotes.state import decode_state

    return decode_state(data, "hypothesis://remote")


def decode_builtin(data: bytes):
    from artrepo.materializers.builtins import unpack

    return unpack(data)



def decode_npy_stream(stream):
    from artrepo.materializers.numpy import load_npy

    return load_npy(stream)


def decode_npy(data: bytes):
    return decode_npy_stream(io.BytesIO(data))


# -- what a decoded value must look like ---------------------------------------------------
def _is(value, *types) -> bool:
    return type(value) in types


def _json_like(value, depth: int = 0) -> bool:
    if depth > 64:
        return False
    if isinstance(value, dict):
        return all(_is(k, str) and _json_like(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_json_like(v, depth + 1) for v in value)
    return _is(value, str, int, float, bool, type(None))


def _str_map(value) -> bool:
    return _is(value, dict) and all(_is(k, str) and _is(v, str) for k, v in value.items())


def check_version(r) -> None:
    from artrepo.records.artifact import ArtifactType

    assert _is(r.name, str) and _is(r.version, str, type(None)) and _is(r.materializer, str)
    assert r.artifact_type in {t.value for t in ArtifactType} and _is(r.data_type, str)
    assert _is(r.content_hash, bytes) and len(r.content_hash) == 32
    assert _is(r.size, int) and r.size >= 0 and _is(r.created_ns, int)
    assert _is(r.tags, tuple) and all(_is(t, str) for t in r.tags)
    assert _json_like(r.metadata) and _is(r.metadata, dict) and _is(r.origin, str)
    assert r.producer is None or _str_map(r.producer)
    assert _is(r.environment, dict) and _json_like(r.environment)


def _check_file(f) -> None:
    assert _is(f.path, str) and _is(f.size, int) and f.size >= 0 and _is(f.executable, bool)
    assert _is(f.symlink, str, type(None))
    assert all(_is(c, bytes) and len(c) == 32 and _is(n, int) and 0 <= n <= MAX_CHUNK for c, n in f.chunks)
    assert sum(n for _, n in f.chunks) == f.size


def check_manifest(m) -> None:
    for f in m.files:
        _check_file(f)
    for name, kind, f in m.visualizations:
        assert _is(name, str) and _is(kind, str)
        _check_file(f)


def check_annotation(a) -> None:
    assert _is(a.version_id, str) and _is(a.tags, tuple) and all(_is(t, str) for t in a.tags)
    assert _is(a.metadata, dict) and _json_like(a.metadata) and _is(a.created_ns, int)


def check_run(r) -> None:
    assert _is(r.run_id, str) and _is(r.pipeline, str) and _is(r.status, str)
    assert _is(r.parameters, dict) and _json_like(r.parameters)
    assert _is(r.steps, tuple) and all(_is(s, str) for s in r.steps)
    assert _is(r.start_ns, int) and _is(r.end_ns, int) and _is(r.source, str, type(None))


def check_step(s) -> None:
    assert _is(s.name, str) and _is(s.status, str) and _is(s.cached, bool) and _is(s.cache_key, str)
    assert _is(s.code_hash, str) and _str_map(s.key_parts) and _json_like(s.parameters)
    assert _str_map(s.inputs) and _str_map(s.outputs) and _str_map(s.output_labels)
    assert _is(s.upstream, tuple) and all(_is(u, str) for u in s.upstream) and _is(s.cacheable, bool)
    for field in (s.cached_from, s.error, s.traceback):
        assert _is(field, str, type(None))
    for field in (s.start_ns, s.end_ns):
        assert _is(field, int, type(None))


def check_provenance(p) -> None:
    assert _is(p.executed, bool) and _is(p.source, str, type(None))
    assert _is(p.git_state, dict) and _json_like(p.git_state) and _is(p.environment, dict) and _json_like(p.environment)
    assert _is(p.user, str, type(None)) and _is(p.host, str, type(None))


def _check_entry(e) -> None:
    assert _is(e.chunk_id, bytes) and len(e.chunk_id) == 32 and e.codec in (0, 1)
    assert _is(e.offset, int) and _is(e.length, int) and _is(e.raw_length, int)
    assert e.offset >= 0 and e.length >= 0 and 0 <= e.raw_length <= MAX_CHUNK


def check_pack_header(entries) -> None:
    for e in entries:
        _check_entry(e)


def check_index(packs) -> None:
    for pid, entries in packs.items():
        assert _is(pid, bytes) and len(pid) == 32
        for e in entries:
            _check_entry(e)


def check_ref_table(state) -> None:
    assert all(_is(k, str) and _is(v, str) for k, v in state.refs.items())
    assert all(_is(n, str) for n in state.git_packs + state.index_files)


def check_builtin(value) -> None:
    def plain(v, depth=0):
        assert depth <= 101
        if _is(v, list, tuple):
            for x in v:
                plain(x, depth + 1)
        elif _is(v, dict):
            for k, x in v.items():
                plain(k, depth + 1)
                plain(x, depth + 1)
        else:
            assert _is(v, bool, int, float, str, bytes, type(None))

    plain(value)


def check_npy(array) -> None:
    assert isinstance(array, np.ndarray) and not array.dtype.hasobject


# -- seeds: one valid input per decoder, from the documented format ---------------------------------
def _pack(rows) -> bytes:
    """Blobs (zeros, as long as the rows say) and the header that lists them (§5)."""
    header = msgpack.packb(rows, use_bin_type=True)
    blobs = sum(r[2] for r in rows if isinstance(r, list) and len(r) > 2 and isinstance(r[2], int) and 0 <= r[2] < 4096)
    return bytes(blobs) + header + len(header).to_bytes(4, "little") + TRAILER


def _npy() -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_2_0(out, {"shape": (2, 3), "fortran_order": False, "descr": "<i4"})
    return out.getvalue() + np.arange(6, dtype="<i4").tobytes()


ROWS = [file_row("dir/a.txt", b"alpha"), file_row("dir/l", symlink="a.txt")]
CID = bytes(range(32))
STEP = {"kind": "step_run", "schema": 1, "name": "add", "status": "completed", "cached": False,
        "cache_key": "ab" * 32, "code_hash": "cd" * 32, "key_parts": {"format": "artrepo-cache/1"},
        "parameters": {"a": 4}, "inputs": {}, "outputs": {"total": "ef" * 20}, "output_labels": {"total": "1"},
        "upstream": [], "cacheable": True, "cached_from": None, "start_ns": 1, "end_ns": 2, "error": None,
        "traceback": None}
RUN = {"kind": "pipeline_run", "schema": 1, "run_id": "12" * 20, "pipeline": "adder", "status": "completed",
       "parameters": {}, "steps": ["add"], "start_ns": 1, "end_ns": 2, "source": None}

PROVENANCE = {"kind": "provenance", "schema": 1, "executed": True, "source": "pipe.py",
              "git": {"state": "git", "commit": "ab" * 20, "dirty": False},
              "environment": {"python": "3.11.7", "packages": {"numpy": "2.0.0"}}, "user": "u", "host": "h"}


@dataclass
class Decoder:
    decode: Callable[[bytes], Any]
    check: Callable[[Any], None]
    seed: bytes
    doc: dict | list | None = None  # a msgpack document whose fields the structured strategy replaces
    encode: Callable[[Any], bytes] = canonical


DECODERS = {
    "version record": Decoder(decode_version, check_version, b"", record_doc("x", ROWS)),
    "manifest": Decoder(decode_manifest, check_manifest, b"", manifest_doc(ROWS)),
    "annotation": Decoder(decode_annotation, check_annotation, b"",
                          {"kind": "annotation", "schema": 1, "version_id": "ab" * 20, "tags": ["t"],
                           "metadata": {"k": 1}, "created_ns": 5}),
    "run record": Decoder(decode_run, check_run, b"", RUN),
    "step record": Decoder(decode_step, check_step, b"", STEP),
    "provenance record": Decoder(decode_provenance, check_provenance, b"", PROVENANCE),
    "pack header": Decoder(decode_pack_header, check_pack_header, b"", [[CID, 0, 5, 5], [CID[::-1], 1, 9, 20]],
                           _pack),
    "index file": Decoder(decode_index, check_index, b"", {"v": 1, "packs": {CID: [[CID, 0, 0, 5, 5]]}},
                          lambda doc: msgpack.packb(doc, use_bin_type=True)),
    "ref table": Decoder(decode_ref_table, check_ref_table, b"",
                         {"v": 1, "refs": {"refs/artrepo/v/x/1": "ab" * 20}, "git": ["cd" * 32],
                          "index": ["ef" * 32], "writer": "00" * 16}, encode_table),
    "builtin value": Decoder(decode_builtin, check_builtin,
                             msgpack.packb([1, msgpack.ExtType(1, msgpack.packb([2, "x"])), {"k": b"v"}])),
    "npy file": Decoder(decode_npy, check_npy, _npy()),
}
for _decoder in DECODERS.values():
    if _decoder.doc is not None:
        _decoder.seed = _decoder.encode(_decoder.doc)

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**64), max_value=2**64) | st.floats()
    | st.text(max_size=8) | st.binary(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=3),
    max_leaves=8)


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """The seed with a few bytes replaced, cut short, or grown."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["flip", "cut", "insert"]))
        if how == "flip":
            data[at] = draw(st.integers(0, 255))
        elif how == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@st.composite
def restructured(draw, decoder: Decoder) -> bytes:
    """The seed document with one field (or row item) replaced by any msgpack value: the right schema, the wrong types."""
    doc = msgpack.unpackb(decoder.seed if decoder.doc is None else msgpack.packb(decoder.doc, use_bin_type=True),
                          raw=False, strict_map_key=False) if decoder.encode is canonical else decoder.doc
    doc = _replace_somewhere(draw, doc)
    try:
        return decoder.encode(doc)
    except (TypeError, ValueError, OverflowError):
        return decoder.seed


def _replace_somewhere(draw, doc):
    if isinstance(doc, dict) and doc:
        key = draw(st.sampled_from(sorted(doc, key=repr)))
        new = dict(doc)
        new[key] = _replace_somewhere(draw, doc[key]) if draw(st.booleans()) else draw(VALUES)
        return new
    if isinstance(doc, list) and doc:
        at = draw(st.integers(0, len(doc) - 1))
        new = list(doc)
        new[at] = _replace_somewhere(draw, doc[at]) if draw(st.booleans()) else draw(VALUES)
        return new
    return draw(VALUES)


def inputs(name: str):
    decoder = DECODERS[name]
    strategies = [st.binary(max_size=200), mutated(decoder.seed)]
    if decoder.doc is not None:
        strategies.append(restructured(decoder))
    return st.one_of(strategies)


def holds(name: str, data: bytes) -> None:
    decoder = DECODERS[name]
    try:
        value = decoder.decode(data)
    except (FormatError, IntegrityError):
        return
    decoder.check(value)


def test_every_seed_decodes_to_a_well_typed_value():
    """The seeds are valid: a property failure below is the decoder's, not the forgery's."""
    for name, decoder in DECODERS.items():
        decoder.check(decoder.decode(decoder.seed))


def _property(name: str):
    @SETTINGS
    @given(data=inputs(name))
    def test(data):
        holds(name, data)

    test.__name__ = f"test_{name.replace(' ', '_')}_raises_the_format_error_or_decodes_well_typed"
    return test


test_version_records = _property("version record")
test_manifests = _property("manifest")
test_annotations = _property("annotation")
test_run_records = _property("run record")
test_step_records = _property("step record")
test_provenance_records = _property("provenance record")
test_pack_headers = _property("pack header")
test_index_files = _property("index file")
test_ref_tables = _property("ref table")
test_builtin_values = _property("builtin value")
test_npy_files = _property("npy file")


def test_an_npy_header_length_is_bounded_before_it_is_read():
    """A header declaring 4 GiB of itself must not make the reader ask for 4 GiB."""
    class Recording(io.BytesIO):
        largest = 0

        def read(self, n=-1):
            Recording.largest = max(Recording.largest, n)
            return super().read(n)

    data = b"\x93NUMPY\x02\x00" + (0xFFFFFFF0).to_bytes(4, "little") + b"{'descr': '<f8'"
    with pytest.raises(FormatError):
        decode_npy_stream(Recording(data))
    assert Recording.largest < 1 << 20
