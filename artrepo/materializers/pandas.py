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
        meta: dict[str, Any] = {"shape": list(data.shape)}
        if isinstance(data, pd.DataFrame):
            meta["columns"] = [str(c) for c in data.columns]
            meta["dtype"] = {str(c): str(t) for c, t in data.dtypes.items()}
        else:
            meta["dtype"] = str(data.dtype)
        return meta

    def save_visualizations(self, data):
        from artrepo.materializers.visuals import pandas_visualizations

        return pandas_visualizations(self, data)
