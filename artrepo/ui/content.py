"""Artifact content in the dashboard: visualizations and zip downloads.

Bytes from an artifact are never trusted. Images and HTML are served from
their own URLs with a CSP `sandbox` (an opaque origin: no access to the
dashboard, no network) and `nosniff`; HTML is shown in an `<iframe
sandbox>` that allows scripts only for versions written here or pulled from
a trusted remote, and never together with `allow-same-origin`. CSV, JSON and
Markdown are rendered by the server as escaped text.
"""
from __future__ import annotations

import csv
import io
import json

from artrepo.ui.dashboard import Response

MAX_INLINE = 2 * 1024 * 1024  # text shown in the page
MAX_SERVED = 64 * 1024 * 1024  # raw bytes served from a visualization URL
MAX_CSV_ROWS = 200
MAX_CSV_COLUMNS = 50
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))
_CONTENT_CSP = {
    True: "sandbox allow-scripts; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
          "script-src 'unsafe-inline'; frame-ancestors 'self'",
    False: "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'",
}


def _read(dash, stored, limit: int) -> bytes | None:
    if stored.size > limit or stored.symlink is not None:
        return None
    with dash.repo.chunks.open(stored) as f:
        return f.readall()


def inline_visualizations(dash, row, manifest) -> list[dict]:
    """What the version page shows for each visualization, in stored order."""
    trusted = dash.repo.trusts(row.id)
    out = []
    for index, (name, vtype, stored) in enumerate(manifest.visualizations):
        item = {"name": name, "type": vtype, "size": stored.size,
                "url": f"/versions/{row.id}/visualizations/{index}", "sandbox": "allow-scripts" if trusted else ""}
        if vtype in ("csv", "json", "markdown"):
            data = _read(dash, stored, MAX_INLINE)
            if data is None:
                item["type"] = "link"
            else:
                text = data.decode("utf-8", "replace")
                item.update(_render_text(vtype, text))
        out.append(item)
    return out


def _render_text(vtype: str, text: str) -> dict:
    if vtype == "csv":
        rows = []
        for i, r in enumerate(csv.reader(io.StringIO(text))):
            if i > MAX_CSV_ROWS:
                break
            rows.append(r[:MAX_CSV_COLUMNS])
        return {"rows": rows[:MAX_CSV_ROWS], "truncated": len(rows) > MAX_CSV_ROWS}
    if vtype == "json":
        try:
            return {"text": json.dumps(json.loads(text), indent=2, ensure_ascii=False)}
        except ValueError:
            return {"text": text}
    from artrepo.ui.markdown import render

    return {"html": render(text)}


def visualization_response(dash, query: dict, version_id: str, index: str) -> Response:
    row = dash.catalog.version_row(version_id)
    visuals = dash.repo.manifest(row.id).visualizations
    if not index.isdigit() or int(index) >= len(visuals):
        return dash.not_found(f"version {row.id[:12]} has no visualization {index}")
    name, vtype, stored = visuals[int(index)]
    data = _read(dash, stored, MAX_SERVED)
    if data is None:
        return Response(b"visualization too large to serve\n", "text/plain; charset=utf-8", 413)
    headers = {"Content-Security-Policy": _CONTENT_CSP[dash.repo.trusts(row.id)],
               "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "private, max-age=3600"}
    return Response(data, _content_type(vtype, data), headers=headers)


def _content_type(vtype: str, data: bytes) -> str:
    if vtype == "html":
        return "text/html; charset=utf-8"
    if vtype == "image":
        for magic, mime in _IMAGE_MAGIC:
            if data.startswith(magic):
                return mime
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return "image/webp"
        if b"<svg" in data[:2048]:
            return "image/svg+xml"
        return "application/octet-stream"
    return {"csv": "text/csv; charset=utf-8", "json": "application/json",
            "markdown": "text/markdown; charset=utf-8"}.get(vtype, "application/octet-stream")


def download_response(dash, query: dict, version_id: str) -> Response:
    """The version's files as a zip, streamed while it is made (never written to disk)."""
    from artrepo.payload import LoadFiles

    row = dash.catalog.version_row(version_id)
    files = LoadFiles(dash.repo.chunks, dash.repo.manifest(row.id))
    filename = f"{row.name.replace('::', '__')}-{row.version}.zip"
    return Response(None, "application/zip", stream=files.write_zip,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
