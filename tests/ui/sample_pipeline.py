"""The repository the dashboard tests browse: two pipelines, visualizations, hostile metadata.

Run as a script in a fresh project folder (by `conftest.sample_repo`).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd

from artrepo import pipeline, save_artifact, step
from artrepo.materializers import visuals
from artrepo.materializers.builtins import ContainerMaterializer
from artrepo.materializers.numpy import NumpyMaterializer
from artrepo.materializers.pandas import PandasMaterializer
from artrepo.materializers.path import PathMaterializer
from artrepo.records.artifact import VisualizationType

HOSTILE_HTML = ("<p id=inside>inside the sandbox</p><script>document.body.dataset.ran='yes';"
                "try{parent.document.title='pwned';parent.__pwned=1}catch(e){}</script>")
SCRIPT_METADATA = "<script>window.__pwned=1</script>"


class VisualFrame(PandasMaterializer):
    SKIP_REGISTRATION = True

    def save_visualizations(self, data):
        return visuals.pandas_visualizations(self, data)


class VisualArray(NumpyMaterializer):
    SKIP_REGISTRATION = True

    def save_visualizations(self, data):
        return visuals.numpy_visualizations(self, data)


class VisualPath(PathMaterializer):
    SKIP_REGISTRATION = True

    def save_visualizations(self, data):
        return visuals.path_visualizations(self, data)


class Report(ContainerMaterializer):
    """A dict with one visualization of every other type (Markdown, CSV, JSON, hostile HTML)."""

    SKIP_REGISTRATION = True

    def save_visualizations(self, data):
        files = {
            "report.md": ("# Scores\n\n| metric | value |\n|---|---|\n| accuracy | 0.93 |\n\n"
                          "<script>window.__pwned=4</script> **raw html stays text**", VisualizationType.MARKDOWN),
            "scores.csv": ("metric,value\naccuracy,0.93\n<b>f1</b>,0.9\n", VisualizationType.CSV),
            "scores.json": (json.dumps({"accuracy": 0.93}), VisualizationType.JSON),
            "hostile.html": (HOSTILE_HTML, VisualizationType.HTML),
        }
        out = {}
        for name, (text, vtype) in files.items():
            with self.open(f"visualizations/{name}", "wb") as f:
                f.write(text.encode())
            out[f"visualizations/{name}"] = vtype
        return out


@step(output_materializers=VisualFrame)
def load_data() -> Annotated[pd.DataFrame, "iris"]:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"sepal": rng.normal(5, 1, 150), "petal": rng.normal(3, 0.5, 150),
                         "species": ["setosa", "versicolor", "virginica"] * 50})


@step(output_materializers=VisualArray)
def train(data: pd.DataFrame) -> Annotated[np.ndarray, "weights"]:
    return np.outer(data["sepal"].to_numpy()[:64], data["petal"].to_numpy()[:64])


@step(output_materializers=Report)
def evaluate(weights: np.ndarray, data: pd.DataFrame) -> Annotated[dict, "report"]:
    return {"accuracy": 0.93, "rows": len(data)}


@step
def fragile(data: pd.DataFrame) -> Annotated[int, "never"]:
    raise ValueError("bad <b>input</b>")


@pipeline
def training():
    data = load_data()
    weights = train(data)
    evaluate(weights, data)


@pipeline
def broken():
    fragile(load_data())


def build(folder: Path) -> None:
    training()
    training()  # every step served from cache
    try:
        broken()
    except Exception:
        pass
    save_artifact({"x": 1}, name="hostile", tags=["<img src=x onerror=window.__pwned=3>", "prod"],
                  metadata={"note": SCRIPT_METADATA, "<b>key</b>": "<img src=x onerror=window.__pwned=2>"})
    listing = folder / "listing"
    (listing / "sub").mkdir(parents=True)
    (listing / "a.txt").write_text("hello")
    (listing / "sub" / "b.bin").write_bytes(b"\0" * 2048)
    save_artifact(listing, name="files", materializer=VisualPath, tags=["prod"])


if __name__ == "__main__":
    build(Path(sys.argv[1]))
