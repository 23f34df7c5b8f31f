// The tunesmith dashboard: three views read from /ui/api every two seconds, drawn with the DOM
// and inline SVG (no library, nothing loaded from elsewhere). Data is only ever set as text.
"use strict";

const REFRESH_MS = 2000;
const COLORS = { Completed: "#15803d", Failed: "#b91c1c", Stopped: "#b45309",
                 InProgress: "#2563eb", Stopping: "#b45309" };
const view = document.getElementById("view");
const statusLine = document.getElementById("status");
let timer = null;
const tableState = {};  // per table: {key, ascending, filter}

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function when(seconds) { return seconds ? new Date(seconds * 1000).toLocaleString() : "—"; }
function number(value) { return value === undefined || value === null ? "—" : Number(value).toPrecision(6); }
function duration(start, end) {
  if (!start) return "—";
  const seconds = Math.round((end || Date.now() / 1000) - start);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}
function link(hash, text) { return el("a", { href: hash }, text); }
function status(text) { return el("span", { class: text }, text); }

async function api(path, options = {}) {
  const response = await fetch(`/ui/api/${path}`, { credentials: "same-origin", ...options });
  const body = await response.json();
  if (response.status === 401) throw { login: true };
  if (!response.ok) throw new Error(`${body.__type}: ${body.message}`);
  return body;
}

// -- tables: sortable by any column, filtered by a text box -----------------------------------

function table(id, columns, rows) {
  const state = tableState[id] || (tableState[id] = { key: null, ascending: true, filter: "" });
  const filter = el("input", { class: "filter", placeholder: "Filter", value: state.filter });
  filter.addEventListener("input", () => { state.filter = filter.value; refreshBody(); });
  const head = el("tr", {}, columns.map((column, i) => {
    const th = el("th", { class: state.key === i ? `sorted ${state.ascending ? "asc" : ""}` : "" },
                  column.label);
    th.addEventListener("click", () => {
      state.ascending = state.key === i ? !state.ascending : true;
      state.key = i;
      show();
    });
    return th;
  }));
  const body = el("tbody");
  function refreshBody() {
    const needle = state.filter.toLowerCase();
    let shown = rows.filter((row) => !needle || columns.some(
      (c) => String(c.text ? c.text(row) : c.value(row) ?? "").toLowerCase().includes(needle)));
    if (state.key !== null) {
      const value = columns[state.key].value;
      shown = [...shown].sort((a, b) => {
        const x = value(a), y = value(b);
        if (x === y) return 0;
        if (x === undefined || x === null) return 1;
        if (y === undefined || y === null) return -1;
        return (x < y ? -1 : 1) * (state.ascending ? 1 : -1);
      });
    }
    body.replaceChildren(...shown.map((row) => el("tr", {}, columns.map(
      (c) => el("td", { class: c.numeric ? "num" : "" }, c.cell ? c.cell(row) : c.value(row) ?? "—")))));
  }
  refreshBody();
  return el("div", {}, filter, el("table", {}, el("thead", {}, head), body));
}

// -- charts ---------------------------------------------------------------------------------

function chart(title, series, { xLabel = "", yLabel = "", width = 520, height = 260 } = {}) {
  const pad = { left: 56, right: 12, top: 24, bottom: 34 };
  const points = series.flatMap((s) => s.points);
  const svg = el("svg:svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}` });
  svg.append(el("svg:text", { x: pad.left, y: 15, class: "title" }, title));
  if (!points.length) {
    svg.append(el("svg:text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "no values yet"));
    return svg;
  }
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => pad.left + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const sy = (y) => height - pad.bottom - (y1 === y0 ? 0.5 : (y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  for (const [value, y] of [[y0, sy(y0)], [y1, sy(y1)]]) {
    svg.append(el("svg:text", { x: pad.left - 4, y: y + 3, "text-anchor": "end" }, number(value)));
  }
  svg.append(el("svg:text", { x: pad.left, y: height - 18 }, number(x0)));
  svg.append(el("svg:text", { x: width - pad.right, y: height - 18, "text-anchor": "end" }, number(x1)));
  svg.append(el("svg:text", { x: (width + pad.left) / 2, y: height - 4, "text-anchor": "middle" }, xLabel));
  svg.append(el("svg:text", { x: 4, y: pad.top - 4 }, yLabel));
  svg.append(el("svg:rect", { x: pad.left, y: pad.top, width: width - pad.left - pad.right,
                              height: height - pad.top - pad.bottom, fill: "none", stroke: "#e5e7eb" }));
  for (const s of series) {
    if (s.line) {
      const d = s.points.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
      svg.append(el("svg:path", { d, fill: "none", stroke: s.color, "stroke-width": 1.5 }));
    } else {
      for (const p of s.points) {
        svg.append(el("svg:circle", { cx: sx(p[0]), cy: sy(p[1]), r: 3.5, fill: s.color, "fill-opacity": 0.8 },
                      el("svg:title", {}, p[2] ?? "")));
      }
    }
  }
  return svg;
}

function objectiveCharts(description, summaries) {
  const objective = description.HyperParameterTuningJobConfig.HyperParameterTuningJobObjective;
  const better = objective.Type === "Maximize" ? Math.max : Math.min;
  const scored = summaries
    .map((s, i) => ({ s, i: i + 1, value: s.FinalHyperParameterTuningJobObjectiveMetric?.Value }))
    .filter((p) => p.value !== undefined);
  const byStatus = {};
  for (const p of scored) {
    (byStatus[p.s.TrainingJobStatus] ||= []).push([p.i, p.value, p.s.TrainingJobName]);
  }
  let best = null;
  const bestLine = scored.map((p) => [p.i, best = best === null ? p.value : better(best, p.value)]);
  const charts = [chart(`${objective.MetricName} by training job`, [
    ...Object.entries(byStatus).map(([st, points]) => ({ points, color: COLORS[st] || "#6b7280" })),
    { points: bestLine, color: "#111827", line: true },
  ], { xLabel: "training job (launch order)", yLabel: `${objective.Type} ${objective.MetricName}` })];
  const names = [...new Set(summaries.flatMap((s) => Object.keys(s.TunedHyperParameters || {})))].sort();
  for (const name of names) {
    const values = scored.map((p) => p.s.TunedHyperParameters[name]);
    const numeric = values.every((v) => v !== "" && !Number.isNaN(Number(v)));
    const categories = [...new Set(values)].sort();
    const points = scored.map((p, k) => [numeric ? Number(values[k]) : categories.indexOf(values[k]),
                                         p.value, `${p.s.TrainingJobName}: ${name}=${values[k]}`]);
    charts.push(chart(`${objective.MetricName} by ${name}`, [{ points, color: "#2563eb" }],
                      { xLabel: numeric ? name : `${name} (${categories.join(", ")})`,
                        yLabel: objective.MetricName, width: 340, height: 220 }));
  }
  return el("div", { class: "charts" }, charts);
}

// -- views ----------------------------------------------------------------------------------

async function jobsView() {
  const { HyperParameterTuningJobSummaries: jobs } = await api("jobs");
  return el("div", {}, el("h1", {}, "Tuning jobs"), table("jobs", [
    { label: "Tuning job", value: (j) => j.HyperParameterTuningJobName,
      cell: (j) => link(`#/jobs/${encodeURIComponent(j.HyperParameterTuningJobName)}`, j.HyperParameterTuningJobName) },
    { label: "Status", value: (j) => j.HyperParameterTuningJobStatus,
      cell: (j) => status(j.HyperParameterTuningJobStatus) },
    { label: "Strategy", value: (j) => j.Strategy },
    { label: "Done", numeric: true, value: (j) => finished(j.TrainingJobStatusCounters),
      text: (j) => `${finished(j.TrainingJobStatusCounters)}/${j.ResourceLimits?.MaxNumberOfTrainingJobs ?? "—"}` ,
      cell: (j) => `${finished(j.TrainingJobStatusCounters)}/${j.ResourceLimits?.MaxNumberOfTrainingJobs ?? "—"}` },
    { label: "Running", numeric: true, value: (j) => j.TrainingJobStatusCounters.InProgress },
    { label: "Best objective", numeric: true, value: (j) => j.BestObjectiveValue,
      cell: (j) => j.BestObjectiveValue === null ? "—" : `${number(j.BestObjectiveValue)} (${j.Objective.MetricName})` },
    { label: "Created", value: (j) => j.CreationTime, cell: (j) => when(j.CreationTime) },
  ], jobs));
}

function finished(c) { return c.Completed + c.Stopped + c.RetryableError + c.NonRetryableError; }

async function jobView(name) {
  const { Description: d, TrainingJobSummaries: summaries } = await api(`jobs/${encodeURIComponent(name)}`);
  const running = ["InProgress"].includes(d.HyperParameterTuningJobStatus);
  const stop = el("button", { class: "stop", on: { click: async () => {
    stop.disabled = true;
    await api(`jobs/${encodeURIComponent(name)}/stop`, { method: "POST", headers: { "x-tunesmith-dashboard": "1" } });
    show();
  } } }, "Stop");
  stop.disabled = !running;
  const c = d.TrainingJobStatusCounters;
  const best = d.BestTrainingJob;
  return el("div", {},
    el("h1", {}, name, " ", status(d.HyperParameterTuningJobStatus), " ", stop),
    el("dl", { class: "facts" },
      el("dt", {}, "Strategy"), el("dd", {}, d.HyperParameterTuningJobConfig.Strategy),
      el("dt", {}, "Training jobs"), el("dd", {}, `${c.Completed} completed, ${c.InProgress} running, ${c.Stopped} stopped, ${c.RetryableError + c.NonRetryableError} failed`),
      el("dt", {}, "Best"), el("dd", {}, best
        ? [link(`#/training-jobs/${encodeURIComponent(best.TrainingJobName)}`, best.TrainingJobName), ` ${number(best.FinalHyperParameterTuningJobObjectiveMetric.Value)}`]
        : "—"),
      el("dt", {}, "Created"), el("dd", {}, when(d.CreationTime)),
      el("dt", {}, "Ended"), el("dd", {}, when(d.HyperParameterTuningEndTime)),
      d.FailureReason ? [el("dt", {}, "Failure reason"), el("dd", { class: "error" }, d.FailureReason)] : []),
    el("h2", {}, "Objective"), objectiveCharts(d, summaries),
    el("h2", {}, "Training jobs"), table(`training-jobs:${name}`, [
      { label: "Training job", value: (s) => s.TrainingJobName,
        cell: (s) => link(`#/training-jobs/${encodeURIComponent(s.TrainingJobName)}`, s.TrainingJobName) },
      { label: "Status", value: (s) => s.TrainingJobStatus, cell: (s) => status(s.TrainingJobStatus) },
      { label: "Objective", numeric: true, value: (s) => s.FinalHyperParameterTuningJobObjectiveMetric?.Value,
        cell: (s) => number(s.FinalHyperParameterTuningJobObjectiveMetric?.Value) },
      { label: "Hyperparameters", value: (s) => Object.entries(s.TunedHyperParameters || {}).map(([k, v]) => `${k}=${v}`).join(" ") },
      { label: "Started", value: (s) => s.TrainingStartTime, cell: (s) => when(s.TrainingStartTime) },
      { label: "Duration", numeric: true, value: (s) => s.TrainingStartTime && ((s.TrainingEndTime || Date.now() / 1000) - s.TrainingStartTime),
        cell: (s) => duration(s.TrainingStartTime, s.TrainingEndTime) },
      { label: "Failure reason", value: (s) => s.FailureReason },
    ], summaries));
}

async function trainingJobView(name) {
  const { Description: d, Metrics: metrics, Log: log, TuningJobName: tuningJob } =
    await api(`training-jobs/${encodeURIComponent(name)}`);
  const hyperparameters = Object.entries(d.HyperParameters || {});
  const pre = el("pre", { class: "log" }, log || "(no output yet)");
  requestAnimationFrame(() => { pre.scrollTop = pre.scrollHeight; });
  return el("div", {},
    el("h1", {}, name, " ", status(d.TrainingJobStatus)),
    el("dl", { class: "facts" },
      el("dt", {}, "Tuning job"), el("dd", {}, tuningJob ? link(`#/jobs/${encodeURIComponent(tuningJob)}`, tuningJob) : "—"),
      el("dt", {}, "Secondary status"), el("dd", {}, d.SecondaryStatus ?? "—"),
      el("dt", {}, "Started"), el("dd", {}, when(d.TrainingStartTime)),
      el("dt", {}, "Duration"), el("dd", {}, duration(d.TrainingStartTime, d.TrainingEndTime)),
      hyperparameters.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
      d.FailureReason ? [el("dt", {}, "Failure reason"), el("dd", { class: "error" }, d.FailureReason)] : []),
    el("h2", {}, "Metrics"),
    el("div", { class: "charts" }, Object.entries(metrics).map(([metric, points]) =>
      chart(metric, [{ points, color: "#2563eb", line: true }], { xLabel: "step", yLabel: metric, width: 400, height: 220 }))),
    el("h2", {}, "Log"), pre);
}

function loginView() {
  const form = document.getElementById("login").content.firstElementChild.cloneNode(true);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const response = await fetch("/ui/api/session", { method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json" }, body: JSON.stringify(data) });
    if (response.ok) { show(); return; }
    const error = form.querySelector(".error");
    error.textContent = (await response.json()).message;
    error.hidden = false;
  });
  return form;
}

async function show() {
  clearTimeout(timer);
  const [, kind, name] = decodeURI(location.hash).match(/^#\/(jobs|training-jobs)\/(.+)$/) || [];
  try {
    const content = kind === "jobs" ? await jobView(decodeURIComponent(name))
      : kind === "training-jobs" ? await trainingJobView(decodeURIComponent(name))
      : await jobsView();
    const focused = document.activeElement?.classList.contains("filter") ? document.activeElement : null;
    const caret = focused?.selectionStart;
    view.replaceChildren(content);
    if (focused) {
      const again = view.querySelector("input.filter");
      again?.focus();
      again?.setSelectionRange(caret, caret);
    }
    statusLine.textContent = `updated ${new Date().toLocaleTimeString()}`;
    timer = setTimeout(show, REFRESH_MS);
  } catch (error) {
    if (error.login) { view.replaceChildren(loginView()); statusLine.textContent = ""; return; }
    statusLine.textContent = String(error.message || error);
    timer = setTimeout(show, REFRESH_MS);
  }
}

window.addEventListener("hashchange", show);
show();
