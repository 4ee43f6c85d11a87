"""A version's files outside the store: a zip, a folder, a read-only copy (`uri`), its visualizations shown.

Every write is all or nothing: files are staged beside their destination
and published only when complete.

    versionfiles.download_zip(repo, info, Path("model.zip"), overwrite=False)
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from artrepo.errors import UserError
from artrepo.gitdb import layout
from artrepo.values import integrity_context  # integrity errors raised within name the version


def _files(repo, info, manifest=None):
    from artrepo.payload import LoadFiles

    return LoadFiles(repo.chunks, manifest or repo.manifest(info.id), layout.paths_cache(repo.git_dir))


def read_only_copy(repo, info) -> Path:
    """The version's files materialized once, read-only, in `.artrepo/cache/paths/<content hash>/`."""
    with integrity_context(info):
        return _files(repo, info).read_only_copy()


def download_zip(repo, info, path: Path, overwrite: bool = False) -> None:
    """The version's files (not its visualizations) as a new `.zip` at `path`, all or nothing.

    Refused before writing when `path` does not end in .zip, or exists and
    `overwrite` is not set (ZenML's message); with `overwrite`, a file there
    is replaced at once when the zip is complete.
    """
    if path.suffix != ".zip":
        raise UserError(f"download_files needs a path ending in .zip, got {str(path)!r}")
    if os.path.lexists(path) and not (overwrite and path.is_file() and not path.is_symlink()):
        raise UserError(f"File '{path}' already exists and `overwrite` is set to `False`." if not overwrite
                        else f"{path} exists and is not a file; nothing was written")
    with _staged(path, replace=overwrite) as tmp, integrity_context(info):
        _files(repo, info).write_zip(tmp)


def export(repo, info, dest: Path) -> Path:
    """The version's files under `dest` (a new or empty folder), or a zip; all or nothing."""
    if dest.suffix == ".zip":
        download_zip(repo, info, dest)
        return dest
    if os.path.lexists(dest) and (not dest.is_dir() or dest.is_symlink() or any(dest.iterdir())):
        raise UserError(f"{dest} exists and is not an empty folder")
    with _staged(dest) as tmp, integrity_context(info):
        tmp.mkdir()
        _files(repo, info).materialize(tmp)
    return dest


def visualize(repo, info, title: str | None = None) -> list[Path]:
    """Show the visualizations in Jupyter (under `title`), or print where their files are; their paths.

    Untrusted content (pulled from a remote not marked trusted) runs no
    code, as in the dashboard: HTML and SVG are shown in an `<iframe
    sandbox>` (scripts allowed only for trusted versions, never with
    same-origin), Markdown from an untrusted source as plain text.
    """
    from artrepo.safepaths import check_relpath

    manifest = repo.manifest(info.id)
    shown = manifest.visualizations
    folder = layout.visualizations_cache(repo.git_dir) / info.id
    if not folder.exists():
        try:
            with _staged(folder) as tmp:
                tmp.mkdir()
                _files(repo, info, manifest).materialize(tmp, files=[f for _, _, f in shown])
        except UserError:
            if not folder.is_dir():  # else another process materialized it first
                raise
    paths = [(folder / check_relpath(name), vtype) for name, vtype, _ in shown]
    if not _in_notebook():
        if title:
            print(title)
        for p, vtype in paths:
            print(f"{vtype}: {p}")
        return [p for p, _ in paths]
    from IPython.display import HTML, display

    if title:
        import html

        display(HTML(f"<h3>{html.escape(title)}</h3>"))
    trusted = repo.trusts(info.id)
    for p, vtype in paths:
        display(notebook_view(p, vtype, trusted))
    return [p for p, _ in paths]


def notebook_view(path: Path, vtype: str, trusted: bool):
    """The IPython display object for one visualization file (the dashboard's trust rule)."""
    import html

    from IPython.display import HTML, Image, Markdown

    data = path.read_bytes()
    if vtype == "image" and data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8")):
        return Image(data=data)
    text = data.decode("utf-8", "replace")
    if vtype in ("html", "image"):  # an image that is not a raster one is SVG: markup that may script
        sandbox = "allow-scripts" if trusted else ""
        return HTML(f'<iframe sandbox="{sandbox}" srcdoc="{html.escape(text, quote=True)}" '
                    'style="width: 100%; height: 480px; border: 0"></iframe>')
    if vtype == "markdown" and trusted:
        return Markdown(text)
    return HTML(f"<pre>{html.escape(text)}</pre>")


@contextlib.contextmanager
def _staged(final: Path, replace: bool = False):
    """A temporary path beside `final`, published there only if the block succeeds.

    A file is linked into place (never replacing one that appeared meanwhile;
    with `replace`, renamed over the file there), a folder renamed over
    `final` (absent or empty); on failure nothing stays.
    """
    import shutil

    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.partial-{os.urandom(4).hex()}")
    try:
        yield tmp
        if tmp.is_dir():
            try:
                os.rename(tmp, final)
            except OSError as exc:
                raise UserError(f"{final} appeared while exporting to it ({exc.strerror}); nothing was written") from None
        elif replace:
            os.replace(tmp, final)
        else:
            try:
                os.link(tmp, final)
            except FileExistsError:
                raise UserError(f"{final} appeared while exporting to it; nothing was written") from None
            except OSError:  # a file system without hard links: check, then rename
                if os.path.lexists(final):
                    raise UserError(f"{final} appeared while exporting to it; nothing was written") from None
                os.rename(tmp, final)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.unlink(tmp)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except Exception:
        return False
