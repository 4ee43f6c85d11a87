"""One rule for a chunk row: the per-row check that words errors (`checked_entry`), the column-wise one footers and
index files are read with (`rows_sound`), and what `decode_index` accepts, agree on every row."""
import msgpack
from hypothesis import given, settings, strategies as st

from artrepo.errors import IntegrityError
from artrepo.storage.index import decode_index, encode_index, rows_of
from artrepo.storage.packfile import MAX_CHUNK, checked_entry, rows_sound

_ints = st.one_of(st.sampled_from([0, 1, 2, 5, MAX_CHUNK, MAX_CHUNK + 1, -1]), st.integers(-3, 12))
_field = st.one_of(_ints, st.booleans(), st.just(1.0), st.just(b"x"), st.none())
_cid = st.one_of(st.just(b"a" * 32), st.just(b"b" * 32), st.just(b"c" * 31), st.just("a" * 32))
_row = st.tuples(_cid, st.one_of(st.sampled_from([0, 1]), _field), _field, _field, _field)


def _accepted_row_by_row(rows) -> bool:
    offset = 0
    for row in rows:
        try:
            e = checked_entry(*row, "test")
        except IntegrityError:
            return False
        if e.offset != offset:
            return False
        offset += e.length
    return True


def _contiguous(rows):
    """Offsets rewritten to run on from 0 (when the lengths are integers), so the other checks are reached."""
    out, offset = [], 0
    for cid, codec, _at, length, raw in rows:
        out.append((cid, codec, offset, length, raw))
        offset += length if type(length) is int else 0
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(_row, max_size=4), st.booleans())
def test_the_row_checks_agree(rows, contiguous):
    rows = _contiguous(rows) if contiguous else rows
    sound = _accepted_row_by_row(rows)
    assert rows_sound(rows) == sound
    data = msgpack.packb({"v": 1, "packs": {b"p" * 32: [list(r) for r in rows]}})
    try:
        decoded = decode_index(data, "test")
    except IntegrityError:
        assert not sound
    else:
        assert sound and rows_of(decoded[b"p" * 32]) == [tuple(r) for r in rows]
        assert encode_index(decoded) == data

