"""artrepo in two minutes: save, version, dedup, a cached pipeline, lineage, a shared remote.

Run with `make demo`. Everything happens in a throwaway folder: a local repository
and a local-folder remote (the default a team would swap for s3://bucket/prefix).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd

import artrepo
from artrepo import Client, load_artifact, pipeline, register_artifact, save_artifact, step
from typing_extensions import Annotated


@step
def load_data(rows: int = 1000) -> Annotated[pd.DataFrame, "training_data"]:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.random(rows), "y": rng.integers(0, 2, rows)})


@step
def train(data: pd.DataFrame, lr: float = 0.1) -> Annotated[dict, "model"]:
    return {"lr": lr, "mean_x": float(data["x"].mean()), "positives": int(data["y"].sum())}


@pipeline
def training(lr: float = 0.1):
    train(load_data(), lr=lr)


def data_chunks(version) -> set[bytes]:
    return {cid for f in version.manifest().files for cid, _ in f.chunks}


def cli(*args: str) -> None:
    print(f"$ artrepo {' '.join(args)}")
    subprocess.run([sys.executable, "-m", "artrepo", *args], check=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="artrepo-demo-") as project:
        os.chdir(project)
        cli("init")

        # A 64 MiB array, then a copy with one row changed: only the chunks around it are stored again.
        weights = np.random.default_rng(0).random((8192, 1024))
        v1 = save_artifact(weights, name="weights", tags=["demo"])
        weights[4096] = 0.0
        v2 = save_artifact(weights, name="weights")
        chunks = Client().active_repository.chunks
        print(f"saved weights:{v1.version} and weights:{v2.version} "
              f"({v1.size / 2**20:.0f} MiB each; the second stored "
              f"{len(data_chunks(v2) - data_chunks(v1))} new chunks)")
        assert np.array_equal(load_artifact("weights"), weights)
        assert np.array_equal(load_artifact("weights", version="2"), weights)

        frame = pd.DataFrame({"id": range(1000), "label": np.where(np.arange(1000) % 3, "cat", "dog")})
        save_artifact(frame, name="iris_dataset", version="raw_2023", metadata={"source": "demo"})
        save_artifact({"lr": 0.1, "layers": (64, 32)}, name="params")

        os.makedirs("checkpoints")
        for epoch in range(3):
            with open(f"checkpoints/epoch-{epoch}.ckpt", "wb") as f:
                f.write(os.urandom(1024))
        register_artifact("checkpoints", name="all_my_model_checkpoints")
        print("registered checkpoints load as", load_artifact("all_my_model_checkpoints"))

        first = training()
        again = training()  # unchanged code, parameters and data: both steps come from cache
        print(f"pipeline run {first.id[:12]}: {first.status}; re-run cached steps: "
              f"{sorted(name for name, s in again.steps.items() if s.cached)}")
        cli("run", f"{__file__}:training", "-p", "lr=0.5", "--explain")
        cli("lineage", "model")

        cli("list")
        cli("log", "weights")
        cli("tag", "weights:2", "candidate")
        cli("alias", "weights:2", "production")
        cli("show", "weights@production")
        cli("export", "iris_dataset:raw_2023", "iris.zip")
        subprocess.run(["git", "--git-dir", ".artrepo", "log", "--oneline", "refs/artrepo/heads/weights"], check=True)

        # A team shares a bucket; here a local folder plays the bucket.
        remote = os.path.join(project, "team-bucket")
        cli("remote", "add", "origin", remote)
        cli("push", "origin")
        cli("push", "origin")  # nothing new: one request, nothing sent
        cli("clone", remote, os.path.join(project, "colleague"))
        os.chdir(os.path.join(project, "colleague"))
        cli("log", "weights")
        cli("fsck", "--read-data")
        chunks.close()
        os.chdir("/")
    print(f"artrepo {artrepo.__version__}: demo finished")


if __name__ == "__main__":
    main()
