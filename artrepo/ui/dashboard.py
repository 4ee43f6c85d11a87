"""What every page handler gets: the open repository, its catalog, the templates and one lock.

    dash = Dashboard(Path(".")); dash.render("error.html", title="…", message="…")
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Response:
    body: bytes | None = None
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    stream: object = None  # callable(writable) for bodies written as they are made


class Query(dict):
    """A request's query: the last value of each key, and `getlist(key)` for all of them (`?id=a&id=b`)."""

    def __init__(self, lists: dict[str, list[str]]):
        super().__init__((k, v[-1]) for k, v in lists.items())
        self.lists = lists

    def getlist(self, key: str) -> list[str]:
        return list(self.lists.get(key, ()))


class Dashboard:
    """The repository a server shows; pages read it through `catalog` (refreshed before each page)."""

    def __init__(self, root: Path):
        from artrepo.repository import Repository
        from artrepo.ui.catalog import Catalog

        self.repo = Repository(root)
        self.catalog = Catalog(self.repo)
        # pygit2 objects are not safe to share between threads: one request at a time
        # touches the repository (pages are built in milliseconds).
        self.lock = threading.Lock()
        self.templates = _environment()
        with self.lock:
            self.catalog.refresh()

    def render(self, template: str, status: int = 200, **context) -> Response:
        html = self.templates.get_template(template).render(repo_root=str(self.repo.root), **context)
        return Response(html.encode(), status=status)

    def not_found(self, message: str) -> Response:
        return self.render("error.html", status=404, title="Not found", message=message)

    def close(self) -> None:
        self.catalog.close()
        self.repo.close()


def _environment():
    import jinja2

    from artrepo.ui import templating

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    templating.install(env)
    return env
