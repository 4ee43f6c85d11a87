"""numpy arrays as `.npy` (never pickled): any dtype and shape, C or Fortran order.

Saving streams the array's own memory into the store (no copy for
contiguous arrays); loading reads chunks straight into one preallocated
array, so either needs about N bytes of memory for an N-byte array.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from artrepo.errors import MaterializerError
from artrepo.materializers.base import BaseMaterializer
from artrepo.records.artifact import ArtifactType

FILE = "data.npy"


def _raw_bytes(arr: np.ndarray) -> np.ndarray:
    """A uint8 view of the array's memory in its storage order (copy only if strided)."""
    if arr.flags.c_contiguous:
        flat = arr.reshape(-1)
    elif arr.flags.f_contiguous:
        flat = arr.T.reshape(-1)
    else:
        flat = np.ascontiguousarray(arr).reshape(-1)
    return flat.view(np.uint8) if flat.dtype.itemsize else flat.view(np.uint8)


def statistics(array) -> dict[str, Any]:
    """min, max, mean, std (ddof 0) of the finite values of a numeric array.

    Exact up to `visuals.MAX_VALUES` values; beyond, from the same evenly
    spaced sample as the visualizations (`statistics_sample` says how many
    values), so a 1 GiB save pays milliseconds, not another pass over it.
    """
    from artrepo.materializers.visuals import MAX_VALUES, _array_sample

    if array.dtype.kind not in "iuf" or array.size == 0:
        return {}
    sample = _array_sample(array)
    if sample.dtype.kind == "f":
        sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return {}
    with np.errstate(over="ignore", invalid="ignore"):
        found = {"min": sample.min().item(), "max": sample.max().item(),
                 "mean": float(np.mean(sample, dtype=np.float64)), "std": float(np.std(sample, dtype=np.float64))}
    out = {k: v for k, v in found.items() if np.isfinite(v)}
    if array.size > MAX_VALUES:
        out["statistics_sample"] = MAX_VALUES
    return out


class NumpyMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES = (np.ndarray,)
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.DATA
    STREAMS = True
    ID = "numpy/v1"

    def save(self, data: np.ndarray) -> None:
        if data.dtype.hasobject:
            raise MaterializerError(
                "numpy arrays of dtype object cannot be stored without pickling; "
                "convert them, or pass materializer=CloudpickleMaterializer"
            )
        header = np.lib.format.header_data_from_array_1_0(data)
        if not data.flags.c_contiguous and not data.flags.f_contiguous:
            header["fortran_order"] = False
        with self.open(FILE, "wb") as f:
            np.lib.format.write_array_header_2_0(f, header)
            f.write(memoryview(_raw_bytes(data)))

    def load(self, data_type: type) -> np.ndarray:
        with self.open(FILE, "rb") as f:
            major, _minor = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if major == 1
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
            if dtype.hasobject:
                raise MaterializerError("refusing to load a .npy of dtype object (it would unpickle)")
            out = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
            target = _raw_bytes(out)
            if f.readinto(memoryview(target)) != target.nbytes:
                raise MaterializerError(f"{FILE} is shorter than its header says")
            return out

    def extract_metadata(self, data: np.ndarray) -> dict[str, Any]:
        """Shape, dtype and, for numbers, min/max/mean/std (ZenML's keys), which `artrepo diff` compares."""
        return {"shape": list(data.shape), "dtype": str(data.dtype), **statistics(data)}

    def save_visualizations(self, data):
        from artrepo.materializers.visuals import numpy_visualizations

        return numpy_visualizations(self, data)
