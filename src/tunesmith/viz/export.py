"""Saving a report: self-contained HTML, or PNG/SVG/PDF rendered without a browser.

The HTML page carries the Vega, Vega-Lite and Vega-Embed JavaScript that vl-convert bundles, so
opening it makes no network request; the export menu keeps only the image downloads (the
"open in editor" action would send the spec to a website). Images are rendered by vl-convert's
embedded engine.
"""

from __future__ import annotations

import functools
import html
import json
import os
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert as vlc

from tunesmith.model.errors import ValidationException

SUFFIXES = (".html", ".png", ".svg", ".pdf")
PNG_SCALE = 2.0


class ReportFormatError(ValidationException, ValueError):
    """The output file's suffix names no format a report can be saved in."""


def _cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tunesmith"


@functools.cache
def vega_javascript() -> str:
    """The Vega/Vega-Lite/Vega-Embed bundle of the installed vl-convert.

    Bundling takes seconds, so the bundle is kept for the process and in the user's cache
    folder, keyed by the library versions; a cache that cannot be written is skipped.
    """
    versions = f"{vlc.__version__}-{vlc.get_vega_version()}-{vlc.get_vega_embed_version()}"
    cached = _cache_folder() / f"vega-bundle-{versions}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle = vlc.javascript_bundle()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(bundle, encoding="utf-8")
        partial.replace(cached)
    except OSError:
        pass
    return bundle


def vega_lite_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    # The charts are built from validated pieces; validating the embedded rows again is slow.
    return chart.to_dict(validate=False)


def _title_of(spec: dict[str, Any]) -> str:
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    return str(title) if title else "Tuning report"


def to_html(chart: alt.TopLevelMixin) -> str:
    """A standalone HTML page that renders the chart with no network access."""
    spec = vega_lite_spec(chart)
    # "</" inside a JSON string would end the script element early.
    payload = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
    options = {
        "renderer": "canvas",
        "actions": {"export": True, "source": False, "compiled": False, "editor": False},
    }
    return f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{html.escape(_title_of(spec))}</title>
<style>body {{ font-family: sans-serif; margin: 16px; }}</style>
<script type="text/javascript">{vega_javascript()}</script>
</head>
<body>
<div id="report"></div>
<script type="text/javascript">
vegaEmbed("#report", {payload}, {json.dumps(options)}).catch(function (error) {{
  document.getElementById("report").textContent = "The report could not be drawn: " + error;
}});
</script>
</body>
</html>
"""


def save_report(chart: alt.TopLevelMixin, path: str | Path) -> Path:
    """Write ``chart`` to ``path`` in the format its suffix names (.html, .png, .svg, .pdf)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ReportFormatError(
            f"path: cannot save a report as {suffix or 'a file without suffix'!r}; "
            f"use one of {', '.join(SUFFIXES)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        path.write_text(to_html(chart), encoding="utf-8")
        return path
    spec = vega_lite_spec(chart)
    if suffix == ".png":
        path.write_bytes(vlc.vegalite_to_png(spec, scale=PNG_SCALE))
    elif suffix == ".svg":
        path.write_text(vlc.vegalite_to_svg(spec), encoding="utf-8")
    else:
        path.write_bytes(vlc.vegalite_to_pdf(spec))
    return path
