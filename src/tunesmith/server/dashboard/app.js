// The tunesmith dashboard: three views read from /ui/api every two seconds, drawn with the DOM;
// charts are Vega-Lite specs drawn by vega-embed (served by this server, nothing loaded from
// elsewhere). Data is only ever set as text.
// A module: the Vega bundle, a classic script, fills the global scope with its own names.

const REFRESH_MS = 2000;
const view = document.getElementById("view");
const statusLine = document.getElementById("status");
let timer = null;
let shown = 0;  // counts calls of show(): only the latest one draws and schedules the next
const tableState = {};  // per table: {key, ascending, filter}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
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
    const th = el("th", {}, column.label);
    th.addEventListener("click", () => {
      state.ascending = state.key === i ? !state.ascending : true;
      state.key = i;
      refreshBody();
    });
    return th;
  }));
  const body = el("tbody");
  function refreshBody() {
    [...head.children].forEach((th, i) => {
      th.className = state.key === i ? `sorted${state.ascending ? " asc" : ""}` : "";
    });
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
  return el("div", { "data-table": id }, filter, el("table", {}, el("thead", {}, head), body));
}

// -- charts: Vega-Lite, drawn by the bundle this server serves --------------------------------

const EMBED_OPTIONS = {
  renderer: "svg",
  ast: true,            // Vega's expression interpreter: the page's policy allows no eval
  defaultStyle: false,  // nor inline style elements; style.css styles the actions menu
  tooltip: { disableDefaultStyle: true },
  actions: { export: true, source: false, compiled: false, editor: false },
};
// The one chart on screen, kept across refreshes: {key, host, note, version, embedded}.
let live = null;

function chartHost(key) {
  if (live?.key !== key) {
    live?.embedded?.finalize();
    const note = el("p", { class: "muted note", hidden: "" },
      "Updates paused while a range is selected; double-click the chart to clear it.");
    live = { key, host: el("div", { class: "vega-host", "data-chart": key }, note), note,
             version: null, embedded: null };
  }
  return live.host;
}

async function draw(chart, spec, version) {
  const holder = el("div");
  const embedded = await vegaEmbed(holder, spec, EMBED_OPTIONS);
  // The reader moved on, or brushed the drawn chart, while this one was being drawn.
  if (live !== chart || brushing(chart)) {
    embedded.finalize();
    if (live === chart) chart.note.hidden = false;
    return;
  }
  chart.embedded?.finalize();
  chart.host.replaceChildren(chart.note, holder);
  chart.embedded = embedded;
  try {
    embedded.view.addDataListener("brush_store", (_, tuples) => { chart.note.hidden = !tuples.length; });
  } catch { /* a chart without a brush */ }
  chart.version = version;
  chart.host.dataset.version = version;
}

// Whether the reader holds a brushed range: a newer chart would drop it, so it waits.
function brushing(chart) {
  try {
    return chart.embedded?.view.data("brush_store").length > 0;
  } catch {
    return false;  // a chart without a brush
  }
}

// A tuning job's report, fetched again only when the server has a newer one.
async function refreshReport(name) {
  const chart = live;
  chart.note.hidden = !brushing(chart);
  if (!chart.note.hidden) return;
  const response = await fetch(`/ui/api/jobs/${encodeURIComponent(name)}/report`, {
    credentials: "same-origin", cache: "no-store",
    headers: chart.version ? { "If-None-Match": chart.version } : {} });
  if (response.status === 401) throw { login: true };
  if (response.status === 304) return;
  if (!response.ok) { const body = await response.json(); throw new Error(`${body.__type}: ${body.message}`); }
  const version = response.headers.get("ETag");
  const spec = await response.json();
  if (version !== chart.version) await draw(chart, spec, version);
}

function metricsSpec(points, start) {
  return {
    data: { values: points.map((p) => ({ metric: p.Metric, step: p.Step + 1, seconds: p.Timestamp - start, value: p.Value })) },
    facet: { field: "metric", type: "nominal", title: null, header: { labelFontSize: 12, labelFontWeight: "bold" } },
    columns: 2,
    spec: {
      width: 380, height: 200,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "seconds", type: "quantitative", title: "seconds since the training job started" },
        y: { field: "value", type: "quantitative", title: null, scale: { zero: false, padding: 8 },
             axis: { format: "~g" } },
        tooltip: [{ field: "metric" }, { field: "step", title: "value number" },
                  { field: "seconds", format: ".1f" }, { field: "value", format: ".6~g" }],
      },
    },
    resolve: { scale: { y: "independent", x: "independent" } },
  };
}

// A training job's metric curves, drawn again only when values were added.
async function refreshMetrics(points, start) {
  const chart = live;
  const version = `${points.length}:${points.length ? points[points.length - 1].Timestamp : ""}`;
  if (version !== chart.version) await draw(chart, metricsSpec(points, start), version);
}

// -- views ----------------------------------------------------------------------------------

// Columns of both training job tables: a tuning job's, and the standalone ones on the list.
const TRAINING_JOB = { label: "Training job", value: (s) => s.TrainingJobName,
  cell: (s) => link(`#/training-jobs/${encodeURIComponent(s.TrainingJobName)}`, s.TrainingJobName) };
const TRAINING_STATUS = { label: "Status", value: (s) => s.TrainingJobStatus, cell: (s) => status(s.TrainingJobStatus) };
const TRAINING_DURATION = { label: "Duration", numeric: true,
  value: (s) => s.TrainingStartTime && ((s.TrainingEndTime || Date.now() / 1000) - s.TrainingStartTime),
  cell: (s) => duration(s.TrainingStartTime, s.TrainingEndTime) };
const FAILURE_REASON = { label: "Failure reason", value: (s) => s.FailureReason };

async function jobsView() {
  const [{ HyperParameterTuningJobSummaries: jobs }, { TrainingJobSummaries: alone }] =
    await Promise.all([api("jobs"), api("training-jobs")]);
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
  ], jobs),
  // Training jobs created on their own (CreateTrainingJob); a tuning job's are on its page.
  alone.length ? [el("h2", {}, "Standalone training jobs"), table("standalone", [
    TRAINING_JOB, TRAINING_STATUS,
    { label: "Secondary status", value: (s) => s.SecondaryStatus },
    { label: "Created", value: (s) => s.CreationTime, cell: (s) => when(s.CreationTime) },
    TRAINING_DURATION, FAILURE_REASON,
  ], alone)] : []);
}

function finished(c) { return c.Completed + c.Stopped + c.RetryableError + c.NonRetryableError; }

async function jobView(name, after) {
  const { Description: d, TrainingJobSummaries: summaries } = await api(`jobs/${encodeURIComponent(name)}`);
  const stop = stopButton(`jobs/${encodeURIComponent(name)}/stop`, d.HyperParameterTuningJobStatus);
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
    el("h2", {}, "Charts"), chartHost(`job:${name}`),
    el("h2", {}, "Training jobs"), table(`training-jobs:${name}`, [
      TRAINING_JOB, TRAINING_STATUS,
      { label: "Objective", numeric: true, value: (s) => s.FinalHyperParameterTuningJobObjectiveMetric?.Value,
        cell: (s) => number(s.FinalHyperParameterTuningJobObjectiveMetric?.Value) },
      { label: "Hyperparameters", value: (s) => Object.entries(s.TunedHyperParameters || {}).map(([k, v]) => `${k}=${v}`).join(" ") },
      { label: "Started", value: (s) => s.TrainingStartTime, cell: (s) => when(s.TrainingStartTime) },
      TRAINING_DURATION, FAILURE_REASON,
    ], summaries));
}

function stopButton(path, jobStatus) {
  const stop = el("button", { class: "stop", on: { click: async () => {
    stop.disabled = true;
    try {
      await api(path, { method: "POST", headers: { "x-tunesmith-dashboard": "1" } });
    } catch (error) {
      statusLine.textContent = String(error.message || error);
    }
    show();
  } } }, "Stop");
  stop.disabled = jobStatus !== "InProgress";
  return stop;
}

async function trainingJobView(name, after) {
  const { Description: d, Metrics: metrics, Log: log, TuningJobName: tuningJob } =
    await api(`training-jobs/${encodeURIComponent(name)}`);
  const hyperparameters = Object.entries(d.HyperParameters || {});
  const previous = view.querySelector("pre.log");
  const following = !previous || previous.scrollTop + previous.clientHeight >= previous.scrollHeight - 4;
  const pre = el("pre", { class: "log" }, log || "(no output yet)");
  after.push(() => { pre.scrollTop = following ? pre.scrollHeight : previous.scrollTop; });
  const start = d.TrainingStartTime ?? (metrics.length ? Math.min(...metrics.map((p) => p.Timestamp)) : 0);
  if (metrics.length) after.push(() => refreshMetrics(metrics, start));
  // A tuning job's training jobs are stopped with their tuning job, as in SageMaker.
  const stop = tuningJob ? null : stopButton(`training-jobs/${encodeURIComponent(name)}/stop`, d.TrainingJobStatus);
  return el("div", {},
    el("h1", {}, name, " ", status(d.TrainingJobStatus), stop ? [" ", stop] : []),
    el("dl", { class: "facts" },
      el("dt", {}, "Tuning job"), el("dd", {}, tuningJob ? link(`#/jobs/${encodeURIComponent(tuningJob)}`, tuningJob) : "—"),
      el("dt", {}, "Secondary status"), el("dd", {}, d.SecondaryStatus ?? "—"),
      el("dt", {}, "Started"), el("dd", {}, when(d.TrainingStartTime)),
      el("dt", {}, "Duration"), el("dd", {}, duration(d.TrainingStartTime, d.TrainingEndTime)),
      hyperparameters.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
      d.FailureReason ? [el("dt", {}, "Failure reason"), el("dd", { class: "error" }, d.FailureReason)] : []),
    el("h2", {}, "Metrics"),
    metrics.length ? chartHost(`training-job:${name}`) : el("p", { class: "muted" }, "No metric values yet."),
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
  const call = ++shown;
  const after = [];  // what the view draws once its content is on the page
  const [, kind, name] = decodeURI(location.hash).match(/^#\/(jobs|training-jobs)\/(.+)$/) || [];
  if (kind === "jobs") after.push(() => refreshReport(decodeURIComponent(name)));
  try {
    const content = kind === "jobs" ? await jobView(decodeURIComponent(name), after)
      : kind === "training-jobs" ? await trainingJobView(decodeURIComponent(name), after)
      : await jobsView();
    if (call !== shown) return;
    const focused = document.activeElement?.classList.contains("filter") ? document.activeElement : null;
    const caret = focused?.selectionStart;
    view.replaceChildren(content);
    if (focused) {
      const again = view.querySelector("input.filter");
      again?.focus();
      again?.setSelectionRange(caret, caret);
    }
    if (live && !live.host.isConnected) { live.embedded?.finalize(); live = null; }
    for (const draw of after) {
      await draw();
      if (call !== shown) return;
    }
    statusLine.textContent = `updated ${new Date().toLocaleTimeString()}`;
    timer = setTimeout(show, REFRESH_MS);
  } catch (error) {
    if (call !== shown) return;
    if (error.login) { view.replaceChildren(loginView()); statusLine.textContent = ""; return; }
    statusLine.textContent = String(error.message || error);
    timer = setTimeout(show, REFRESH_MS);
  }
}

window.addEventListener("hashchange", show);
show();
