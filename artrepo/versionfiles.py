"""A version's files outside the store: a zip, a folder, a read-only copy (`uri`), its visualizations shown.

    versionfiles.download_zip(repo, info, Path("model.zip"), overwrite=False)
"""
from __future__ import annotations

from pathlib import Path

from artrepo.errors import UserError
from artrepo.gitdb import layout


def _files(repo, info, manifest=None):
    from artrepo.payload import LoadFiles

    return LoadFiles(repo.chunks, manifest or repo.manifest(info.id), layout.paths_cache(repo.git_dir))


def _reading(info):
    """Integrity errors raised within name this version."""
    from artrepo.values import integrity_context

    return integrity_context(info)


def read_only_copy(repo, info) -> Path:
    """The version's files materialized once, read-only, in `.artrepo/cache/paths/<content hash>/`."""
    with _reading(info):
        return _files(repo, info).read_only_copy()


def download_zip(repo, info, path: Path, overwrite: bool = False) -> None:
    """The version's files (not its visualizations) as a `.zip` at `path`; refused before writing if
    `path` does not end in .zip, exists (unless `overwrite`) or its folder does not exist."""
    if path.suffix != ".zip":
        raise UserError(f"download_files needs a path ending in .zip, got {str(path)!r}")
    if path.exists() and not overwrite:
        raise UserError(f"File '{path}' already exists and `overwrite` is set to `False`.")
    if not path.parent.is_dir():
        raise UserError(f"cannot write {path}: no folder {path.parent}")
    with _reading(info):
        _files(repo, info).write_zip(path)


def export(repo, info, dest: Path) -> Path:
    """The version's files under `dest` (a new or empty folder), or a zip."""
    if dest.suffix == ".zip":
        download_zip(repo, info, dest)
        return dest
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"{dest} exists and is not an empty folder")
    dest.mkdir(parents=True, exist_ok=True)
    with _reading(info):
        _files(repo, info).materialize(dest)
    return dest


def visualize(repo, info, title: str | None = None) -> list[Path]:
    """Show the visualizations in Jupyter (under `title`), or print where their files are; their paths."""
    from artrepo.payload import check_relpath

    manifest = repo.manifest(info.id)
    shown = manifest.visualizations
    folder = layout.visualizations_cache(repo.git_dir) / info.id
    if not folder.exists():
        folder.mkdir(parents=True)
        _files(repo, info, manifest).materialize(folder, files=[f for _, _, f in shown])
    paths = [(folder / check_relpath(name), vtype) for name, vtype, _ in shown]
    if not _in_notebook():
        if title:
            print(title)
        for p, vtype in paths:
            print(f"{vtype}: {p}")
        return [p for p, _ in paths]
    from IPython.display import HTML, Image, Markdown, display  # pragma: no cover - notebooks

    if title:  # pragma: no cover
        display(Markdown(f"## {title}"))
    for p, vtype in paths:  # pragma: no cover
        show = {"html": lambda: HTML(p.read_text()), "markdown": lambda: Markdown(p.read_text()),
                "image": lambda: Image(filename=str(p))}.get(vtype, lambda: p.read_text())
        display(show())
    return [p for p, _ in paths]


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except Exception:
        return False
