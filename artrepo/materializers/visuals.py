"""Built-in visualizations: summaries and plots that materializers store with a version.

Each function writes files with `materializer.open("visualizations/<file>", "wb")`
and returns `{"visualizations/<file>": VisualizationType}`. They stay cheap on
big data: statistics and plots use a bounded sample (at most `MAX_VALUES`
values, `MAX_COLUMNS` columns), gathered by fancy indexing so that no full
pass over the data ever happens. Plots come from matplotlib's object API
(no pyplot state, so it is safe in threads), imported only when needed.

    def save_visualizations(self, data):
        return numpy_visualizations(self, data)
"""
from __future__ import annotations

import html
import io
import os
from pathlib import Path

from artrepo.records.artifact import VisualizationType

MAX_VALUES = 1_000_000
MAX_COLUMNS = 50
MAX_PLOTS = 24
MAX_LISTED_FILES = 1000
THUMBNAIL_PIXELS = 256
HEAD_ROWS = 10

_STYLE = """<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:12px}
table{border-collapse:collapse;margin:0 0 16px}th,td{border-bottom:1px solid #d8dee4;padding:3px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f6f8fa}h2{font-size:15px;margin:18px 0 6px}
.note{color:#59636e;font-size:12px}</style>"""


def numpy_visualizations(materializer, array) -> dict[str, VisualizationType]:
    """Summary (shape, dtype, statistics), a histogram, a thumbnail for image-like arrays."""
    import numpy as np

    out = {}
    sample = _array_sample(array)
    rows = [("shape", " × ".join(str(n) for n in array.shape) or "scalar"), ("dtype", str(array.dtype)),
            ("values", f"{array.size:,}")]
    numeric = sample.dtype.kind in "biuf" and sample.size > 0
    if numeric:
        values = sample.astype(np.float64, copy=False)
        finite = values[np.isfinite(values)]
        rows += [("NaN", f"{int(np.isnan(values).sum()):,}")]
        if finite.size:
            rows += [(k, _number(f(finite))) for k, f in
                     (("min", np.min), ("max", np.max), ("mean", np.mean), ("std", np.std))]
    note = _sample_note(sample.size, array.size)
    body = "<h2>Array</h2>" + _table(["", "value"], rows) + note
    out[_write(materializer, "summary.html", _page("Array summary", body))] = VisualizationType.HTML
    if numeric and finite.size:
        out[_write(materializer, "histogram.png", _histograms([("values", finite)]))] = VisualizationType.IMAGE
    if numeric and _image_like(array):
        out[_write(materializer, "thumbnail.png", _thumbnail(array))] = VisualizationType.IMAGE
    return out


def pandas_visualizations(materializer, data) -> dict[str, VisualizationType]:
    """Schema, head and describe as HTML tables; one histogram grid of numeric columns."""
    import numpy as np
    import pandas as pd

    frame = data.to_frame() if isinstance(data, pd.Series) else data
    columns = list(frame.columns[:MAX_COLUMNS])
    sample = _frame_sample(frame[columns])
    schema = [(str(c), str(t), f"{int(sample[c].notna().sum()):,}") for c, t in sample.dtypes.items()]
    parts = [f"<h2>Schema</h2><p class=note>{len(frame):,} rows × {len(frame.columns):,} columns</p>",
             _table(["column", "dtype", "non-null (sample)"], schema),
             "<h2>Head</h2>", frame[columns].head(HEAD_ROWS).to_html(escape=True, border=0),
             ]
    numeric = sample.select_dtypes(include="number").columns
    if len(numeric):
        parts += ["<h2>Describe</h2>", sample[numeric].describe().to_html(escape=True, border=0)]
    if len(frame.columns) > MAX_COLUMNS:
        parts.append(f"<p class=note>showing the first {MAX_COLUMNS} of {len(frame.columns)} columns</p>")
    parts.append(_sample_note(len(sample), len(frame), unit="rows"))
    out = {_write(materializer, "summary.html", _page("DataFrame summary", "".join(parts))): VisualizationType.HTML}
    plots = [(str(c), sample[c].to_numpy(dtype="float64", na_value=float("nan"))) for c in numeric[:MAX_PLOTS]]
    plots = [(label, values[np.isfinite(values)]) for label, values in plots]
    if any(v.size for _, v in plots):
        out[_write(materializer, "histograms.png", _histograms(plots))] = VisualizationType.IMAGE
    return out


def path_visualizations(materializer, path) -> dict[str, VisualizationType]:
    """A listing of the files (not following symlinks) with their sizes."""
    root = Path(path)
    rows, total, count = [], 0, 0
    entries = _walk(root) if root.is_dir() else [(root.name, root.lstat())]
    for rel, st in entries:
        count += 1
        total += st.st_size
        if len(rows) < MAX_LISTED_FILES:
            rows.append((rel, _size(st.st_size), f"{st.st_size:,}"))
    more = f"<p class=note>first {MAX_LISTED_FILES:,} of {count:,} files</p>" if count > MAX_LISTED_FILES else ""
    body = (f"<h2>{html.escape(root.name)}</h2><p class=note>{count:,} files, {_size(total)}</p>"
            + _table(["file", "size", "bytes"], rows) + more)
    return {_write(materializer, "files.html", _page("Files", body)): VisualizationType.HTML}


# -- sampling -------------------------------------------------------------------
def _array_sample(array):
    """At most MAX_VALUES values, evenly spaced over the flat index (no full pass)."""
    import numpy as np

    if array.size <= MAX_VALUES:
        return np.asarray(array).reshape(-1)
    flat = np.linspace(0, array.size - 1, MAX_VALUES, dtype=np.int64)
    return array[np.unravel_index(flat, array.shape)]


def _frame_sample(frame):
    import numpy as np

    width = max(1, len(frame.columns))
    limit = max(1, MAX_VALUES // width)
    if len(frame) <= limit:
        return frame
    return frame.iloc[np.linspace(0, len(frame) - 1, limit, dtype=np.int64)]


def _sample_note(sampled: int, total: int, unit: str = "values") -> str:
    if sampled >= total:
        return ""
    return f"<p class=note>statistics from {sampled:,} of {total:,} {unit}, evenly spaced</p>"


# -- images ----------------------------------------------------------------------
def _image_like(array) -> bool:
    if array.ndim == 2:
        return min(array.shape) >= 8
    return array.ndim == 3 and array.shape[2] in (1, 3, 4) and min(array.shape[:2]) >= 8


def _thumbnail(array) -> bytes:
    """A PNG of at most THUMBNAIL_PIXELS per side, by striding (a view, no full copy)."""
    import numpy as np
    from matplotlib.figure import Figure

    step = max(1, -(-max(array.shape[:2]) // THUMBNAIL_PIXELS))
    small = np.asarray(array[::step, ::step], dtype=np.float64)
    if small.ndim == 3 and small.shape[2] == 1:
        small = small[:, :, 0]
    finite = small[np.isfinite(small)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scaled = np.clip((np.nan_to_num(small, nan=lo) - lo) / ((hi - lo) or 1.0), 0, 1)
    height, width = scaled.shape[:2]
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    fig.figimage(scaled, cmap="viridis" if scaled.ndim == 2 else None, resize=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _histograms(columns: list[tuple[str, object]]) -> bytes:
    """One PNG: a grid with a histogram per (label, finite values)."""
    from matplotlib.figure import Figure

    n = len(columns)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = Figure(figsize=(3.2 * cols, 2.4 * rows), dpi=80, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (label, values) in zip(axes.flat, columns):
        ax.hist(values, bins=40, color="#3b6ea8")
        ax.set_title(label[:40], fontsize=10)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# -- files and HTML ----------------------------------------------------------------
def _walk(root: Path):
    """(relative path, lstat) of every file under root, sorted, symlinks not followed."""
    stack = [root]
    while stack:
        folder = stack.pop()
        for entry in sorted(os.scandir(folder), key=lambda e: e.name, reverse=True):
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            else:
                yield str(Path(entry.path).relative_to(root)), entry.stat(follow_symlinks=False)


def _write(materializer, filename: str, data: bytes | str) -> str:
    key = f"visualizations/{filename}"
    with materializer.open(key, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return key


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"{_STYLE}</head><body>{body}</body></html>")


def _table(header: list[str], rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(value) -> str:
    value = float(value)
    return f"{value:,.0f}" if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
