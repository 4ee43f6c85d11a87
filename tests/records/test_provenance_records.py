"""The provenance record and the step record's optional `code` field (docs/format.md, "Provenance")."""
from __future__ import annotations

import msgpack
import pytest

from artrepo.errors import FormatError
from artrepo.records.run import ProvenanceRecord, StepRecord


def step(**changes) -> StepRecord:
    return StepRecord(name="train", status="completed", cached=False, cache_key="k", code_hash="h", **changes)


def test_a_step_without_code_is_written_as_before_and_reads_back_empty():
    plain = step()
    assert "code" not in msgpack.unpackb(plain.to_msgpack())  # older readers see the record they know
    assert StepRecord.from_msgpack(plain.to_msgpack()).code == ""
    linked = step(code="ab" * 20)
    assert StepRecord.from_msgpack(linked.to_msgpack()) == linked


def test_a_provenance_record_round_trips_and_refuses_malformed_fields():
    record = ProvenanceRecord(executed=True, source="pipe.py", git_state={"state": "git", "commit": None, "dirty": False},
                              environment={"python": "3.11.7", "packages": {"numpy": "2.0.0"}}, user="u", host="h")
    assert ProvenanceRecord.from_msgpack(record.to_msgpack()) == record
    doc = msgpack.unpackb(record.to_msgpack())
    for field, bad in (("executed", 1), ("git", ["x"]), ("user", 3)):
        with pytest.raises(FormatError, match=field):
            ProvenanceRecord.from_msgpack(msgpack.packb({**doc, field: bad}))
    with pytest.raises(FormatError, match="unknown field 'secret'"):
        ProvenanceRecord.from_msgpack(msgpack.packb({**doc, "secret": "x"}))
