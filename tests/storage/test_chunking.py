"""Content-defined chunking: same chunks whatever the write sizes; edits stay local."""
import os
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from artrepo.storage.chunking import MAX_SIZE, MIN_SIZE, Chunker


def chunks_of(pieces):
    out = []
    c = Chunker(lambda views, _borrowed: out.extend(map(bytes, views)))
    for p in pieces:
        c.write(p)
    c.close()
    return out


DATA = os.urandom(20 << 20)
REFERENCE = chunks_of([DATA])


def test_chunks_rebuild_the_data_and_respect_size_bounds():
    assert b"".join(REFERENCE) == DATA
    assert all(MIN_SIZE <= len(c) <= MAX_SIZE for c in REFERENCE[:-1])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(DATA) - 1), max_size=40))
def test_write_sizes_never_change_the_boundaries(cuts):
    cuts = sorted(set(cuts))
    pieces = [DATA[a:b] for a, b in zip([0, *cuts], [*cuts, len(DATA)])]
    assert chunks_of(pieces) == REFERENCE


def test_insertion_in_the_middle_changes_only_nearby_chunks():
    pos = len(DATA) // 2
    edited = DATA[:pos] + b"inserted!" + DATA[pos:]
    new = set(chunks_of([edited])) - set(REFERENCE)
    assert sum(len(c) for c in new) <= 3 * MAX_SIZE


def test_empty_input_has_no_chunks():
    assert chunks_of([b""]) == []
    assert chunks_of([]) == []


def test_small_random_writes_match_one_big_write():
    rng = random.Random(1)
    pieces, pos = [], 0
    while pos < len(DATA):
        n = rng.choice([1, 100, 4096, 70000, 3 << 20])
        pieces.append(memoryview(DATA)[pos:pos + n])
        pos += n
    assert chunks_of(pieces) == REFERENCE
