from __future__ import annotations

import warnings

import click


@click.command("list")
@click.option("--tag", help="Only artifacts with a version carrying this tag.")
@click.option("--type", "artifact_type", help="Only artifacts of this type (DATA, MODEL, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(tag: str | None, artifact_type: str | None, as_json: bool) -> None:
    """List artifacts with their latest version."""
    from artrepo.cli import render
    from artrepo.client import Client

    client = Client()
    repo = client.active_repository  # a property that finds the repository: once, not per name
    rows = []
    for art in client.list_artifacts():
        if tag is None and artifact_type is None:
            row = _unfiltered_row(repo, art.name)
            if row is not None:
                rows.append(row)
                continue
        versions = list(art.versions.values())
        if not versions:  # every version unreadable (each was warned about): marked, never fatal
            if tag is None and artifact_type is None:
                rows.append({"name": art.name, "latest": None, "versions": 0, "type": None, "created": None,
                             "size": None, "unreadable": True})
            continue
        if tag is not None:
            versions = [v for v in versions if tag in v.tags]
        if artifact_type is not None:
            from artrepo.values import artifact_type_of

            wanted = artifact_type_of(artifact_type)
            versions = [v for v in versions if v.type is wanted]
        if not versions:
            continue
        latest = art.latest
        rows.append({"name": art.name, "latest": latest.version, "versions": len(art.versions),
                     "type": latest.type.name, "created": render.iso(latest.record.created_ns),
                     "size": latest.size})
    if as_json:
        render.emit_json(rows)
        return
    if not rows:
        click.echo("no artifacts")
        return
    width = max(len(render.safe(r["name"])) for r in rows)
    for r in rows:
        if r.get("unreadable"):
            click.echo(f"{render.safe(r['name']):<{width}}  unreadable (run 'artrepo fsck')")
            continue
        click.echo(f"{render.safe(r['name']):<{width}}  latest {render.safe(r['latest']):<8} {r['versions']:>5} "
                   f"versions  {render.safe(r['type']):<13} {render.human_size(r['size'])}")


def _unfiltered_row(repo, name: str) -> dict | None:
    """A name's row from its refs and latest record alone (no record of older versions read: `list` stays
    quick at 100,000 versions of a name); None when a record does not read, for the careful path."""
    from artrepo.cli import render
    from artrepo.errors import IntegrityError
    from artrepo.models import ArtifactVersion

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a skipped unreadable version: let the careful path count
            latest = repo.latest(name)
    except (IntegrityError, UserWarning):
        return None
    version = ArtifactVersion(repo, latest)
    return {"name": name, "latest": version.version, "versions": len(repo.version_refs(name)),
            "type": version.type.name, "created": render.iso(version.record.created_ns), "size": version.size}
