"""numpy arrays as `.npy` (never pickled): any dtype and shape, C or Fortran order.

Saving streams the array's own memory into the store (no copy for
contiguous arrays); loading reads chunks straight into one preallocated
array, so either needs about N bytes of memory for an N-byte array. The
array is allocated only once its header is known to describe exactly the
bytes that follow it (a header may claim 10^12 elements).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from artrepo.errors import FormatError, MaterializerError
from artrepo.materializers.base import BaseMaterializer
from artrepo.records.artifact import ArtifactType

FILE = "data.npy"
MAX_HEADER = 10_000  # numpy's own limit for headers it parses without allow_pickle


def _raw_bytes(arr: np.ndarray) -> np.ndarray:
    """A uint8 view of the array's memory in its storage order (copy only if strided)."""
    if arr.flags.c_contiguous:
        flat = arr.reshape(-1)
    elif arr.flags.f_contiguous:
        flat = arr.T.reshape(-1)
    else:
        flat = np.ascontiguousarray(arr).reshape(-1)
    return flat.view(np.uint8)


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


def load_npy(f) -> np.ndarray:
    """The array in a seekable `.npy` stream; FormatError unless its header is sound and fits the bytes."""
    shape, fortran, dtype = _npy_header(f)
    if dtype.hasobject:
        raise MaterializerError("refusing to load a .npy of dtype object (it would unpickle)")
    here = f.tell()
    follows = f.seek(0, 2) - here
    f.seek(here)
    count = math.prod(shape)
    if min(shape, default=0) < 0 or count * dtype.itemsize != follows:
        raise FormatError(f"{FILE}: its header declares {count} elements of {dtype.itemsize} bytes "
                          f"{tuple(shape)}, but {follows} bytes follow it")
    try:
        out = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    except ValueError as exc:  # e.g. more dimensions than numpy supports
        raise FormatError(f"{FILE}: unusable shape {tuple(shape)} ({exc})") from None
    target = _raw_bytes(out)
    if f.readinto(memoryview(target)) != target.nbytes:
        raise FormatError(f"{FILE} is shorter than its header says")
    return out


def _npy_header(f):
    """(shape, fortran order, dtype); the header's declared length is bounded before numpy reads it."""
    start = f.tell()
    magic = f.read(8)
    if len(magic) != 8 or magic[:6] != b"\x93NUMPY" or magic[6] not in (1, 2):
        raise FormatError(f"{FILE}: not a .npy file of format version 1 or 2")
    width = 2 if magic[6] == 1 else 4
    length = f.read(width)
    if len(length) != width or int.from_bytes(length, "little") > MAX_HEADER:
        raise FormatError(f"{FILE}: its header is longer than {MAX_HEADER} bytes")
    f.seek(start)
    read = np.lib.format.read_array_header_1_0 if magic[6] == 1 else np.lib.format.read_array_header_2_0
    try:
        np.lib.format.read_magic(f)
        return read(f)
    except Exception as exc:  # numpy's parser of untrusted text: any failure means a malformed header
        raise FormatError(f"{FILE}: unreadable header ({type(exc).__name__}: {str(exc)[:200]})") from None


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
            return load_npy(f)

    def extract_metadata(self, data: np.ndarray) -> dict[str, Any]:
        """Shape, dtype and, for numbers, min/max/mean/std (ZenML's keys), which `artrepo diff` compares."""
        return {"shape": list(data.shape), "dtype": str(data.dtype), **statistics(data)}

    def save_visualizations(self, data):
        from artrepo.materializers.visuals import numpy_visualizations

        return numpy_visualizations(self, data)
