"""A content store at a remote URL: what a worker on another machine saves into and loads from directly."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from artrepo.errors import IntegrityError
from artrepo.storage.chunkstore import open_store
from artrepo.storedfile import StoredFile

ROOT = Path(__file__).resolve().parents[2]


def save(store, files: dict[str, bytes]) -> dict[str, StoredFile]:
    session = store.session()
    out = {}
    for path, data in files.items():
        writer = session.writer(path)
        writer.write(data)
        writer.close()
        out[path] = writer.result
    session.commit()
    return out


def load(store, stored: StoredFile) -> bytes:
    buf = bytearray(stored.size)
    with store.open(stored) as f:
        assert f.readinto(buf) == stored.size
    return bytes(buf)


def test_a_payload_saved_through_a_remote_store_loads_back_from_a_fresh_one(remote_url):
    data = {"weights.bin": np.random.default_rng(1).random(1_500_000).tobytes(),  # 12 MB, incompressible
            "zeros.bin": bytes(3 << 20), "small.txt": b"hello"}
    stored = save(open_store(*remote_url), data)
    again = open_store(*remote_url)  # another process would see the same: packs and index are in the bucket
    assert all(again.has(cid) for f in stored.values() for cid, _ in f.chunks)
    for path, content in data.items():
        assert load(again, stored[path]) == content
    with again.open(stored["weights.bin"]) as f:
        f.seek(5_000_001)
        assert f.read(1000) == data["weights.bin"][5_000_001:5_001_001]
    assert save(again, {"zeros.bin": data["zeros.bin"]})  # known chunks are not written twice
    assert len(again.index.files) == 1


WRITER = """
import json, sys
import numpy as np
from artrepo.storage.chunkstore import open_store
url, endpoint, seed = sys.argv[1], sys.argv[2] or None, int(sys.argv[3])
out = {}
for name, data in (("shared", np.random.default_rng(0).random(600_000).tobytes()),
                   ("own", np.random.default_rng(seed).random(300_000).tobytes())):
    session = open_store(url, endpoint).session()  # one session each: every writer makes the same shared pack
    writer = session.writer(name)
    writer.write(data)
    writer.close()
    session.commit()
    out[name] = [[cid.hex(), n] for cid, n in writer.result.chunks]
print(json.dumps(out))
"""


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_many_processes_writing_one_remote_store_at_once_all_succeed(kind, tmp_path, request):
    if kind == "folder":
        url, endpoint = str(tmp_path / "bucket"), ""
    else:
        endpoint, bucket = request.getfixturevalue("s3_env")
        url = f"s3://{bucket}/steps"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, endpoint, str(seed)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in range(1, 5)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    store = open_store(url, endpoint or None)
    shared = np.random.default_rng(0).random(600_000).tobytes()
    for seed, (out, _) in zip(range(1, 5), results):
        chunks = json.loads(out)
        for name, expected in (("shared", shared), ("own", np.random.default_rng(seed).random(300_000).tobytes())):
            stored = StoredFile(name, len(expected), tuple((bytes.fromhex(c), n) for c, n in chunks[name]))
            assert load(store, stored) == expected
    assert len(store.list_packs()[0]) == 5  # the shared pack once, one pack per writer's own data


def test_a_damaged_blob_in_a_remote_store_is_refused_not_returned(tmp_path):
    url = str(tmp_path / "bucket")
    data = np.random.default_rng(3).random(200_000).tobytes()
    stored = save(open_store(url), {"a.bin": data})["a.bin"]
    (pack,) = (tmp_path / "bucket" / "packs").iterdir()
    raw = bytearray(pack.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    pack.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="hash mismatch"):
        load(open_store(url), stored)


def test_loading_from_s3_costs_about_one_ranged_get_per_pack(s3_env):
    endpoint, bucket = s3_env
    url = f"s3://{bucket}/steps"
    data = np.random.default_rng(4).random(5_000_000).tobytes()  # 40 MB: three packs
    stored = save(open_store(url, endpoint), {"big.bin": data})["big.bin"]
    store = open_store(url, endpoint)
    packs = len(store.list_packs()[0])
    sent = []
    store.backend.fs.s3.meta.events.register("before-send.s3", lambda request, **kw: sent.append(request.method))
    assert load(store, stored) == data
    assert packs == 3 and sent.count("GET") <= packs + 1, sent
