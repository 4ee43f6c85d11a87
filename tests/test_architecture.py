"""Imports point down the layers of STYLE.md; third-party packages stay in their layer."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "artrepo"

# A module may import artrepo modules of its own layer group or below, never above.
LAYERS = [
    {"artrepo.errors", "artrepo.plain", "artrepo.names", "artrepo.config", "artrepo.atomic", "artrepo.io",
     "artrepo.metadata"},
    {"artrepo.storage", "artrepo.gitdb", "artrepo.records", "artrepo.enums", "artrepo.tags"},
    {"artrepo.repository"},
    {"artrepo.materializers", "artrepo.remotes", "artrepo.maintenance", "artrepo.payload"},
    {"artrepo.models", "artrepo.values", "artrepo.lineage", "artrepo.diff", "artrepo.compare"},
    {"artrepo.runtime"},
    {"artrepo.client"},
    {"artrepo.cli", "artrepo.ui", "artrepo.__main__", "artrepo"},
]
SIBLINGS_APART = [{"artrepo.storage", "artrepo.gitdb"}, {"artrepo.materializers", "artrepo.remotes"},
                  {"artrepo.materializers", "artrepo.maintenance"}]
THIRD_PARTY_HOME = {"pygit2": {"artrepo.gitdb"}, "fsspec": {"artrepo.remotes"}, "s3fs": {"artrepo.remotes"},
                    "cloudpickle": {"artrepo.materializers.pickle"}}


def group_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def layer(module: str) -> int:
    g = group_of(module)
    for i, names in enumerate(LAYERS):
        if g in names:
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, ast.parse(path.read_text(), str(path))


def imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("name,tree", list(modules()), ids=lambda x: x if isinstance(x, str) else "")
def test_imports_point_down(name, tree):
    for target in imports(tree):
        if target.startswith("artrepo.") and group_of(target) != group_of(name):
            assert layer(target) <= layer(name), f"{name} imports {target}, a higher layer"
            pair = {group_of(target), group_of(name)}
            assert pair not in SIBLINGS_APART, f"{name} imports its sibling {target}"
        top = target.split(".")[0]
        if top in THIRD_PARTY_HOME:
            assert any(name.startswith(home) for home in THIRD_PARTY_HOME[top]), f"{name} imports {top}"


def test_no_module_is_over_600_lines():
    long = [str(p) for p in PKG.rglob("*.py") if len(p.read_text().splitlines()) > 600]
    assert not long
