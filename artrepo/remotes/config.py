"""Remote settings, kept in the repository's git config (never a secret).

    [artrepo-remote "origin"]
        url = s3://bucket/prefix
        endpoint-url = http://127.0.0.1:9000
        trusted = true

Credentials come the usual AWS ways (environment, profile, instance role)
and are never written here. A remote's local cache of the bucket's index
files, imported git packs and last-seen ref table lives in
`.artrepo/remote-cache/<name>/` and can be deleted at any time.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from artrepo import names
from artrepo.errors import NotFoundError, UserError
from artrepo.gitdb import layout

SECTION = "artrepo-remote"


@dataclass(frozen=True, slots=True)
class Remote:
    name: str
    url: str
    endpoint_url: str | None = None
    trusted: bool = False


def normalize_url(url: str) -> str:
    """Plain paths and file:// URLs become absolute paths; others are kept."""
    from artrepo.storage.backend import check_url

    if not url:
        raise UserError("the remote URL is empty")
    if url.startswith("file://"):
        url = url[len("file://"):]
    if "://" not in url:
        return str(Path(url).expanduser().resolve())
    check_url(url)
    return url


def remotes(repo) -> dict[str, Remote]:
    """Every configured remote by name."""
    return {name: Remote(name, f["url"], f.get("endpoint-url") or None, f.get("trusted", "").lower() == "true")
            for name, f in sorted(repo.config.sections(SECTION).items()) if "url" in f}


def get_remote(repo, name: str | None) -> Remote:
    """The named remote; without a name, `origin` or else the only one."""
    known = remotes(repo)
    if name is None:
        if "origin" in known:
            return known["origin"]
        if len(known) == 1:
            return next(iter(known.values()))
        if not known:
            raise UserError("no remote configured; add one with 'artrepo remote add NAME URL'")
        raise UserError(f"several remotes ({', '.join(known)}); name one")
    if name not in known:
        raise NotFoundError(f"no remote named {name!r}" + (f" (remotes: {', '.join(known)})" if known else ""))
    return known[name]


def add_remote(repo, name: str, url: str, endpoint_url: str | None = None, trusted: bool = False) -> Remote:
    names.validate_setting_name(name, "remote")
    url = normalize_url(url)
    if name in remotes(repo):
        raise UserError(f"remote {name!r} already exists; remove it first")
    if endpoint_url:
        repo.config.set(f"{SECTION}.{name}.endpoint-url", endpoint_url)
    if trusted:
        repo.config.set(f"{SECTION}.{name}.trusted", "true")
    repo.config.set(f"{SECTION}.{name}.url", url)  # last: a remote exists once it has a URL
    return Remote(name, url, endpoint_url, trusted)


def remove_remote(repo, name: str) -> None:
    get_remote(repo, name)
    for key in ("url", "endpoint-url", "trusted"):
        repo.config.delete(f"{SECTION}.{name}.{key}")
    shutil.rmtree(cache_dir(repo, name), ignore_errors=True)


def cache_dir(repo, name: str) -> Path:
    return layout.remote_cache(repo.git_dir, name)


def open_remote(remote: Remote):
    from artrepo.storage.backend import open_backend

    return open_backend(remote.url, remote.endpoint_url)
