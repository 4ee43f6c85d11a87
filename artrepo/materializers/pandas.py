"""pandas DataFrame and Series as Parquet with content-defined pages.

pyarrow's `use_content_defined_chunking` cuts data pages at content-defined
row boundaries, so an appended or edited slice changes few pages and the
store's own chunking deduplicates the rest. Pages are left uncompressed:
the store compresses each chunk with zstd when it pays, which is faster
than a fixed Parquet codec and keeps page bytes stable across versions.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from artrepo.materializers.base import BaseMaterializer
from artrepo.records.artifact import ArtifactType

FILE = "data.parquet"
SERIES_COLUMN = "__series__"


def statistics(data) -> dict[str, Any]:
    """min, max, mean, std (ddof 1, as pandas) of the numeric columns, and the null count of each
    column that has nulls (scalars for a Series).

    Null counts are exact (one cheap pass); the rest is exact up to
    `visuals.MAX_VALUES` values and else comes from the visualizations'
    evenly spaced sample of rows (`statistics_sample` rows), and covers the
    first `visuals.MAX_COLUMNS` columns.
    """
    import numpy as np

    from artrepo.materializers.visuals import MAX_COLUMNS, _frame_sample

    frame = data.to_frame(name="series") if isinstance(data, pd.Series) else data
    columns = list(frame.columns[:MAX_COLUMNS])
    sample = _frame_sample(frame if len(frame.columns) <= MAX_COLUMNS else frame.iloc[:, :MAX_COLUMNS])
    found: dict[str, dict] = {"min": {}, "max": {}, "mean": {}, "std": {}}
    for position, dtype in enumerate(sample.dtypes):
        if dtype.kind not in "iuf":
            continue
        values = sample.iloc[:, position].to_numpy(dtype="float64", na_value=np.nan)
        values = values[np.isfinite(values)]
        if not values.size:
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            row = {"min": values.min(), "max": values.max(), "mean": values.mean(),
                   "std": values.std(ddof=1) if values.size > 1 else np.nan}
        for stat, value in row.items():
            if np.isfinite(value):
                found[stat][str(columns[position])] = float(value)
    if isinstance(data, pd.Series):
        out: dict[str, Any] = {"null_count": int(data.isna().sum())}
        out.update((stat, per_column["series"]) for stat, per_column in found.items() if "series" in per_column)
    else:
        out = {"null_count": {str(c): int(n) for c, n in frame.isna().sum().items() if n}}
        out.update((stat, per_column) for stat, per_column in found.items() if per_column)
    if len(sample) < len(frame):
        out["statistics_sample"] = len(sample)
    return out


class PandasMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES = (pd.DataFrame, pd.Series)
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.DATA
    STREAMS = True
    ID = "pandas/v1"
    PARQUET_COMPRESSION = "none"  # the store's zstd compresses; see docs/performance.md

    def save(self, data) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = data.to_frame(name=SERIES_COLUMN) if isinstance(data, pd.Series) else data
        table = pa.Table.from_pandas(frame, preserve_index=True)
        if isinstance(data, pd.Series):
            meta = dict(table.schema.metadata or {})
            meta[b"artrepo.series_name"] = repr(data.name).encode()
            table = table.replace_schema_metadata(meta)
        with self.open(FILE, "wb") as f:
            pq.write_table(table, f, compression=self.PARQUET_COMPRESSION, use_content_defined_chunking=True,
                           write_statistics=False)

    def load(self, data_type: type):
        import ast

        import pyarrow.parquet as pq

        with self.open(FILE, "rb") as f:
            table = pq.read_table(f)
        frame = table.to_pandas()
        raw_name = (table.schema.metadata or {}).get(b"artrepo.series_name")
        if raw_name is not None:
            series = frame[SERIES_COLUMN]
            series.name = ast.literal_eval(raw_name.decode())
            return series
        return frame

    def extract_metadata(self, data) -> dict[str, Any]:
        """Shape, columns, dtypes, null counts and min/max/mean/std (ZenML's keys; per column for a frame).

        `artrepo diff` compares them (schema, rows, statistics) without loading the data.
        """
        meta: dict[str, Any] = {"shape": list(data.shape)}
        if isinstance(data, pd.DataFrame):
            meta["columns"] = [str(c) for c in data.columns]
            meta["dtype"] = {str(c): str(t) for c, t in data.dtypes.items()}
        else:
            meta["dtype"] = str(data.dtype)
        meta.update(statistics(data))
        return meta

    def save_visualizations(self, data):
        from artrepo.materializers.visuals import pandas_visualizations

        return pandas_visualizations(self, data)
