"""artrepo in two minutes: save, version, dedup, load, tag, alias — from Python and the CLI.

Run with `make demo`. It works in a throwaway folder and leaves nothing behind.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd

import artrepo
from artrepo import Client, load_artifact, register_artifact, save_artifact


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
              f"{len(set(v2.manifest().chunk_ids()) - set(v1.manifest().chunk_ids()))} new chunks)")
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

        cli("list")
        cli("log", "weights")
        cli("tag", "weights:2", "candidate")
        cli("alias", "weights:2", "production")
        cli("show", "weights@production")
        cli("export", "iris_dataset:raw_2023", "iris.zip")
        subprocess.run(["git", "--git-dir", ".artrepo", "log", "--oneline", "refs/artrepo/heads/weights"], check=True)
        chunks.close()
        os.chdir("/")
    print(f"artrepo {artrepo.__version__}: demo finished")


if __name__ == "__main__":
    main()
