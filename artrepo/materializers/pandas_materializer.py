"""ZenML's module path for the pandas materializer (Parquet)."""
from artrepo.materializers.pandas import PandasMaterializer

__all__ = ["PandasMaterializer"]
