"""The ref table in two parts (a base table plus recent changes) and pushes that compare only what changed.

FOLD_AT is lowered so that a few versions make a base table; the code paths are those of 100,000.
"""
import shutil

import msgpack
import pytest
import zstandard

from artrepo.errors import ConflictError, IntegrityError
from artrepo.remotes import pushplan
from artrepo.remotes.config import add_remote, get_remote
from artrepo.remotes.pull import clone, pull
from artrepo.remotes.push import push
from artrepo.remotes.reftable import encode_table, table_key
from artrepo.remotes.state import read_state
from artrepo.repository import Repository
from artrepo.storage.backend import open_backend
from artrepo.values import load_value, save_value
from artrepo_testing import git_fsck, run_cli


@pytest.fixture(autouse=True)
def small_fold(monkeypatch):
    monkeypatch.setattr("artrepo.remotes.state.FOLD_AT", 4)


def make(root, url, endpoint=None) -> Repository:
    repo = Repository.init(root)
    add_remote(repo, "origin", url, endpoint)
    return repo


def origin(repo):
    return get_remote(repo, "origin")


def table_doc(remote_url) -> dict:
    data = open_backend(*remote_url).get("state")
    return msgpack.unpackb(zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 30))


def shape(repo) -> dict:
    """What a user sees of a repository's versions: {name:label: value}, and its aliases {name@alias: label}."""
    out = {}
    for ref, oid in repo.published_refs().items():
        parts = ref.split("/")
        if parts[2] == "v":
            out[f"{parts[3]}:{parts[4]}"] = load_value(repo, repo.get(parts[3], parts[4]))
        elif parts[2] == "aliases":
            out[f"{parts[3]}@{parts[4]}"] = repo.resolve(f"{parts[3]}@{parts[4]}").version
    return out


def test_many_changes_fold_into_a_base_table_that_every_reader_sees(tmp_path, remote_url):
    a = make(tmp_path / "a", *remote_url)
    for i in range(6):
        save_value(a, i, f"m{i % 2}")
    a.set_alias(a.get("m0", "1"), "prod")
    push(a, origin(a))
    doc = table_doc(remote_url)
    assert doc["v"] == 2 and doc["base"] is not None and doc["refs"] == {}  # 7 refs > 4: all in the base
    assert doc["tops"] == {"m0": 3, "m1": 3}
    first_base = doc["base"]

    save_value(a, 6, "m0")
    push(a, origin(a))
    doc = table_doc(remote_url)
    assert doc["base"] == first_base and list(doc["refs"]) == ["refs/artrepo/v/m0/4"]  # one change, no new base
    assert doc["tops"]["m0"] == 4

    b = Repository(clone(remote_url[0], tmp_path / "b", remote_url[1])[0])
    assert shape(b) == shape(a) and load_value(b, b.get("m0", "4")) == 6 and b.resolve("m0@prod").version == "1"
    for i in range(7, 12):
        save_value(a, i, "m1")
    push(a, origin(a))
    assert table_doc(remote_url)["base"] != first_base  # 6 changes: folded into a new base
    pull(b, origin(b))
    assert shape(b) == shape(a) and load_value(b, b.get("m1", "8")) == 11
    git_fsck(a.root)
    git_fsck(b.root)


def test_a_superseded_base_table_is_removed_by_remote_gc_and_the_current_one_kept(tmp_path):
    remote = tmp_path / "remote"
    a = make(tmp_path / "a", str(remote))
    for round_ in range(3):
        for i in range(5):
            save_value(a, round_ * 10 + i, "m")
        push(a, origin(a))
    assert len(list((remote / "tables").iterdir())) == 3
    run_cli("gc", "--remote", "origin", "--grace", "0", cwd=a.root, check=True)
    assert [p.name for p in (remote / "tables").iterdir()] == [read_state(open_backend(str(remote))).base]
    assert "no problems" in run_cli("fsck", "--remote", "origin", cwd=a.root, check=True).stdout
    b = Repository(clone(str(remote), tmp_path / "b")[0])
    assert load_value(b, b.get("m", "15")) == 24


def test_a_version_1_ref_table_is_read_and_written_back_as_version_2(tmp_path):
    remote = tmp_path / "remote"
    a = make(tmp_path / "a", str(remote))
    save_value(a, 1, "m")
    save_value(a, 2, "m")
    push(a, origin(a))
    doc = table_doc((str(remote), None))
    old = {"v": 1, "refs": doc["refs"], "git": doc["git"], "index": doc["index"], "writer": "x"}
    (remote / "state").write_bytes(zstandard.ZstdCompressor().compress(msgpack.packb(old)))
    b = Repository(clone(str(remote), tmp_path / "b")[0])
    assert load_value(b, b.get("m", "2")) == 2
    save_value(b, 3, "m")
    push(b, origin(b))
    doc = table_doc((str(remote), None))
    assert doc["v"] == 2 and doc["tops"] == {"m": 3}
    pull(a, origin(a))
    assert load_value(a, a.get("m", "3")) == 3


def test_a_push_after_the_first_decides_from_the_changed_refs_alone(tmp_path, remote_url, monkeypatch):
    a = make(tmp_path / "a", *remote_url)
    for i in range(5):
        save_value(a, i, "m")
    push(a, origin(a))
    compared_all = []
    real = pushplan.plan_push
    monkeypatch.setattr("artrepo.remotes.push.plan_push", lambda *args: compared_all.append(1) or real(*args))
    save_value(a, 5, "m")
    a.set_alias(a.get("m", "6"), "prod")
    a.refs.pack()  # packing moves refs into packed-refs: still only the changed ones are compared
    result = push(a, origin(a))
    assert result.versions == 1 and result.refs == 1 and not compared_all
    assert push(a, origin(a)).up_to_date and not compared_all
    b = Repository(clone(remote_url[0], tmp_path / "b", remote_url[1])[0])
    assert shape(b) == shape(a)


def scenario(tmp_path, url: str, compare_all: bool) -> tuple[dict, dict, dict, list]:
    """Two clones saving, deleting, moving aliases and racing on one name; `compare_all` forgets the local
    snapshot before every push, so that every push compares all refs."""
    a = make(tmp_path / "a", url)
    b = make(tmp_path / "b", url)

    def push_(repo):
        if compare_all:
            shutil.rmtree(repo.git_dir / "remote-cache" / "origin" / "synced", ignore_errors=True)
        return push(repo, origin(repo))

    events = []
    for i in range(5):
        save_value(a, f"a{i}", "shared")
    save_value(a, "c", "fixed", "v1")
    a.set_alias(a.get("shared", "2"), "prod")
    push_(a)
    pull(b, origin(b))
    save_value(a, "a5", "shared")                 # a:6
    save_value(b, "b5", "shared")                 # b:6 too: renumbered to 7 on b's push
    a.delete_version(a.get("shared", "1"))
    push_(a)
    events.append(push_(b).renumbered)
    b.set_alias(b.get("shared", "7"), "prod")
    push_(b)
    save_value(b, "x", "fixed", "v2")
    push_(b)
    pull(a, origin(a))
    a.refs.pack()
    save_value(a, "a7", "shared")
    push_(a)
    save_value(a, "late", "fixed", "v3")
    save_value(b, "other", "fixed", "v3")         # a custom label taken with other content: a conflict
    push_(a)
    with pytest.raises(ConflictError, match="fixed:v3"):
        push_(b)
    reader = Repository(clone(url, tmp_path / "reader")[0])
    return shape(a), shape(b), shape(reader), events


def test_deciding_from_changes_gives_what_comparing_everything_gives(tmp_path):
    fast = scenario(tmp_path / "fast", str(tmp_path / "fast" / "remote"), compare_all=False)
    full = scenario(tmp_path / "full", str(tmp_path / "full" / "remote"), compare_all=True)
    assert fast == full
    assert fast[3] == [["shared:6 \u2192 shared:7"]]
    assert fast[2]["shared:8"] == "a7" and fast[2]["shared@prod"] == "7"


def test_a_push_cut_short_before_its_labels_moved_is_finished_by_the_next(tmp_path, monkeypatch):
    url = str(tmp_path / "remote")
    a, b = make(tmp_path / "a", url), make(tmp_path / "b", url)
    save_value(a, "a1", "m")
    push(a, origin(a))
    pull(b, origin(b))
    save_value(a, "a2", "m")
    save_value(b, "b2", "m")
    push(a, origin(a))
    with monkeypatch.context() as patch:
        patch.setattr(Repository, "move_labels", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt()))
        with pytest.raises(KeyboardInterrupt):
            push(b, origin(b))  # published b2 as m:3, killed before m:2 moved to m:3 here
    result = push(b, origin(b))
    assert result.versions == 0
    reader = Repository(clone(url, tmp_path / "reader")[0])
    assert [load_value(reader, reader.get("m", str(n))) for n in (1, 2, 3)] == ["a1", "a2", "b2"]
    assert load_value(b, b.get("m", "3")) == "b2" and b.version_id("m", "2") is None


def test_local_snapshots_do_not_pile_up(tmp_path):
    a = make(tmp_path / "a", str(tmp_path / "remote"))
    for i in range(6):
        save_value(a, i, "m")
        a.refs.pack()
        push(a, origin(a))
    folder = a.git_dir / "remote-cache" / "origin" / "synced"
    assert len([p for p in folder.iterdir() if p.name.startswith("packed-refs")]) == 1


def forged_base(remote, text: bytes) -> str:
    """Put a base table of `text` (any bytes) on the remote and make the ref table name it."""
    data = zstandard.ZstdCompressor().compress(text)
    from artrepo.storage import hashing

    name = hashing.digest(data).hex()
    (remote / table_key(name)).write_bytes(data)
    doc = table_doc((str(remote), None))
    doc["base"] = name
    (remote / "state").write_bytes(zstandard.ZstdCompressor().compress(msgpack.packb(doc)))
    return name


@pytest.mark.parametrize("damage", ["unsorted", "invalid ref", "not its name", "missing"])
def test_a_forged_base_table_is_refused_whole(tmp_path, damage):
    remote = tmp_path / "remote"
    a = make(tmp_path / "a", str(remote))
    for i in range(6):
        save_value(a, i, "m")
    push(a, origin(a))
    base = read_state(open_backend(str(remote))).base
    _name, _data, text = encode_table(read_state(open_backend(str(remote))).refs)
    lines = text.split(b"\n")
    if damage == "unsorted":
        forged_base(remote, b"\n".join([lines[0], lines[2], lines[1], *lines[3:]]))
    elif damage == "invalid ref":
        forged_base(remote, text.replace(b"refs/artrepo/v/m/1\n", b"refs/artrepo/v/m/../x\n"))
    elif damage == "not its name":
        (remote / table_key(base)).write_bytes(zstandard.ZstdCompressor().compress(text.replace(b"/m/1", b"/m/7")))
    else:
        (remote / table_key(base)).unlink()
    with pytest.raises(IntegrityError, match="base ref table|base table"):
        clone(str(remote), tmp_path / "b")
    proc = run_cli("clone", str(remote), str(tmp_path / "c"))
    assert proc.returncode == 3 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("versions", [6, 60])
def test_on_s3_a_push_after_one_save_makes_the_same_few_requests_at_any_size(tmp_path, s3_env, versions):
    from test_requests import counted_backend

    endpoint, bucket = s3_env
    url = f"s3://{bucket}/team"
    a = make(tmp_path / "a", url, endpoint)
    for i in range(versions):
        save_value(a, i, f"m{i % 3}")
    push(a, origin(a))
    save_value(a, "new", "m0")
    backend, sent = counted_backend(url, endpoint)
    assert push(a, origin(a), backend=backend).versions == 1
    # the ref table read, the pack, its index file, the git pack, the ref table written
    assert sorted(sent.methods()) == ["GET", "PUT", "PUT", "PUT", "PUT"], sent
    sent.clear()
    assert push(a, origin(a), backend=backend).up_to_date and sent.methods() == ["GET"]
