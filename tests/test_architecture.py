"""The shape of the package (docs/architecture.md): layers, siblings, no cycles, small modules.

Imports point down the layers; siblings never import each other; no two
modules import each other, directly or through others, counting imports
inside functions; only gitdb knows git; third-party packages stay in their
layer; modules stay under 400 lines.
"""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "artrepo"

# A module may import artrepo modules of its own layer group or below, never above.
LAYERS = [
    {"artrepo.errors", "artrepo.plain", "artrepo.names", "artrepo.atomic", "artrepo.storedfile", "artrepo.sizes", "artrepo.heap", "artrepo.safepaths", "artrepo.io",
     "artrepo.metadata", "artrepo.exceptions"},
    {"artrepo.storage", "artrepo.gitdb", "artrepo.records", "artrepo.enums", "artrepo.tags"},
    {"artrepo.repository"},
    {"artrepo.materializers", "artrepo.remotes", "artrepo.maintenance", "artrepo.payload"},
    {"artrepo.models", "artrepo.values", "artrepo.lineage", "artrepo.stacks", "artrepo.versionfiles",
     "artrepo.listing", "artrepo.queries", "artrepo.workdir", "artrepo.provenance", "artrepo.diff", "artrepo.compare"},
    {"artrepo.runtime"},
    {"artrepo.client", "artrepo.annotating"},
    {"artrepo.cli", "artrepo.ui", "artrepo.__main__", "artrepo"},
]
# Siblings in the layer picture: groups on one layer that never import each other.
SIBLINGS_APART = [{"artrepo.storage", "artrepo.gitdb"}, {"artrepo.storage", "artrepo.records"},
                  {"artrepo.gitdb", "artrepo.records"}, {"artrepo.materializers", "artrepo.remotes"},
                  {"artrepo.materializers", "artrepo.maintenance"}, {"artrepo.remotes", "artrepo.maintenance"}]
THIRD_PARTY_HOME = {"pygit2": {"artrepo.gitdb"}, "fsspec": {"artrepo.storage.backends"},
                    "s3fs": {"artrepo.storage.backends.s3"}, "cloudpickle": {"artrepo.materializers", "artrepo.runtime"},
                    "dask": {"artrepo.runtime.dask_scheduler"}, "distributed": {"artrepo.runtime.dask_scheduler"}}
MAX_LINES = 400


def group_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def layer(module: str) -> int:
    g = group_of(module)
    for i, names in enumerate(LAYERS):
        if g in names:
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


MODULES = {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PKG.rglob("*.py"))}


def imports(name: str, tree) -> list[str]:
    """Every module `name` imports, at the top or inside a function (relative imports resolved)."""
    out = []
    package = name if name in MODULES and (PKG / Path(*name.split(".")[1:]) / "__init__.py").exists() else \
        name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            out.append(base)
            # `from artrepo.x import y` imports module artrepo.x.y when y is a module
            out += [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
    return out


def artrepo_edges() -> dict[str, set[str]]:
    edges = {}
    for name, tree in MODULES.items():
        targets = {t for t in imports(name, tree) if t in MODULES and t != name}
        # importing a package runs its __init__ only: that is the edge, not every module below it
        edges[name] = targets
    return edges


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down_and_siblings_stay_apart(name):
    for target in imports(name, MODULES[name]):
        if target.startswith("artrepo.") and group_of(target) != group_of(name):
            assert layer(target) <= layer(name), f"{name} imports {target}, a higher layer"
            pair = {group_of(target), group_of(name)}
            assert pair not in SIBLINGS_APART, f"{name} imports its sibling {target}"
        top = target.split(".")[0]
        if top in THIRD_PARTY_HOME:
            assert any(name.startswith(home) for home in THIRD_PARTY_HOME[top]), f"{name} imports {top}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("artrepo.gitdb")))
def test_only_gitdb_touches_git(name):
    """No pygit2 object and no `.git` attribute (gitdb's pygit2 handle) above gitdb."""
    for node in ast.walk(MODULES[name]):
        assert not (isinstance(node, ast.Attribute) and node.attr == "git"), f"{name} touches `.git`"


def test_no_import_cycles():
    edges = artrepo_edges()
    seen, on_path, cycles = set(), [], []

    def visit(node):
        if node in on_path:
            cycles.append(on_path[on_path.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        on_path.append(node)
        for target in sorted(edges.get(node, ())):
            # a package's __init__ importing its own submodules is how a package exposes them
            if not target.startswith(node + "."):
                visit(target)
        on_path.pop()

    for name in sorted(edges):
        visit(name)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:10])


def test_every_module_is_under_400_lines():
    long = {module_name(p): n for p in PKG.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long
