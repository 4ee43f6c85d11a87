"""Built-in visualizations (artrepo/materializers/visuals.py) and the Markdown renderer."""
from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artrepo.materializers import visuals
from artrepo.materializers.numpy import NumpyMaterializer
from artrepo.records.artifact import VisualizationType
from artrepo.ui.markdown import render


class FolderMaterializer:
    """Collects what a visualization function writes, as a materializer's `open` would."""

    def __init__(self, root: Path):
        self.root = root

    def open(self, relpath: str, mode: str):
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, mode)

    def text(self, relpath: str) -> str:
        return (self.root / relpath).read_text()

    def svg_bars_and_labels(self, relpath: str) -> tuple[int, list[str]]:
        """Parses the SVG as XML: (number of histogram bars, every text label)."""
        root = ET.parse(self.root / relpath).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        bars = [r for r in root.iter(f"{ns}rect") if r.get("class") == "bar"]
        return len(bars), [t.text for t in root.iter(f"{ns}text")]

    def image(self, relpath: str) -> tuple[tuple[int, int], str, object]:
        """Decodes the PNG with Pillow: (width, height), mode, pixels."""
        from PIL import Image

        with Image.open(self.root / relpath) as img:
            return img.size, img.mode, np.asarray(img)


@pytest.fixture
def mat(tmp_path) -> FolderMaterializer:
    return FolderMaterializer(tmp_path)


def test_array_summary_histogram_and_thumbnail(mat):
    out = visuals.numpy_visualizations(mat, np.arange(64 * 64, dtype=np.float32).reshape(64, 64))
    assert out == {"visualizations/summary.html": VisualizationType.HTML,
                   "visualizations/histogram.svg": VisualizationType.IMAGE,
                   "visualizations/thumbnail.png": VisualizationType.IMAGE}
    summary = mat.text("visualizations/summary.html")
    assert "64 × 64" in summary and "float32" in summary and "4,095" in summary  # max
    bars, labels = mat.svg_bars_and_labels("visualizations/histogram.svg")
    assert bars == 40 and labels == ["values", "103", "0", "4,095"]  # 4096 values in 40 bins: 103 at most
    size, mode, pixels = mat.image("visualizations/thumbnail.png")
    assert size == (64, 64) and mode == "L"
    assert pixels[0, 0] == 0 and pixels[-1, -1] == 255 and pixels[0, 1] < pixels[1, 0]  # scaled min..max


def test_histogram_svg_has_a_natural_size_for_an_img_tag(mat):
    visuals.numpy_visualizations(mat, np.random.default_rng(0).normal(size=1000))
    root = ET.parse(mat.root / "visualizations/histogram.svg").getroot()
    assert int(root.get("width")) > 100 and int(root.get("height")) > 100
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"


def test_thumbnail_draws_nan_as_the_lowest_value(mat):
    image = np.tile(np.linspace(1.0, 2.0, 16), (16, 1))
    image[3, 3] = np.nan
    visuals.numpy_visualizations(mat, image)
    _, mode, pixels = mat.image("visualizations/thumbnail.png")
    assert mode == "L" and pixels[3, 3] == 0 and pixels[0, 0] == 0 and pixels[0, -1] == 255


def test_vector_gets_no_thumbnail_and_strings_no_plot(mat):
    assert "visualizations/thumbnail.png" not in visuals.numpy_visualizations(mat, np.arange(100))
    assert list(visuals.numpy_visualizations(mat, np.array(["a", "b"]))) == ["visualizations/summary.html"]


def test_values_spanning_the_whole_float_range_still_get_a_histogram(mat):
    visuals.numpy_visualizations(mat, np.array([-1e308, 0.0, 1e308]))
    bars, labels = mat.svg_bars_and_labels("visualizations/histogram.svg")
    assert bars == 3 and labels[-2:] == ["-1e+308", "1e+308"]


def test_huge_array_is_summarized_from_a_sample_without_a_full_pass(mat):
    huge = np.broadcast_to(np.float64(2.5), (100_000, 100_000))  # 80 GB if it were ever read in full
    start = time.perf_counter()
    out = visuals.numpy_visualizations(mat, huge)
    assert time.perf_counter() - start < 10
    summary = mat.text("visualizations/summary.html")
    assert "1,000,000 of 10,000,000,000 values" in summary and "2.5" in summary
    assert "visualizations/thumbnail.png" in out


def test_rgb_image_thumbnail_is_at_most_256_pixels(mat):
    image = np.zeros((1000, 600, 3), dtype=np.uint8)
    image[:, :, 0] = 200
    visuals.numpy_visualizations(mat, image)
    size, mode, pixels = mat.image("visualizations/thumbnail.png")
    assert mode == "RGB" and size == (150, 250)  # every 4th pixel: width × height, at most 256
    assert pixels[0, 0].tolist() == [200, 0, 0]  # uint8 colours kept as they are


def test_float_rgba_image_thumbnail_is_scaled_to_bytes(mat):
    image = np.ones((20, 30, 4))
    image[:, :, :3] = 0.0
    visuals.numpy_visualizations(mat, image)
    size, mode, pixels = mat.image("visualizations/thumbnail.png")
    assert size == (30, 20) and mode == "RGBA" and pixels[0, 0].tolist() == [0, 0, 0, 255]


def test_drawing_imports_no_plotting_library():
    code = ("import sys, io, numpy as np, pandas as pd\n"
            "from artrepo.materializers import visuals\n"
            "class M:\n    def open(self, path, mode): return io.BytesIO()\n"
            "visuals.numpy_visualizations(M(), np.ones((64, 64)))\n"
            "visuals.pandas_visualizations(M(), pd.DataFrame({'a': [1.0, 2.0]}))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'PIL')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_frame_schema_head_describe_and_histograms(mat):
    frame = pd.DataFrame({"a": np.arange(10.0), "b": list("abcdefghij"), "<c>": np.ones(10)})
    out = visuals.pandas_visualizations(mat, frame)
    assert out == {"visualizations/summary.html": VisualizationType.HTML,
                   "visualizations/histograms.svg": VisualizationType.IMAGE}
    summary = mat.text("visualizations/summary.html")
    for part in ("Schema", "Head", "Describe", "10 rows × 3 columns", "&lt;c&gt;"):
        assert part in summary
    assert "<c>" not in summary


def test_frame_histograms_are_one_svg_grid_with_escaped_column_names(mat):
    frame = pd.DataFrame({"x": np.arange(400.0), "<script>alert(1)</script>": np.ones(400), "s": ["t"] * 400})
    visuals.pandas_visualizations(mat, frame)
    svg = mat.text("visualizations/histograms.svg")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    bars, labels = mat.svg_bars_and_labels("visualizations/histograms.svg")
    assert bars == 40 + 1  # 10 values in each bin of x; the constant column is a single bar
    assert labels[0] == "x" and "<script>alert(1)</script>" in labels and "s" not in labels


def test_series_and_wide_or_long_frames_stay_bounded(mat):
    assert "visualizations/summary.html" in visuals.pandas_visualizations(mat, pd.Series([1, 2, None], name="s"))
    wide = pd.DataFrame(np.zeros((3, 80)), columns=[f"c{i}" for i in range(80)])
    visuals.pandas_visualizations(mat, wide)
    assert "first 50 of 80 columns" in mat.text("visualizations/summary.html")
    long = pd.DataFrame({"x": np.arange(3_000_000), "y": np.zeros(3_000_000)})
    visuals.pandas_visualizations(mat, long)
    assert "500,000 of 3,000,000 rows" in mat.text("visualizations/summary.html")


def test_path_listing_has_sizes_and_does_not_follow_links(mat, tmp_path):
    folder = tmp_path / "data"
    (folder / "deep").mkdir(parents=True)
    (folder / "deep" / "x.bin").write_bytes(b"1" * 3000)
    (folder / "link").symlink_to("/etc")
    out = visuals.path_visualizations(mat, folder)
    listing = mat.text("visualizations/files.html")
    assert out == {"visualizations/files.html": VisualizationType.HTML}
    assert "deep/x.bin" in listing and "2.9 KiB" in listing and "passwd" not in listing


def test_visualizations_are_stored_with_a_saved_version(project):
    from artrepo import Client, save_artifact

    class Visual(NumpyMaterializer):
        SKIP_REGISTRATION = True

        def save_visualizations(self, data):
            return visuals.numpy_visualizations(self, data)

    av = save_artifact(np.eye(16), name="eye", materializer=Visual)
    again = Client().get_artifact_version("eye")
    assert dict(again.visualizations) == {"visualizations/summary.html": "html",
                                          "visualizations/histogram.svg": "image",
                                          "visualizations/thumbnail.png": "image"}
    assert [f.path for f in av.manifest().files] == ["data.npy"]  # visualizations are not data
    np.testing.assert_array_equal(again.load(), np.eye(16))


def test_markdown_renders_structure_and_keeps_html_as_text():
    out = render("# T <i>x</i>\n\n- a\n- **b**\n\n```\n<script>1</script>\n```\n\n"
                 "[ok](https://example.org) [bad](javascript:alert(1))\n\n| h |\n|---|\n| <b>c</b> |")
    assert "<h1>T &lt;i&gt;x&lt;/i&gt;</h1>" in out and "<li><strong>b</strong></li>" in out
    assert "&lt;script&gt;1&lt;/script&gt;" in out and "<script>" not in out
    assert 'href="https://example.org"' in out and 'href="javascript' not in out
    assert "<td>&lt;b&gt;c&lt;/b&gt;</td>" in out
