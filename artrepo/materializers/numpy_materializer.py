"""ZenML's module path for the numpy materializer (`.npy`, never pickled)."""
from artrepo.materializers.numpy import NumpyMaterializer

__all__ = ["NumpyMaterializer"]
