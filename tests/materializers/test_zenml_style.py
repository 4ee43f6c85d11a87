"""Issue 12 item 2: custom materializers written as ZenML's docs write them, only the import changed.

`self.uri`, `self.artifact_store` (paths under `self.uri`), `fileio`, ZenML's
module paths; the files left under `self.uri` are the version's files,
chunked and deduplicated like any other.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from artrepo import Client, load_artifact, save_artifact
from artrepo_testing import git_fsck

# The "complete materializer" of ZenML's Materializers page, plus what its other sections use
# (visualizations, metadata, fileio, the artifact-store calls), with `zenml` replaced by `artrepo`.
SCRIPT = '''
import os
import json
from typing import Type, Any, Dict
from artrepo import step, pipeline, save_artifact
from artrepo.materializers.base_materializer import BaseMaterializer
from artrepo.enums import ArtifactType, VisualizationType
from artrepo.metadata.metadata_types import MetadataType
from artrepo.io import fileio

class MyObj:
    def __init__(self, name: str, blob: bytes = b""):
        self.name = name
        self.blob = blob

    def to_dict(self):
        return {"name": self.name}

class MyMaterializer(BaseMaterializer):
    """Materializer for MyObj objects."""

    ASSOCIATED_TYPES = (MyObj,)
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.DATA

    def load(self, data_type: Type[Any]) -> MyObj:
        filepath = os.path.join(self.uri, "data.json")
        with self.artifact_store.open(filepath, "r") as f:
            data = json.load(f)
        with fileio.open(os.path.join(self.uri, "blobs", "blob.bin"), "rb") as f:
            blob = f.read()
        return data_type(name=data["name"], blob=blob)

    def save(self, data: MyObj) -> None:
        filepath = os.path.join(self.uri, "data.json")
        with self.artifact_store.open(filepath, "w") as f:
            json.dump(data.to_dict(), f)
        self.artifact_store.makedirs(os.path.join(self.uri, "blobs"))
        with self.get_temporary_directory() as tmp:
            with open(os.path.join(tmp, "blob.bin"), "wb") as f:
                f.write(data.blob)
            fileio.copy(os.path.join(tmp, "blob.bin"), os.path.join(self.uri, "blobs", "blob.bin"))

    def save_visualizations(self, data: MyObj) -> Dict[str, VisualizationType]:
        vis_path = os.path.join(self.uri, "visualization.html")
        with self.artifact_store.open(vis_path, "w") as f:
            f.write(f"<p>{data.name}</p>")
        return {vis_path: VisualizationType.HTML}

    def extract_metadata(self, data: MyObj) -> Dict[str, MetadataType]:
        return {"name": data.name, "blob_bytes": len(data.blob)}

@step(output_materializers=MyMaterializer)
def create_my_obj(seed: int) -> MyObj:
    import random
    return MyObj(name="my_object", blob=random.Random(seed).randbytes(2_000_000))

@step
def use_my_obj(my_obj: MyObj) -> int:
    print(f"Object name: {my_obj.name}")
    return len(my_obj.blob)

@pipeline
def my_pipeline(seed: int = 1):
    obj = create_my_obj(seed)
    use_my_obj(obj)

if __name__ == "__main__":
    my_pipeline()
'''


def run_script(project, name="run.py", source=SCRIPT, *args):
    (project / name).write_text(source)
    proc = subprocess.run([sys.executable, name, *args], cwd=project, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def produced(name="create_my_obj"):
    run = Client().list_pipeline_runs()[0]
    return run, run.steps[name].outputs["output"]


def test_the_docs_materializer_saves_loads_and_reaches_the_next_step(project):
    proc = run_script(project)
    assert "Object name: my_object" in proc.stdout
    run, av = produced()
    assert run.steps["use_my_obj"].outputs["output"].load() == 2_000_000
    assert sorted(f.path for f in av.manifest().files) == ["blobs/blob.bin", "data.json"]
    assert av.visualizations == [("visualization.html", "html")]
    assert av.run_metadata["name"] == "my_object" and av.run_metadata["blob_bytes"] == 2_000_000
    assert av.run_metadata["storage_size"] == av.size > 2_000_000
    assert av.type.name == "DATA" and av.materializer == "py:run.MyMaterializer" and av.data_type == "run.MyObj"
    git_fsck(project)


def test_files_a_materializer_writes_are_chunked_and_deduplicated(project):
    run_script(project, "run_dedup.py")  # a name no other test imports into this process
    _, first = produced()
    chunks = {cid for f in first.manifest().files for cid, _ in f.chunks}
    assert len(chunks) > 2  # 2 MB of random bytes: several content-defined chunks
    obj = load_artifact(first.id)  # the run script is imported from the source root (issue 12 item 3)
    obj.name = "renamed"  # same blob, new json: the blob's chunks are reused, not stored again
    again = save_artifact(obj, "renamed")
    new = {cid for f in again.manifest().files for cid, _ in f.chunks} - chunks
    assert len(new) == 1  # data.json only
    assert load_artifact("renamed").blob == obj.blob


def test_artifact_store_calls_stay_under_the_uri(project):
    source = SCRIPT.replace('''        filepath = os.path.join(self.uri, "data.json")
        with self.artifact_store.open(filepath, "w") as f:''', '''        filepath = os.path.join(self.uri, "data.json")
        store = self.artifact_store
        assert store.path == self.uri and not store.exists(filepath)
        with store.open(filepath, "w") as f:
            f.write("{}")
        assert store.exists(filepath) and not store.isdir(filepath) and store.size(filepath) == 2
        assert store.listdir(self.uri) == ["data.json"] and store.glob(os.path.join(self.uri, "*.json"))
        assert store.stat(filepath).st_size == 2
        store.copyfile(filepath, filepath + ".bak")
        store.rename(filepath + ".bak", filepath + ".old")
        store.remove(filepath + ".old")
        store.mkdir(os.path.join(self.uri, "gone"))
        store.rmtree(os.path.join(self.uri, "gone"))
        assert [files for _, _, files in store.walk(self.uri)] == [["data.json"]]
        for outside in ("/tmp/elsewhere.json", os.path.join(self.uri, "..", "escape.json"), "relative.json"):
            try:
                store.open(outside, "w")
            except FileNotFoundError as exc:
                assert "is outside of artifact store bounds" in str(exc)
            else:
                raise AssertionError(outside)
        with store.open(filepath, "w") as f:''')
    run_script(project, source=source)
    _, av = produced()
    assert sorted(f.path for f in av.manifest().files) == ["blobs/blob.bin", "data.json"]


def test_zenml_module_paths_name_artrepo_classes():
    from artrepo.enums import ArtifactType, VisualizationType
    from artrepo.materializers import BaseMaterializer
    from artrepo.materializers.base_materializer import BaseMaterializer as Base2
    from artrepo.materializers.built_in_materializer import (BuiltInContainerMaterializer,
                                                             BuiltInMaterializer, BytesMaterializer)
    from artrepo.materializers.cloudpickle_materializer import CloudpickleMaterializer
    from artrepo.materializers.materializer_registry import materializer_registry
    from artrepo.materializers.numpy_materializer import NumpyMaterializer
    from artrepo.materializers.pandas_materializer import PandasMaterializer
    from artrepo.materializers.path_materializer import PathMaterializer
    import pandas as pd
    from pathlib import Path

    assert Base2 is BaseMaterializer and ArtifactType.MODEL.value == "ModelArtifact"
    assert VisualizationType.HTML.value == "html"
    assert materializer_registry[np.ndarray] is NumpyMaterializer
    assert materializer_registry[pd.DataFrame] is PandasMaterializer
    assert materializer_registry[dict] is BuiltInContainerMaterializer
    assert materializer_registry[int] is BuiltInMaterializer is BytesMaterializer
    assert materializer_registry[Path] is PathMaterializer
    assert materializer_registry[type("Anything", (), {})] is CloudpickleMaterializer


def test_registering_a_materializer_globally_overrides_the_built_in(project):
    import pandas as pd

    from artrepo.materializers.base_materializer import BaseMaterializer
    from artrepo.materializers.materializer_registry import materializer_registry

    class CsvPandasMaterializer(BaseMaterializer):
        SKIP_REGISTRATION = True

        def save(self, data):
            data.to_csv(os.path.join(self.uri, "frame.csv"), index=False)

        def load(self, data_type):
            return pd.read_csv(os.path.join(self.uri, "frame.csv"))

    materializer_registry.register_and_overwrite_type(key=pd.DataFrame, type_=CsvPandasMaterializer)
    try:
        av = save_artifact(pd.DataFrame({"a": [1, 2]}), "frame")
        assert [f.path for f in av.manifest().files] == ["frame.csv"]
        assert load_artifact("frame")["a"].tolist() == [1, 2]
    finally:
        from artrepo.materializers import registry

        registry.user_types().pop(pd.DataFrame)


def test_a_subclass_that_only_adds_metadata_loads_without_its_code(project):
    from artrepo.materializers.numpy_materializer import NumpyMaterializer

    class Described(NumpyMaterializer):
        SKIP_REGISTRATION = True

        def extract_metadata(self, data):
            return {**super().extract_metadata(data), "total": float(data.sum())}

    av = save_artifact(np.arange(4.0), "described", materializer=Described)
    assert av.materializer == "numpy/v1" and av.run_metadata["total"] == 6.0
    out = subprocess.run([sys.executable, "-c", "from artrepo import load_artifact; print(load_artifact('described'))"],
                         cwd=project, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[0. 1. 2. 3.]", out.stderr


def test_fileio_refuses_urls_and_keeps_zenml_semantics(tmp_path):
    from artrepo.errors import UserError
    from artrepo.io import fileio

    (tmp_path / "a").write_text("x")
    assert fileio.listdir(str(tmp_path / "missing")) == []
    assert fileio.listdir(str(tmp_path), only_file_names=False) == [str(tmp_path / "a")]
    assert fileio.size(str(tmp_path)) == 1 and fileio.size(str(tmp_path / "missing")) == 0
    with pytest.raises(FileExistsError):
        fileio.copy(str(tmp_path / "a"), str(tmp_path / "a"))
    with pytest.raises(FileNotFoundError):
        fileio.remove(str(tmp_path / "missing"))
    with pytest.raises(TypeError):
        fileio.rmtree(str(tmp_path / "a"))
    with pytest.raises(UserError, match="local paths only"):
        fileio.open("s3://bucket/key", "w")
    assert not (tmp_path / "s3:").exists() and not os.path.exists("s3:")
