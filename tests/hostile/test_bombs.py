"""Issue 14, unbounded memory and crashes: memory bombs (9), nesting that segfaults (10), and
decoders that give tracebacks instead of one line (11).

Every CLI child runs under a 3 GiB address-space cap (harness.ADDRESS_SPACE_CAP) so a bomb
that still goes off costs the shared machine little; the measure is the child's peak RSS.
"""
from __future__ import annotations

import re
import textwrap

import pytest

from forgery import FolderBucket, digest
from harness import RSS_LIMIT, dashboard_home
from recipes import (BAD_HEADERS, BAD_TREES, HOSTILE_VALUES, forge_bad_headers, forge_bad_records, forge_bomb,
                     zero_bomb)

BOMB_SIZE = 192 << 20  # declared and real plaintext: 384 times FastCDC's largest chunk


@pytest.fixture(scope="session")
def bomb():
    return zero_bomb(BOMB_SIZE)


def test_a_decompression_bomb_never_inflates_a_pull(forged, bucket, victim, bomb):
    forge_bomb(forged, bomb)
    victim.project_with(bucket, forged)
    pulled = victim.cli("pull", "evil")
    assert pulled.refused(3) and pulled.peak_rss < RSS_LIMIT, pulled
    victim.still_usable()


def test_a_decompression_bomb_never_inflates_an_on_demand_load(forged, bucket, victim, bomb):
    forge_bomb(forged, bomb)
    victim.project_with(bucket, forged)
    assert victim.cli("pull", "--metadata-only", "evil").returncode == 0
    loaded = victim.python("""
        from artrepo import load_artifact
        try:
            load_artifact("bomb")
        except Exception as exc:
            print(type(exc).__name__)
    """)
    assert loaded.stdout.strip() == "IntegrityError" and loaded.peak_rss < RSS_LIMIT, loaded
    victim.still_usable()


def test_a_huge_sparse_pack_named_by_a_tiny_index_is_never_read(forged, victim, tmp_path):
    """Folder remote only: a 6 GiB sparse file (moto keeps objects in memory)."""
    bucket = FolderBucket(tmp_path / "remote")
    data = b"the only chunk of sparse:1\n"
    pack_id = digest(b"a pack that is mostly holes")
    forged.add_index({pack_id: [[digest(data), 0, (6 << 30) - 4096, len(data), len(data)]]})
    forged.forge_files("sparse", {"file/sparse.txt": data}, pack=False)
    forged.write_to(bucket)
    with open(bucket.root / "packs" / pack_id.hex(), "wb") as f:
        f.truncate(6 << 30)
    victim.project_with(bucket)
    pulled = victim.cli("pull", "evil")
    assert pulled.refused(3) and pulled.peak_rss < RSS_LIMIT, pulled
    victim.still_usable()


USES_DEEP = textwrap.dedent("""
    from artrepo import Client, pipeline, step

    @step
    def consume(value: object) -> int:
        return 1

    @pipeline
    def uses_deep():
        consume(Client().get_artifact_version("deep"))
""")


def test_hostile_builtin_and_npy_values_are_format_errors_not_crashes(world):
    """200 nested tuples (a SIGSEGV before), a 5,000-digit integer, extension 9, an .npy of 10^12 elements,
    a record naming the wrong materializer, containers nested 300 deep."""
    victim = world.victim
    loaded = victim.load(*HOSTILE_VALUES, "num")
    for name in HOSTILE_VALUES:
        assert loaded[name].split(":")[0] in ("FormatError", "IntegrityError"), loaded
    assert loaded["num"] == "value: 10"
    (victim.root / "uses_deep.py").write_text(USES_DEEP)
    run = victim.cli("run", "uses_deep.py")
    assert run.refused(1) and "nested deeper" in run.stderr, run  # the step fails: exit 1, one line
    assert run.peak_rss < RSS_LIMIT


def test_one_bad_record_costs_only_its_own_version(forged, bucket, victim):
    bad = forge_bad_records(forged)
    victim.project_with(bucket, forged)
    pulled = victim.cli("pull", "evil")  # may refuse the bad records, in one line; the good ones arrive
    assert pulled.returncode in (0, 3) and "Traceback" not in pulled.stderr, pulled
    listed = victim.cli("list")
    assert listed.returncode == 0 and "num" in listed.stdout and "mine" in listed.stdout, listed
    present = [name for name in bad if victim.cli("show", name).returncode != 1]
    for name in present:
        assert victim.cli("show", name).refused(3), name
    fsck = victim.cli("fsck")
    assert fsck.returncode == (3 if present else 0) and all(f"{n}:1" in fsck.stdout for n in present), fsck
    assert dashboard_home(victim.root) == 200


def test_a_bad_record_already_here_costs_only_its_own_version(forged, victim, tmp_path):
    """However one got here (planted: damage, an older artrepo), list, log and the dashboard go on and mark it."""
    bad = forge_bad_records(forged)
    victim.project_with(FolderBucket(tmp_path / "unused"))
    refs = forged.table["refs"]
    forged.plant(victim.root, {ref: refs[ref] for ref in [*(f"refs/artrepo/v/{n}/1" for n in bad), "refs/artrepo/v/num/1"]})
    listed = victim.cli("list")
    assert listed.returncode == 0 and "num" in listed.stdout and "mine" in listed.stdout, listed
    assert all(re.search(rf"^{n}\s+unreadable", listed.stdout, re.M) for n in bad), listed
    assert listed.stderr.count("warning: skipped unreadable version") == len(bad), listed
    for name in bad:
        shown = victim.cli("show", name)
        assert shown.refused(3) and f"{name}:1" in shown.stderr, shown
        logged = victim.cli("log", name)
        assert logged.returncode == 3 and "Traceback" not in logged.stderr, logged
    assert victim.cli("log", "num").returncode == 0 and victim.cli("log").returncode == 0
    fsck = victim.cli("fsck")
    assert fsck.refused(3) and all(f"{n}:1" in fsck.stdout for n in bad) and "mine:1" not in fsck.stdout, fsck
    assert dashboard_home(victim.root) == 200
    victim.still_usable()


def test_malformed_pack_headers_are_one_line(forged, bucket, victim):
    forge_bad_headers(forged)
    victim.project_with(bucket, forged)
    remote = victim.cli("fsck", "--remote", "evil", "--read-data")
    assert remote.refused(3) and all(f"{kind}:1" in remote.stdout for kind in BAD_HEADERS), remote
    pulled = victim.cli("pull", "evil")
    assert pulled.refused(3), pulled
    victim.still_usable()


def test_manifests_whose_tree_is_inconsistent_are_refused_before_writing(world, tmp_path):
    """A path twice, a file and a link at one path, a file below a link, a file below a file."""
    victim = world.victim
    proc = victim.cli("export", "under-link", str(tmp_path / "cli"))
    assert proc.refused(3) and "is a link" in proc.stderr and "under-link:1" in proc.stderr, proc
    exported = victim.exports(BAD_TREES, tmp_path)
    loaded = victim.load(*BAD_TREES)
    for name, (_, why) in BAD_TREES.items():
        for dest in (tmp_path / name, tmp_path / f"{name}.zip"):
            outcome = exported[str(dest)]
            assert outcome.startswith("IntegrityError") and why in outcome and "left behind" not in outcome, outcome
        assert loaded[name].startswith("IntegrityError") and why in loaded[name], loaded
