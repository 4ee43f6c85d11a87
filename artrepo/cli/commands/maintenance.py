"""`fsck`, `gc` and `du`: check, collect and measure the whole repository."""
from __future__ import annotations

import contextlib
from functools import partial

import click

REMOTE_HELP = "Work on the remote NAME instead of the local repository."


def _open():
    from artrepo.repository import Repository, find_root

    return Repository(find_root())


@contextlib.contextmanager
def _view(remote: str | None):
    """The local repository, or the remote named `remote`, as maintenance sees it."""
    repo = _open()
    if remote is None:
        from artrepo.maintenance.view import LocalView
        from artrepo.remotes.session import remote_store

        yield LocalView(repo, partial(remote_store, repo))
    else:
        from artrepo.maintenance.reachcache import remote_cache
        from artrepo.remotes.config import cache_dir
        from artrepo.remotes.view import open_view

        cache = partial(remote_cache, cache_dir(repo, remote) / "reach", repo.git_dir)
        with open_view(repo, remote, cache) as view:
            yield view


@click.command("fsck")
@click.option("--read-data", is_flag=True, help="Also read every chunk and verify its hash.")
@click.option("--remote", "remote", metavar="NAME", help=REMOTE_HELP)
def fsck_cmd(read_data: bool, remote: str | None) -> None:
    """Check that every ref reaches complete, intact records and data (exit 3 if not)."""
    from artrepo.cli.render import safe
    from artrepo.errors import IntegrityError
    from artrepo.maintenance.fsck import fsck

    with _view(remote) as view:
        report = fsck(view, read_data=read_data)
    for note in report.notes:
        click.echo(f"note: {safe(note)}")
    for problem in report.problems:
        click.echo(f"error: {safe(problem)}")
    read = f", {report.chunks_read} chunks read and verified" if read_data else ""
    where = f"remote {remote}: " if remote else ""
    summary = (f"{where}checked {report.versions} versions, {report.chunks} chunks in {report.packs} packs{read}"
               f"{'' if report.git_checked else ' (without git fsck)'}")
    if not report.clean:
        raise IntegrityError(f"{summary}: {len(report.problems)} problem(s) found")
    click.echo(f"{summary}: no problems")


@click.command("gc")
@click.argument("names", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--grace", default="1h", show_default=True, help="Never remove anything younger than this.")
@click.option("--keep-last", type=click.IntRange(min=1), help="Keep the newest N versions of each NAME.")
@click.option("--older-than", help="Drop versions of each NAME older than this (e.g. 30d).")
@click.option("--force", is_flag=True, help="Drop versions even when lineage or a cache entry needs them.")
@click.option("--remote", "remote", metavar="NAME", help=REMOTE_HELP)
def gc_cmd(names, dry_run, grace, keep_last, older_than, force, remote) -> None:
    """Remove data no ref needs; with --keep-last/--older-than, drop old versions of NAMEs first."""
    import time

    from artrepo.cli.render import safe
    from artrepo.errors import UserError
    from artrepo.maintenance import gc, retention
    from artrepo.maintenance.durations import parse_duration
    from artrepo.maintenance.view import LocalView

    grace_s = parse_duration(grace)
    older_s = None if older_than is None else parse_duration(older_than)
    if names and keep_last is None and older_s is None:
        raise UserError("naming artifacts needs --keep-last N or --older-than DURATION")
    if remote is not None:
        if names or keep_last is not None or older_s is not None or force:
            raise UserError("gc --remote only collects unreferenced data; --keep-last, --older-than, --force "
                            "and names apply to the local repository")
        with _view(remote) as view:
            _report_gc(gc.collect(view, grace=grace_s, dry_run=dry_run), dry_run, remote)
        return
    repo = _open()
    with gc.gc_lock(repo):
        plan = retention.RetentionPlan()
        if keep_last is not None or older_s is not None:
            plan = retention.plan(repo, list(names), keep_last=keep_last, older_than=older_s,
                                  now_ns=time.time_ns(), force=force)
            for label, why in sorted(plan.kept.items()):
                click.echo(safe(f"keep {label}: {why}"))
            for info in plan.drop:
                click.echo(safe(f"{'would drop' if dry_run else 'drop'} {info.name}:{info.version}"))
            if not dry_run:
                retention.drop_versions(repo, plan.drop)
        result = gc.collect(LocalView(repo), grace=grace_s, dry_run=dry_run,
                            ignore_refs=plan.refs() if dry_run else ())
    if not dry_run:  # refs are packed under their writers' own per-ref locks: saves may go on
        result.git_packed = gc.pack_git(repo, grace_s)
    _report_gc(result, dry_run)


def _report_gc(result, dry_run: bool, remote: str | None = None) -> None:
    """What gc did or would do (gc.GcResult), locally or on a remote."""
    from artrepo.cli.render import human_size

    verb = "would remove" if dry_run else "removed"
    if remote is None:
        where, others, index = "", f", {len(result.dropped_files)} stale temporary files", "index files"
    else:
        where = f"remote {remote}: "
        others, index = f" and {len(result.dropped_files)} unlisted index or git pack files", "remote index files"
    click.echo(f"{where}{verb} {len(result.dropped_packs)} packs ({human_size(result.freed_bytes)}){others}; "
               f"kept {result.kept_packs} packs in use, {result.kept_young} unused packs younger than the grace period")
    if result.index_rewritten:
        click.echo(f"{'would merge' if dry_run else 'merged'} {result.index_files_before} {index} into one")
    if result.regroup:
        click.echo(f"{'would regroup' if dry_run else 'regrouped'} the data still needed of {len(result.regroup)} "
                   f"small or partly unused packs{'' if dry_run else f' into {result.written_packs}'}")
    if result.git_packs_before > 1:
        click.echo(f"{'would merge' if dry_run else 'merged'} {result.git_packs_before} git packs into one")
    if result.retiring or result.kept_retired:
        click.echo(f"kept {len(result.retiring) + result.kept_retired} replaced packs and files for readers of the "
                   "previous ref table, until they are older than the grace period")
    if remote is None and result.git_packed:
        click.echo("packed git refs and objects")


@click.command("du")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--remote", "remote", metavar="NAME", help=REMOTE_HELP)
def du_cmd(as_json: bool, remote: str | None) -> None:
    """Logical size versus bytes stored, per artifact and in total."""
    from artrepo.cli import render
    from artrepo.maintenance.du import usage

    with _view(remote) as view:
        doc = usage(view)
    if as_json:
        render.emit_json(doc)
        return
    size = render.human_size
    for a in doc["artifacts"]:
        click.echo(f"{render.safe(a['name'])}: {a['versions']} versions, {size(a['logical_bytes'])} logical, "
                   f"{size(a['unique_bytes'])} unique, {size(a['shared_bytes'])} shared")
    click.echo(f"total: {size(doc['logical_bytes'])} logical, {size(doc['stored_bytes'])} stored "
               f"(dedup saved {size(doc['dedup_saved_bytes'])}, compression saved "
               f"{size(doc['compression_saved_bytes'])}, {size(doc['unreferenced_bytes'])} unreferenced: "
               f"'artrepo gc{' --remote ' + remote if remote else ''}' frees it)")
