"""Built-in materializers: values come back equal, with the same types."""
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artrepo import ArtifactType, load_artifact, save_artifact
from artrepo.errors import MaterializerError
from artrepo.materializers import BaseMaterializer

VALUES = [0, -1, 2**70, True, False, None, 1.5, float("inf"), "text", "", b"\x00bytes", (1, "a"), [1, [2, (3,)]],
          {"a": 1, 2: "b", (1, 2): None}, [], (), {}]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_basic_values_round_trip_with_their_types(project, value):
    save_artifact(value, "v")
    back = load_artifact("v")
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("array", [
    np.arange(10), np.array(3.5), np.zeros((0, 4)), np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    np.arange(24).reshape(2, 3, 4)[:, ::2], np.array(["2020-01-01"], dtype="datetime64[D]"),
    np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]), np.array([1 + 2j]), np.array([True, False]),
    np.array(["abc", "de"]),
], ids=lambda a: f"{a.dtype}-{a.shape}")
def test_numpy_arrays_round_trip_exactly(project, array):
    av = save_artifact(array, "arr")
    back = load_artifact("arr")
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array)
    if array.flags.f_contiguous and not array.flags.c_contiguous:
        assert back.flags.f_contiguous
    assert av.run_metadata["shape"] == list(array.shape)
    assert av.run_metadata["dtype"] == str(array.dtype)
    assert av.materializer == "numpy/v1"


def test_numpy_is_stored_as_npy_never_pickled(project):
    av = save_artifact(np.arange(5), "npy")
    assert [f.path for f in av.manifest().files] == ["data.npy"]
    with pytest.raises(MaterializerError, match="object"):
        save_artifact(np.array([object()], dtype=object), "obj")


def test_dataframes_and_series_round_trip(project):
    df = pd.DataFrame({"i": [1, 2, 3], "f": [0.5, None, 2.0], "s": ["a", "b", None],
                       "c": pd.Categorical(["x", "y", "x"]), "t": pd.date_range("2024-01-01", periods=3)},
                      index=pd.Index([10, 20, 30], name="idx"))
    av = save_artifact(df, "df")
    pd.testing.assert_frame_equal(load_artifact("df"), df)
    assert av.run_metadata["shape"] == [3, 5] and av.run_metadata["columns"] == ["i", "f", "s", "c", "t"]
    series = pd.Series([1.0, 2.0], name="price")
    save_artifact(series, "series")
    pd.testing.assert_series_equal(load_artifact("series"), series)


def test_containers_of_arrays_store_each_element_natively(project):
    value = (np.zeros(3), {"k": np.ones(2), "n": 1})
    av = save_artifact(value, "pair")
    back = load_artifact("pair")
    assert isinstance(back, tuple) and np.array_equal(back[0], value[0])
    assert np.array_equal(back[1]["k"], value[1]["k"]) and back[1]["n"] == 1
    assert not any(f.path.endswith(".pkl") for f in av.manifest().files)


class Opaque:
    def __init__(self, x):
        self.x = x


def test_unknown_types_fall_back_to_cloudpickle_with_a_warning(project):
    with pytest.warns(UserWarning, match="cloudpickle"):
        av = save_artifact(Opaque(3), "opaque")
    assert load_artifact("opaque").x == 3
    assert av.record.environment["python"].count(".") == 2 and "cloudpickle" in av.record.environment


def test_unpicklable_values_are_a_clear_error(project):
    import threading

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(MaterializerError, match="cannot be pickled"):
            save_artifact(threading.Lock(), "lock")


def test_pickle_from_another_python_version_is_refused(project):
    from artrepo.materializers.pickle import check_environment

    with pytest.raises(MaterializerError, match="Python 2.7"):
        check_environment({"python": "2.7.18", "cloudpickle": "1.0"})


class Celsius:
    def __init__(self, degrees):
        self.degrees = degrees


class CelsiusMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES = (Celsius,)
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.STATISTICS

    def save(self, data):
        with open(Path(self.uri) / "c.txt", "w") as f:  # plain files under uri, ZenML style
            f.write(str(data.degrees))

    def load(self, data_type):
        return data_type(float((Path(self.uri) / "c.txt").read_text()))

    def extract_metadata(self, data):
        return {"unit": "C"}


def test_user_materializers_are_found_by_type_and_may_write_plain_files(project):
    av = save_artifact(Celsius(21.5), "temp")
    assert av.type is ArtifactType.STATISTICS and av.run_metadata["unit"] == "C"
    assert load_artifact("temp").degrees == 21.5


def test_a_container_of_user_values_keeps_the_files_their_materializer_writes(project):
    # a built-in's folder is made only when something writes under it: here each element's materializer
    save_artifact([Celsius(1.5), 2, {"t": Celsius(-3.0)}], "readings")
    back = load_artifact("readings")
    assert back[0].degrees == 1.5 and back[1] == 2 and back[2]["t"].degrees == -3.0
    assert list((project / ".artrepo" / "tmp").iterdir()) == []  # and removed once stored


class LoudIntMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES = (int,)
    SKIP_REGISTRATION = True  # used only when passed explicitly

    def save(self, data):
        with self.open("n.txt", "wb") as f:
            f.write(str(data * 10).encode())

    def load(self, data_type):
        with self.open("n.txt") as f:
            return int(f.read()) // 10


def test_user_materializer_overrides_a_builtin_only_when_asked(project):
    av = save_artifact(4, "n", materializer=LoudIntMaterializer)
    assert av.materializer.endswith("LoudIntMaterializer") and load_artifact("n") == 4
