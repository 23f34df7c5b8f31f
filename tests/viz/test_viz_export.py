from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tunesmith.model.errors import ValidationException
from tunesmith.viz import build_report, save_report
from tunesmith.viz.charts import progress_chart
from tunesmith.viz.demo import synthetic_tuning_job
from tunesmith.viz.export import to_html

EXTERNAL = re.compile(
    r"""<(script|link|img|iframe|source)\b[^>]*\b(src|href)\s*=\s*["']?\s*(https?:)?//""", re.I
)


@pytest.fixture(scope="module")
def chart():
    job = synthetic_tuning_job("export-1", "Random", n_trials=25, seed=4)
    return build_report([job], advanced=True)


@pytest.fixture(scope="module")
def page(chart) -> str:
    return to_html(chart)


def test_html_loads_nothing_from_the_network(page: str) -> None:
    assert not EXTERNAL.search(page)
    assert not re.search(r"""@import|url\(\s*["']?(https?:)?//""", page)
    assert "<script src" not in page.lower()


def test_html_embeds_the_vega_libraries_and_the_spec(page: str, chart) -> None:
    assert "window.vegaEmbed=" in page and "window.vegaLite=" in page
    call = re.search(r'vegaEmbed\("#report", (\{.*\}), (\{.*\})\)\.catch', page)
    assert call is not None
    spec = json.loads(call.group(1).replace("<\\/", "</"))
    assert spec["datasets"]["trials"] == chart.to_dict()["datasets"]["trials"]
    options = json.loads(call.group(2))
    assert options["actions"]["editor"] is False


def test_html_title_is_escaped() -> None:
    job = synthetic_tuning_job("a-b", n_trials=12, seed=1)
    chart = build_report([job]).properties(title="<b>x</b>")
    assert "<title>&lt;b&gt;x&lt;/b&gt;</title>" in to_html(chart)


def test_save_report_writes_html(tmp_path: Path, chart) -> None:
    path = save_report(chart, tmp_path / "report.HTML")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.slow
def test_save_report_writes_png(tmp_path: Path, chart) -> None:
    png = save_report(chart, tmp_path / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 50_000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 1500 and height > 3000


def test_save_report_writes_svg_and_pdf(tmp_path: Path) -> None:
    chart = progress_chart([synthetic_tuning_job("small", n_trials=15, seed=2)])
    svg = save_report(chart, tmp_path / "progress.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "valid-f1" in svg
    assert save_report(chart, tmp_path / "progress.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("name", ["report.jpg", "report", "report.html.gz"])
def test_other_suffixes_are_refused(tmp_path: Path, chart, name: str) -> None:
    with pytest.raises(ValueError, match=r"use one of \.html, \.png, \.svg, \.pdf") as error:
        save_report(chart, tmp_path / name)
    assert isinstance(error.value, ValidationException)
    assert not (tmp_path / name).exists()


@pytest.mark.slow
def test_bundle_is_cached_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tunesmith.viz import export

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    export.vega_javascript.cache_clear()
    try:
        first = export.vega_javascript()
        (cached,) = (tmp_path / "tunesmith").glob("vega-bundle-*.js")
        assert cached.read_text(encoding="utf-8") == first
        cached.write_text("window.vegaEmbed=function(){};", encoding="utf-8")
        export.vega_javascript.cache_clear()
        assert export.vega_javascript() == "window.vegaEmbed=function(){};"
    finally:
        export.vega_javascript.cache_clear()
