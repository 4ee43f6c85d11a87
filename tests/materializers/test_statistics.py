"""Statistics the numpy and pandas materializers store at save time, for `artrepo diff`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from artrepo import save_artifact
from artrepo.materializers import numpy as numpy_materializer
from artrepo.materializers import pandas as pandas_materializer
from artrepo.materializers import visuals


def test_an_array_records_exact_min_max_mean_std_of_its_finite_values(project):
    values = np.array([[1.0, np.nan], [np.inf, 4.0]])
    meta = save_artifact(values, "a").run_metadata
    assert (meta["min"], meta["max"], meta["mean"], meta["std"]) == (1.0, 4.0, 2.5, 1.5)
    assert "statistics_sample" not in meta
    ints = save_artifact(np.arange(10, dtype=np.uint8), "b").run_metadata
    assert (ints["min"], ints["max"]) == (0, 9) and isinstance(ints["max"], int)
    assert {"min", "max"}.isdisjoint(save_artifact(np.array(["x", "y"]), "c").run_metadata)
    assert {"min", "max"}.isdisjoint(save_artifact(np.array([np.nan]), "d").run_metadata)
    assert {"min", "max"}.isdisjoint(save_artifact(np.zeros(0), "e").run_metadata)


def test_a_large_array_takes_its_statistics_from_the_visualizations_sample(monkeypatch):
    monkeypatch.setattr(visuals, "MAX_VALUES", 1000)
    stats = numpy_materializer.statistics(np.arange(1_000_000, dtype=np.float64))
    assert stats["statistics_sample"] == 1000
    assert stats["min"] == 0 and stats["max"] == 999_999  # the evenly spaced sample keeps both ends
    assert stats["mean"] == pytest.approx(499_999.5)


def test_a_frame_records_per_column_statistics_and_exact_null_counts(project):
    df = pd.DataFrame({"n": [1, 2, 3, None], "s": ["a", None, None, "d"], "when": pd.date_range("2024", periods=4),
                       "flag": [True, False, True, True]})
    meta = save_artifact(df, "frame").run_metadata
    assert meta["null_count"] == {"n": 1, "s": 2}
    assert meta["min"] == {"n": 1.0} and meta["max"] == {"n": 3.0} and meta["mean"] == {"n": 2.0}
    assert meta["std"] == {"n": pytest.approx(1.0)}  # ddof 1, as pandas
    assert meta["dtype"]["when"].startswith("datetime64") and meta["shape"] == [4, 4]
    series = save_artifact(pd.Series([1.0, 3.0, None], name="x"), "series").run_metadata
    assert (series["min"], series["max"], series["null_count"]) == (1.0, 3.0, 1)


def test_a_large_frame_samples_rows_but_counts_nulls_exactly(monkeypatch):
    monkeypatch.setattr(visuals, "MAX_VALUES", 100)
    frame = pd.DataFrame({"a": np.arange(10_000, dtype=float), "b": np.where(np.arange(10_000) % 2, np.nan, 1.0)})
    stats = pandas_materializer.statistics(frame)
    assert stats["statistics_sample"] == 50 and stats["null_count"] == {"b": 5000}
    assert stats["min"]["a"] == 0 and stats["max"]["a"] == 9999


def test_extract_metadata_false_records_no_statistics(project):
    meta = save_artifact(np.arange(5), "x", extract_metadata=False).run_metadata
    assert meta == {"storage_size": meta["storage_size"]}
