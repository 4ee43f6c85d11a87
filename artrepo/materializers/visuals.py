"""Built-in visualizations: summaries and plots that materializers store with a version.

Each function writes files with `materializer.open("visualizations/<file>", "wb")`
and returns `{"visualizations/<file>": VisualizationType}`. They stay cheap on
big data: statistics and plots use a bounded sample (at most `MAX_VALUES`
values, `MAX_COLUMNS` columns), gathered by fancy indexing so that no full
pass over the data ever happens. Histograms are hand-written SVG and thumbnails
a PNG encoded with numpy and zlib: no plotting library, so the first save in a
process pays no import and every save only a few milliseconds.

    def save_visualizations(self, data):
        return numpy_visualizations(self, data)
"""
from __future__ import annotations

import html
import os
from pathlib import Path

from artrepo.records.artifact import VisualizationType
from artrepo.sizes import human_size

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
            with np.errstate(over="ignore"):  # values near the float64 limits: mean or std is inf
                rows += [(k, _number(f(finite))) for k, f in
                         (("min", np.min), ("max", np.max), ("mean", np.mean), ("std", np.std))]
    note = _sample_note(sample.size, array.size)
    body = "<h2>Array</h2>" + _table(["", "value"], rows) + note
    out[_write(materializer, "summary.html", _page("Array summary", body))] = VisualizationType.HTML
    if numeric and finite.size:
        out[_write(materializer, "histogram.svg", _histograms([("values", finite)]))] = VisualizationType.IMAGE
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
        out[_write(materializer, "histograms.svg", _histograms(plots))] = VisualizationType.IMAGE
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
            rows.append((rel, human_size(st.st_size), f"{st.st_size:,}"))
    more = f"<p class=note>first {MAX_LISTED_FILES:,} of {count:,} files</p>" if count > MAX_LISTED_FILES else ""
    body = (f"<h2>{html.escape(root.name)}</h2><p class=note>{count:,} files, {human_size(total)}</p>"
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
    """A PNG of at most THUMBNAIL_PIXELS per side, by striding (a view, no full copy).

    2-D arrays become grayscale scaled min..max over the finite values (NaN as
    the low value); 3-D arrays with 3 or 4 channels RGB or RGBA, uint8 as is.
    """
    import numpy as np

    step = max(1, -(-max(array.shape[:2]) // THUMBNAIL_PIXELS))
    small = np.asarray(array[::step, ::step])
    if small.ndim == 3 and small.shape[2] == 1:
        small = small[:, :, 0]
    if small.dtype != np.uint8:
        small = small.astype(np.float64)
        finite = small[np.isfinite(small)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        small = np.where(np.isnan(small), lo, small)
        with np.errstate(over="ignore", invalid="ignore"):  # an infinite value clips to an end
            small = np.clip((small - lo) / ((hi - lo) or 1.0), 0, 1) * 255
        small = np.rint(small).astype(np.uint8)
    return _png(small)


def _png(pixels) -> bytes:
    """A minimal PNG of uint8 pixels: (h, w) grayscale, (h, w, 3) RGB or (h, w, 4) RGBA."""
    import struct
    import zlib

    import numpy as np

    height, width = pixels.shape[:2]
    color_type = 0 if pixels.ndim == 2 else {3: 2, 4: 6}[pixels.shape[2]]
    rows = np.ascontiguousarray(pixels).reshape(height, -1)
    raw = np.hstack([np.zeros((height, 1), np.uint8), rows]).tobytes()  # filter byte 0 (none) per row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
            + chunk(b"IEND", b""))


_CELL_W, _CELL_H = 260, 170          # one histogram; the plot area inside it:
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 250, 28, 140
_BINS = 40


def _histograms(columns: list[tuple[str, object]]) -> str:
    """One SVG: a grid (4 wide) with a histogram per (label, finite values)."""
    cols = min(len(columns), 4)
    rows = -(-len(columns) // cols)
    width, height = _CELL_W * cols, _CELL_H * rows
    cells = [_histogram_cell(label, values, (i % cols) * _CELL_W, (i // cols) * _CELL_H)
             for i, (label, values) in enumerate(columns)]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif" font-size="10" fill="#1f2328">'
            f'<rect width="100%" height="100%" fill="#fff"/>{"".join(cells)}</svg>')


def _histogram_cell(label: str, values, x0: int, y0: int) -> str:
    import numpy as np

    with np.errstate(over="ignore"):
        overflows = values.size and not np.isfinite(values.max() - values.min())
    if overflows:  # np.histogram cannot make bins when max - min exceeds float64; halving is exact
        counts, edges = np.histogram(values / 2, bins=_BINS)
        edges = edges * 2
    else:
        counts, edges = np.histogram(values, bins=_BINS)
    top = int(counts.max())
    bar_w = (_RIGHT - _LEFT) / _BINS
    left, right, bottom, ytop = x0 + _LEFT, x0 + _RIGHT, y0 + _BOTTOM, y0 + _TOP
    width = f"{bar_w:.1f}"
    # Python floats and one %-template: a third of the time of f-strings over numpy scalars (each array save)
    bars = "".join(['<rect class="bar" x="%.1f" y="%.1f" width="%s" height="%.1f"/>' % (left + i * bar_w, bottom - h,
                                                                                          width, h)
                    for i, h in enumerate((counts * (_BOTTOM - _TOP) / (top or 1)).tolist()) if h > 0])
    title = html.escape(_xml_text(label)[:40])
    return (f'<g><text x="{x0 + _CELL_W // 2}" y="{y0 + 16}" text-anchor="middle" font-size="12">{title}</text>'
            f'<g fill="#3b6ea8">{bars}</g>'
            f'<path d="M{left} {ytop}V{bottom}H{right}" fill="none" stroke="#59636e"/>'
            f'<text x="{left - 4}" y="{ytop + 4}" text-anchor="end">{top:,}</text>'
            f'<text x="{left}" y="{bottom + 14}">{html.escape(_number(edges[0]))}</text>'
            f'<text x="{right}" y="{bottom + 14}" text-anchor="end">{html.escape(_number(edges[-1]))}</text></g>')


def _xml_text(text: str) -> str:
    """Drop the control characters XML forbids (a column name may hold them)."""
    return "".join(c for c in text if c >= " " or c in "\t\n\r")


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
