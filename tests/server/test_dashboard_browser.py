"""The dashboard in a real browser: Debian's chromium driven by Playwright, against a server on a
free loopback port running a real tuning job.

Screenshots go to ``$TUNESMITH_TEST_ARTIFACTS`` (default ``test-artifacts/`` at the repository
root). Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from server_helpers import training_job_request
from serving import KEY_ID, SECRET, RunningServer, boto3_tuning_document

from helpers import process_running, wait_for
from tunesmith.api import Workspace

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WAIT_MS = 30_000
JOB = "watched"

# Each training job prints a loss curve, then its objective, over about a second: the tuning
# job keeps running (and its charts keep changing) for the whole module.
TRAIN = """
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.0)
parser.add_argument("--n", type=int, default=1)
args, _ = parser.parse_known_args()
for step in range(4):
    print(f"loss: {1.0 / (step + 1) + args.x:.4f}", flush=True)
    time.sleep(0.25)
print(f"score: {-(args.x - 0.3) ** 2 - 0.01 * args.n:.6f}", flush=True)
"""


def artifacts() -> Path:
    folder = Path(os.environ.get("TUNESMITH_TEST_ARTIFACTS")
                  or Path(__file__).resolve().parents[2] / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(artifacts() / f"dashboard-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("watched-source")
    (folder / "train.py").write_text(textwrap.dedent(TRAIN))
    return folder


@pytest.fixture(scope="module")
def watched(sagemaker: Any, source: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A running tuning job that already has a few scored training jobs."""
    document = boto3_tuning_document(
        JOB, source, tmp_path_factory.mktemp("output"), max_jobs=500, parallel=2,
        metric_definitions=[{"Name": "score", "Regex": r"score:\s*(-?[0-9.]+)"},
                            {"Name": "loss", "Regex": r"loss:\s*([0-9.]+)"}],
    )
    sagemaker.create_hyper_parameter_tuning_job(**document)
    wait_for(lambda: sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=JOB)["TrainingJobStatusCounters"]["Completed"] >= 3,
        timeout=60)
    return JOB


@pytest.fixture
def page(browser: Browser, running: RunningServer) -> Iterator[Page]:
    """A signed-in page that fails the test on any script error or console error."""
    context = signed_in(browser, running)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text)
           if message.type == "error" else None)
    yield tab
    context.close()
    assert not errors, errors


def new_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    return context


def signed_in(browser: Browser, running: RunningServer) -> BrowserContext:
    context = new_context(browser)
    answer = context.request.post(
        f"{running.url}/ui/api/session",
        data={"access_key_id": KEY_ID, "secret_access_key": SECRET},
    )
    assert answer.status == 200
    return context


def status_of(home: Path, name: str) -> str:
    return Workspace.open(home).store.get_tuning_job(name).status


def rows(page: Page) -> list[list[str]]:
    """The cells of the table, read at once (the page redraws it every two seconds)."""
    return page.evaluate(
        "[...document.querySelectorAll('table tbody tr')]"
        ".map((row) => [...row.cells].map((cell) => cell.innerText.trim()))")


def test_signing_in_takes_a_configured_key_pair(browser: Browser, running: RunningServer) -> None:
    context = new_context(browser)
    tab = context.new_page()
    tab.goto(f"{running.url}/ui")
    tab.wait_for_selector("form.login")
    tab.fill("input[name=access_key_id]", KEY_ID)
    tab.fill("input[name=secret_access_key]", "not-the-secret")
    tab.click("form.login button")
    tab.wait_for_selector("form.login .error:not([hidden])")
    assert "wrong secret" in tab.inner_text("form.login .error")
    assert tab.locator("table").count() == 0
    assert context.request.get(f"{running.url}/ui/api/jobs").status == 401
    screenshot(tab, "refused")

    tab.fill("input[name=secret_access_key]", SECRET)
    tab.click("form.login button")
    tab.wait_for_selector("h1:text('Tuning jobs')")
    assert context.request.get(f"{running.url}/ui/api/jobs").status == 200
    context.close()


def test_the_list_shows_the_running_job_live(page: Page, running: RunningServer,
                                             watched: str) -> None:
    page.goto(f"{running.url}/ui")
    row = page.locator("table tbody tr", has=page.locator(f"a:text-is('{watched}')"))
    row.wait_for()
    cells = row.locator("td")
    assert cells.nth(1).inner_text() == "InProgress"
    assert re.fullmatch(r"-?[0-9.e-]+ \(score\)", cells.nth(5).inner_text())
    done = cells.nth(3).inner_text()
    # The page reads the server again by itself: the count of finished training jobs moves.
    page.wait_for_function(
        "([name, before]) => [...document.querySelectorAll('table tbody tr')].some("
        "(row) => row.cells[0].innerText === name && row.cells[3].innerText !== before)",
        arg=[watched, done],
    )
    screenshot(page, "jobs")


def test_the_job_page_draws_the_linked_report_and_keeps_it_current(
    page: Page, running: RunningServer, watched: str
) -> None:
    page.goto(f"{running.url}/ui#/jobs/{watched}")
    points = page.locator(".vega-host svg g.mark-symbol path")
    points.first.wait_for()
    assert page.locator(".vega-host svg text", has_text="Tuning report: watched").count() == 1
    screenshot(page, "job")

    # Brushing a time range on the progress chart fades the training jobs outside it in every
    # chart, and holds the chart still until the range is cleared; then it follows the job again.
    area = brush(page)
    page.wait_for_function(
        "document.querySelectorAll('.vega-host svg g.mark-symbol path[opacity=\"0.12\"]')"
        ".length > 0")
    held = page.get_attribute(".vega-host", "data-version")
    screenshot(page, "job-brushed")
    page.mouse.dblclick(area["x"] + area["width"] * 0.6, area["y"] + area["height"] / 2)
    page.wait_for_selector(".vega-host .note[hidden]", state="attached")
    page.wait_for_function(
        "(held) => document.querySelector('.vega-host').dataset.version !== held", arg=held)


def brush(page: Page) -> dict[str, float]:
    """Drag across the first 30% of the progress chart; returns the chart's plot area. A drag
    that began on a chart replaced by a newer one a moment later is made again."""
    for attempt in range(3):
        area = page.evaluate(
            "(() => { const points = document.querySelector("
            "'.vega-host svg g.mark-symbol.role-mark');"
            " const plot = points.closest('g.role-scope').querySelector('path.background');"
            " const box = plot.getBoundingClientRect();"
            " return {x: box.x, y: box.y, width: box.width, height: box.height}; })()")
        y = area["y"] + area["height"] / 2
        page.mouse.move(area["x"] + 2, y)
        page.mouse.down()
        page.mouse.move(area["x"] + area["width"] * 0.3, y, steps=5)
        page.mouse.up()
        try:
            page.wait_for_selector(".vega-host .note:not([hidden])", timeout=5_000)
            return area
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    return area


def test_the_training_jobs_table_sorts_and_filters(page: Page, running: RunningServer,
                                                   watched: str) -> None:
    page.goto(f"{running.url}/ui#/jobs/{watched}")
    page.locator("table tbody tr").first.wait_for()
    header = page.locator("th", has_text="Objective")
    header.click()
    page.wait_for_selector("th.sorted.asc")

    def objectives() -> list[float]:
        return [float(r[2]) for r in rows(page) if r[2] != "—"]

    ascending = objectives()
    assert len(ascending) >= 3 and ascending == sorted(ascending)
    header.click()
    page.wait_for_selector("th.sorted:not(.asc)")
    descending = objectives()
    assert descending == sorted(descending, reverse=True)

    wanted = f"{watched}-002-"
    page.fill("input.filter", wanted)
    page.wait_for_function(
        "(wanted) => { const names = [...document.querySelectorAll('table tbody tr')]"
        ".map((row) => row.cells[0].innerText);"
        " return names.length === 1 && names[0].startsWith(wanted); }", arg=wanted)
    # The filter and the order survive the page's own refresh.
    updated = page.inner_text("#status")
    page.wait_for_function(
        "(updated) => document.getElementById('status').textContent !== updated", arg=updated)
    names = [r[0] for r in rows(page)]
    assert len(names) == 1 and names[0].startswith(wanted)
    assert page.input_value("input.filter") == wanted
    screenshot(page, "training-jobs-filtered")


def test_a_training_job_page_shows_its_log_and_metric_curves(
    page: Page, running: RunningServer, watched: str
) -> None:
    page.goto(f"{running.url}/ui#/jobs/{watched}")
    first = page.locator("table tbody tr td a").first
    name = first.inner_text()
    first.click()
    page.wait_for_selector(f"h1:has-text('{name}')")
    page.wait_for_function(
        "document.querySelector('pre.log').textContent.includes('score:')")
    log = page.inner_text("pre.log")
    assert log.count("loss:") == 4
    lines = page.locator(".vega-host svg g.mark-line path")
    lines.first.wait_for()
    assert lines.count() == 2  # loss and score, one panel each
    titles = page.locator(".vega-host svg text").all_text_contents()
    assert "loss" in titles and "score" in titles
    screenshot(page, "training-job")


def test_the_stop_button_stops_the_job_and_its_training_processes(
    page: Page, running: RunningServer, watched: str, source: Path
) -> None:
    page.goto(f"{running.url}/ui#/jobs/{watched}")
    stop = page.locator("h1 button.stop")
    stop.wait_for()
    assert status_of(running.home, watched) == "InProgress"
    stop.click()
    wait_for(lambda: status_of(running.home, watched) == "Stopped", timeout=60)
    page.wait_for_selector("h1 .Stopped")
    assert page.locator("h1 button.stop").is_disabled()
    store = Workspace.open(running.home).store
    pids = [t.pid for t in store.training_jobs(watched) if t.pid is not None]
    assert pids and not [pid for pid in pids if process_running(pid)]
    leftovers = [
        p.pid for p in psutil.process_iter(["cmdline"])
        if any(str(source) in part for part in p.info["cmdline"] or [])
    ]
    assert not leftovers
    assert all(t.status in ("Completed", "Stopped") for t in store.training_jobs(watched))
    screenshot(page, "stopped")


def test_the_list_links_the_standalone_training_jobs(
    page: Page, running: RunningServer, sagemaker: Any, source: Path,
    tmp_path_factory: pytest.TempPathFactory, watched: str
) -> None:
    page.goto(f"{running.url}/ui")
    page.locator("[data-table=jobs] tbody tr").first.wait_for()
    assert page.locator("[data-table=standalone]").count() == 0
    sagemaker.create_training_job(**training_job_request(
        "on-its-own", source, tmp_path_factory.mktemp("alone-output"), x="0.3"))
    # The page reads the server again by itself and adds the table.
    link = page.locator("[data-table=standalone] tbody tr td a:text-is('on-its-own')")
    link.wait_for()
    assert page.locator("[data-table=standalone] tbody tr").count() == 1
    assert page.locator(f"[data-table=standalone] a:text-is('{watched}-001')").count() == 0
    screenshot(page, "standalone")
    link.click()
    page.wait_for_selector("h1:has-text('on-its-own')")
    page.wait_for_function(
        "document.querySelector('pre.log').textContent.includes('score:')")
    assert page.inner_text("dl.facts dd") == "—"  # no tuning job
