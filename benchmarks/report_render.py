"""Time a tunesmith report of a 10,000-trial tuning job and measure the HTML it writes.

Prints one table: building the chart, writing the self-contained HTML (the first report of the
process, which reads the Vega JavaScript bundle from the cache folder or builds it; a second
report), their CPU time (wall time grows with other load on the machine), and the file size,
against the goals of 5 s and 15 MB. Writes the table under benchmarks/results/.

    python benchmarks/report_render.py [--trials 10000] [--advanced]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tunesmith.viz.charts import build_report
from tunesmith.viz.demo import synthetic_tuning_job
from tunesmith.viz.export import save_report

GOAL_SECONDS = 5.0
GOAL_MEGABYTES = 15.0


def _render(jobs: list, advanced: bool, path: Path) -> tuple[float, float, float]:
    """Seconds to build the chart, to build and write the HTML, and the CPU time of both."""
    started, cpu = time.perf_counter(), time.process_time()
    chart = build_report(jobs, advanced=advanced)
    built = time.perf_counter()
    save_report(chart, path)
    return built - started, time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--advanced", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    job = synthetic_tuning_job(
        "bench", "Bayesian", n_trials=args.trials, max_parallel=args.parallel, seed=7
    )
    metric_rows = 0 if job.metrics is None else len(job.metrics)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.html"
        _, cold_total, cold_cpu = _render([job], args.advanced, path)
        warm_build, warm_total, warm_cpu = _render([job], args.advanced, path)
        megabytes = path.stat().st_size / 1e6

    def goal(value: float, limit: float) -> str:
        return f"goal ≤ {limit:g}: ratio {value / limit:.2f}"

    rows = [
        ("training jobs", f"{args.trials:,}", ""),
        ("metric values", f"{metric_rows:,}", ""),
        ("build chart (s)", f"{warm_build:.2f}", ""),
        ("HTML, first report of process (s)", f"{cold_total:.2f}", goal(cold_total, GOAL_SECONDS)),
        ("  of which CPU (s)", f"{cold_cpu:.2f}", ""),
        ("HTML, later reports (s)", f"{warm_total:.2f}", goal(warm_total, GOAL_SECONDS)),
        ("  of which CPU (s)", f"{warm_cpu:.2f}", ""),
        ("HTML size (MB)", f"{megabytes:.2f}", goal(megabytes, GOAL_MEGABYTES)),
        ("load average (1 min)", f"{os.getloadavg()[0]:.1f}", "other work on the machine"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"report of a {args.trials:,}-trial job (advanced={args.advanced})", ""]
    lines += [f"{name:<{width}}  {value:>10}  {goal}" for name, value, goal in rows]
    table = "\n".join(lines)
    print(table)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "report_render.txt").write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
