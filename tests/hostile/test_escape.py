"""Issue 14, escape: symlink chains (item 1) and ref names taken from remote trees (item 2).

The chain (recipes.chain): `dir/d/…/d/L -> ../…` leads back to the
artifact's root, lexically inside; `dir/M -> d/…/L/../…/etc/passwd` passes a
`normpath` check (the climb cancels the walk down), but the kernel follows `L`
first and then climbs above the root: `M` names /etc/passwd, and `W` a folder
outside, through which a later write would land outside the export.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artrepo.errors import IntegrityError
from artrepo_testing import git_fsck
from forgery import decode_table
from harness import dashboard_home, links_leaving
from recipes import (BAD_TREES, HOSTILE_VALUES, chain, forge_bad_cache_keys, forge_bad_provenance, forge_bad_trees,
                     forge_chain, forge_hostile_values)


def test_the_chain_fools_a_lexical_check_but_not_the_kernel(tmp_path):
    """The forged links are what the issue describes: inside by normpath, outside for the kernel."""
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "t"
    links = chain("dir/", outside)
    for rel, target in links.items():
        lexical = os.path.normpath(os.path.join(os.path.dirname(rel), target))
        assert not lexical.startswith("..") and not os.path.isabs(lexical)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / rel)
    assert os.path.realpath(root / "dir/M") == "/etc/passwd"
    assert os.path.realpath(root / "dir/W") == str(outside)
    from artrepo.safepaths import check_files

    with pytest.raises(IntegrityError, match="outside"):
        check_files(links.items())


def test_export_and_load_never_make_a_link_that_leads_outside(world, tmp_path):
    victim = world.victim
    for dest in (tmp_path / "out", tmp_path / "out.zip"):
        proc = victim.cli("export", "chain", str(dest))
        assert proc.refused(3) and "chain:1" in proc.stderr and "outside" in proc.stderr, proc
        assert not dest.exists()
    loaded = victim.load("chain", "data")
    assert loaded["chain"].startswith("IntegrityError") and "outside" in loaded["chain"], loaded
    assert loaded["data"].startswith("value: PosixPath"), loaded  # the legit folder still loads
    assert links_leaving(world.victim.home) == [] and links_leaving(tmp_path) == []
    assert list(world.outside.iterdir()) == []


def test_forgeries_pulled_from_a_remote_are_refused_by_pull_or_when_used(forged, bucket, victim, tmp_path):
    """Items 1, 10 and 11 (manifests) through a real pull: whatever pull lets through, using it fails."""
    outside = tmp_path / "outside"
    outside.mkdir()
    forge_chain(forged, outside)
    forge_hostile_values(forged)
    forge_bad_trees(forged)
    forged.write_to(bucket)
    cloned = victim.clone(bucket)
    if cloned.returncode != 0:  # once pull checks what it makes visible
        assert cloned.refused(3), cloned
        return
    names = ["chain", *HOSTILE_VALUES, *BAD_TREES]
    loaded = victim.load(*names, "num")
    assert loaded["num"] == "value: 10"
    exported = victim.exports(["chain", *BAD_TREES], tmp_path / "exports")
    assert all(r.startswith("IntegrityError") and "left behind" not in r for r in exported.values()), exported
    assert all(loaded[n].split(":")[0] in ("IntegrityError", "FormatError") for n in names), loaded
    assert links_leaving(tmp_path) == [] and list(outside.iterdir()) == []


def test_register_refuses_a_folder_whose_links_chain_outside(victim, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "innocent"
    folder.mkdir()
    (folder / "data.txt").write_text("data\n")
    for rel, target in chain("", outside).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, folder / rel)
    victim.cli("init", str(victim.root), cwd=victim.home)
    proc = victim.cli("register", str(folder), "--name", "innocent")
    assert proc.refused(1) and "outside" in proc.stderr, proc
    assert victim.cli("list").stdout.strip() == "no artifacts"
    assert not list((victim.root / ".artrepo" / "chunks").rglob("packs/*/*"))


def test_legit_links_inside_a_folder_still_register_and_export(victim, tmp_path):
    folder = tmp_path / "legit"
    (folder / "a" / "b").mkdir(parents=True)
    (folder / "a" / "b" / "f.txt").write_text("f\n")
    links = {"up": "a/b/../b/f.txt", "a/b/back": "../../up", "a/sib": "b", "a/sib-file": "sib/f.txt",
             "dangling": "nowhere/at/all", "a/b/self-dir": "."}
    for rel, target in links.items():
        os.symlink(target, folder / rel)
    victim.cli("init", str(victim.root), cwd=victim.home)
    assert victim.cli("register", str(folder), "--name", "legit").returncode == 0
    out = victim.home / "out"
    assert victim.cli("export", "legit", str(out)).returncode == 0
    assert (out / "dir" / "a" / "sib-file").read_text() == "f\n"
    assert (out / "dir" / "a" / "b" / "back").read_text() == "f\n"
    assert links_leaving(out) == []


def test_pull_refuses_a_version_whose_links_chain_outside(forged, bucket, victim, tmp_path):
    forge_chain(forged, tmp_path)
    victim.project_with(bucket, forged)
    proc = victim.cli("pull", "evil")
    assert proc.refused(3) and "chain" in proc.stderr, proc
    assert victim.cli("show", "chain").returncode == 1  # never made visible
    victim.still_usable()


def test_fsck_names_versions_whose_links_chain_outside_or_whose_tree_is_inconsistent(forged, bucket, victim,
                                                                                    tmp_path):
    forge_chain(forged, tmp_path)
    forge_bad_trees(forged)
    names = ["chain", *BAD_TREES]
    victim.project_with(bucket, forged)
    remote = victim.cli("fsck", "--remote", "evil")
    assert remote.refused(3) and all(f"{n}:1" in remote.stdout for n in names), remote
    forged.plant(victim.root, {f"refs/artrepo/v/{n}/1": forged.table["refs"][f"refs/artrepo/v/{n}/1"]
                               for n in names})
    local = victim.cli("fsck")
    assert local.refused(3) and all(f"{n}:1" in local.stdout for n in names), local
    assert "mine:1" not in local.stdout


def test_cache_key_names_from_a_remote_never_become_refs(forged, bucket, victim, tmp_path):
    run_id = forge_bad_cache_keys(forged)
    victim.project_with(bucket, forged)
    pulled = victim.cli("pull", "evil")
    assert pulled.refused(3) and f"run {run_id[:12]}" in pulled.stderr and "not a cache key" in pulled.stderr, pulled
    assert not (victim.root / ".artrepo" / "refs" / "artrepo" / "annotations").exists()
    assert not list((victim.root / ".artrepo" / "refs" / "artrepo").glob("cache/*/*"))
    git_fsck(victim.root)
    assert dashboard_home(victim.root) == 200
    assert victim.cli("log").returncode == 0
    victim.still_usable()
    # the refused run is not here: a push to the team never sends it on
    assert victim.cli("remote", "add", "team", str(tmp_path / "team")).returncode == 0
    assert victim.cli("push", "team").returncode == 0
    table = decode_table((tmp_path / "team" / "state").read_bytes())
    assert not [ref for ref in table["refs"] if ref.startswith("refs/artrepo/runs/")], table["refs"]


def test_pull_refuses_a_run_whose_provenance_does_not_decode(forged, bucket, victim):
    """`show RUN` and the run page read a run's provenance: a pulled run's must decode (issue 13)."""
    run_id = forge_bad_provenance(forged)
    victim.project_with(bucket, forged)
    pulled = victim.cli("pull", "evil")
    assert pulled.refused(3) and f"run {run_id[:12]}" in pulled.stderr and "provenance" in pulled.stderr, pulled
    assert victim.cli("show", run_id[:12]).returncode == 1  # never made visible
    assert victim.cli("show", "data:1").returncode == 0  # everything else was pulled
    victim.still_usable()


RESOLVE_NAMES = st.sampled_from(["a", "b", "c", "L", "M", "..", "."])


@st.composite
def link_sets(draw):
    """A few files and links whose targets wander through each other and `..`."""
    paths = draw(st.lists(st.lists(st.sampled_from(["a", "b", "L", "M"]), min_size=1, max_size=3)
                          .map("/".join), min_size=1, max_size=6, unique=True))
    out = {}
    for p in paths:
        if any(p.startswith(q + "/") or q.startswith(p + "/") for q in out):
            continue
        out[p] = None if draw(st.booleans()) else "/".join(draw(st.lists(RESOLVE_NAMES, min_size=1, max_size=6)))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=link_sets())
def test_whatever_check_files_accepts_the_kernel_resolves_inside(entries, tmp_path_factory):
    """The resolver agrees with the kernel: an accepted set, made on disk, has no link leading out."""
    from artrepo.safepaths import check_files

    try:
        check_files(entries.items())
    except IntegrityError:
        return
    root = tmp_path_factory.mktemp("kernel") / "r"
    root.mkdir()
    for rel, target in sorted(entries.items(), key=lambda e: e[1] is not None):  # links last
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if target is None:
            (root / rel).write_text("x")
        else:
            os.symlink(target, root / rel)
    assert links_leaving(root) == [], entries
