"""Every record kind decodes what it encoded, and refuses anything else with a FormatError."""
from __future__ import annotations

import msgpack
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from artrepo.errors import FormatError
from artrepo.records.artifact import Annotation, ArtifactType, Manifest, VersionRecord
from artrepo.records.run import RunRecord, StepRecord
from artrepo.storedfile import StoredFile

text = st.text(max_size=12)
ids = st.text("0123456789abcdef", min_size=40, max_size=40)
ns = st.integers(min_value=0, max_value=2**63 - 1)
json_like = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | text,
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                         max_leaves=8)
json_map = st.dictionaries(text, json_like, max_size=4)
str_map = st.dictionaries(text, text, max_size=4)
tags = st.lists(text, max_size=3).map(tuple)
stored_file = st.builds(StoredFile, text, st.integers(0, 2**40),
                        st.lists(st.tuples(st.binary(min_size=32, max_size=32), st.integers(0, 2**20)),
                                 max_size=3).map(tuple),
                        st.booleans(), st.none() | text)

RECORDS = {
    "artifact_version": st.builds(
        VersionRecord, name=text, version=st.none() | text, artifact_type=st.sampled_from([t.value for t in ArtifactType]),
        materializer=text, data_type=text,
        content_hash=st.binary(min_size=32, max_size=32), size=st.integers(0, 2**50), created_ns=ns, tags=tags,
        metadata=json_map, producer=st.none() | st.fixed_dictionaries({"run_id": ids, "step": text, "output": text}),
        origin=st.sampled_from(["saved", "registered", "pipeline"]), environment=str_map),
    "manifest": st.builds(Manifest, st.lists(stored_file, max_size=3).map(tuple),
                          st.lists(st.tuples(text, text, stored_file), max_size=2).map(tuple)),
    "annotation": st.builds(Annotation, ids, tags, json_map, ns, tags),
    "pipeline_run": st.builds(
        RunRecord, run_id=ids, pipeline=text, status=st.sampled_from(["completed", "failed"]), parameters=json_map,
        steps=tags, start_ns=ns, end_ns=ns, source=st.none() | text),
    "step_run": st.builds(
        StepRecord, name=text, status=st.sampled_from(["completed", "failed", "skipped"]), cached=st.booleans(),
        cache_key=text, code_hash=text, key_parts=str_map, parameters=json_map, inputs=str_map, outputs=str_map,
        output_labels=str_map, upstream=tags, cacheable=st.booleans(), cached_from=st.none() | ids,
        start_ns=st.none() | ns, end_ns=st.none() | ns, error=st.none() | text, traceback=st.none() | text),
}
any_record = st.sampled_from(sorted(RECORDS)).flatmap(RECORDS.get)
# Values of every msgpack type; a field given one of another type than its own is malformed (nil aside:
# a field that may be nil gets a float, which no field is).
SAMPLES = [1.5, "text", 7, b"bytes", [1], {"k": 1}, True]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _doc(record) -> dict:
    return msgpack.unpackb(record.to_msgpack(), raw=False)


def _refused(record, doc: dict) -> None:
    with pytest.raises(FormatError):
        type(record).from_msgpack(msgpack.packb(doc, use_bin_type=True))


@FAST
@given(any_record)
def test_every_record_decodes_to_itself(record):
    assert type(record).from_msgpack(record.to_msgpack()) == record


@FAST
@given(any_record, st.data())
def test_a_record_with_a_field_missing_is_refused(record, data):
    doc = _doc(record)
    del doc[data.draw(st.sampled_from(sorted(set(doc) - type(record).FORMAT.optional)))]
    _refused(record, doc)


@FAST
@given(st.builds(Annotation, ids, tags, json_map, ns))
def test_an_optional_field_left_empty_is_not_written_and_reads_back_empty(note):
    assert "removed_tags" not in _doc(note)
    assert Annotation.from_msgpack(note.to_msgpack()).removed_tags == ()


@FAST
@given(any_record, text)
def test_a_record_with_an_extra_field_is_refused(record, name):
    doc = _doc(record)
    doc[name if name not in doc else name + "_extra"] = None
    _refused(record, doc)


@FAST
@given(any_record, st.data())
def test_a_record_with_a_field_of_the_wrong_type_is_refused(record, data):
    doc = _doc(record)
    field = data.draw(st.sampled_from(sorted(set(doc) - {"kind", "schema"})))
    value = doc[field]
    wrong = [1.5] if value is None else [s for s in SAMPLES if type(s) is not type(value)]
    doc[field] = data.draw(st.sampled_from(wrong))
    _refused(record, doc)


@FAST
@given(any_record, st.data())
def test_a_wrong_type_inside_an_array_or_map_is_refused(record, data):
    doc = _doc(record)
    nested = sorted(k for k, v in doc.items() if isinstance(v, (list, dict)))
    if not nested:
        return
    value = doc[data.draw(st.sampled_from(nested))]
    if isinstance(value, list):
        value.append(b"\x00")  # no array of any record holds binary next to its own members
    else:
        value[data.draw(st.sampled_from(["zz", 3]))] = b"\x00"  # nor a map a binary value or an int key
    _refused(record, doc)


@FAST
@given(any_record, st.data())
def test_truncated_record_bytes_are_refused(record, data):
    raw = record.to_msgpack()
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(FormatError):
        type(record).from_msgpack(raw[:cut])


def test_metadata_nested_deeper_than_the_bound_is_refused():
    deep: object = "leaf"
    for _ in range(40):
        deep = {"d": deep}
    record = Annotation("0" * 40, (), {"k": deep}, 1)
    with pytest.raises(FormatError, match="field 'metadata'"):
        Annotation.from_msgpack(record.to_msgpack())


@pytest.mark.parametrize("row, what", [
    (["a", 1, 0, None], "files"),  # a stored file of four members
    (["a", 1, 0, None, [["not bytes", 1]]], "files"),  # a chunk id as text
    (["a", True, 0, None, []], "files"),  # a size that is a bool
])
def test_a_misshapen_manifest_file_row_is_refused(row, what):
    doc = {"kind": "manifest", "schema": 1, "files": [row], "visualizations": []}
    with pytest.raises(FormatError, match=f"field '{what}'"):
        Manifest.from_msgpack(msgpack.packb(doc, use_bin_type=True))


def test_messages_name_the_kind_and_the_field():
    doc = _doc(RunRecord(run_id="r", pipeline="p", status="completed"))
    del doc["pipeline"]
    with pytest.raises(FormatError, match=r"malformed pipeline_run record: field 'pipeline' is missing"):
        RunRecord.from_msgpack(msgpack.packb(doc))


@FAST
@given(RECORDS["manifest"])
def test_a_manifests_content_hash_is_blake3_of_the_canonical_encoding_of_its_sorted_file_rows(manifest):
    import blake3

    from artrepo.records import codec
    from artrepo.records.artifact import _file_row

    assume(len({f.path for f in manifest.files}) == len(manifest.files))  # a path twice is refused (safepaths)
    rows = sorted(_file_row(f) for f in manifest.files)  # docs/format.md §7; visualizations left out
    assert manifest.content_hash == blake3.blake3(codec.encode({"files": rows})).digest()
