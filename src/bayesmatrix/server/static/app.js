const $ = (id) => document.getElementById(id);
let trace = null, task = null, demos = 0;

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const data = await res.json();
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}
// one request at a time: the buttons are disabled and a busy line is shown while it runs,
// so a click made meanwhile is not lost half-way (it cannot be made at all)
let pending = 0;
async function busy(what, work) {
  pending += 1;
  document.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  $("busy").textContent = what;
  document.body.dataset.busy = "1";
  try { return await work(); } finally {
    pending -= 1;
    if (pending === 0) {
      document.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      $("busy").textContent = "";
      delete document.body.dataset.busy;
    }
  }
}
function shown(token) { return token.replace(/\n/g, "\\n").replace(/^ /, "\u2423"); }
function colour(bits) {
  if (bits === null) return "#ffffff";
  const t = Math.min(1, bits / 15);
  return `rgb(255, ${Math.round(255 * (1 - t))}, ${Math.round(255 * (1 - t))})`;
}

async function doTrace() {
  $("error").textContent = "";
  try {
    trace = await api("/api/trace", {model: $("model").value, prompt: $("prompt").value,
                                     top_k: parseInt($("topk").value)});
  } catch (e) { $("error").textContent = e.message; return; }
  const n = trace.tokens.length;
  $("tokens").innerHTML = "";
  trace.tokens.forEach((tok, i) => {
    const s = document.createElement("span");
    s.textContent = shown(tok);
    const surprisal = i > 0 ? trace.surprisal_bits[i - 1] : null;
    s.style.background = colour(surprisal);
    s.title = surprisal === null ? "first token" : `surprisal ${surprisal.toFixed(2)} bits`;
    s.dataset.position = i;
    s.onclick = () => showRow(i);
    $("tokens").appendChild(s);
  });
  const x = trace.tokens.map((t, i) => `${i}:${shown(t)}`);
  Plotly.newPlot("trace-chart", [
    {type: "bar", x, y: trace.topk.map((r) => r[0].prob), name: "top-1 next token",
     text: trace.topk.map((r) => r[0].token.trim() || shown(r[0].token)), textposition: "outside",
     marker: {color: "#1f77b4"}},
    {type: "scatter", mode: "lines+markers", x, y: trace.entropy_bits, yaxis: "y2",
     name: "entropy of row (bits)", line: {color: "#d62728"}},
  ], {title: {text: "most likely next token at each position"}, yaxis: {title: {text: "probability"}, range: [0, 1.15]},
      xaxis: {title: {text: "position: token"}, tickangle: -40, automargin: true},
      yaxis2: {title: {text: "bits"}, overlaying: "y", side: "right"},
      legend: {orientation: "h", x: 0, y: 1.0, yanchor: "bottom"},  // above the plot: clear of the angled ticks
      margin: {t: 80}}, {displayModeBar: false});
  $("trace-chart").on("plotly_click", (ev) => showRow(ev.points[0].pointIndex));
  showRow(n - 1);
}

function showRow(i) {
  document.querySelectorAll("#tokens span").forEach((s) =>
    s.classList.toggle("selected", parseInt(s.dataset.position) === i));
  const row = trace.topk[i].slice().reverse();
  Plotly.newPlot("row-chart", [{type: "bar", orientation: "h", x: row.map((r) => r.prob),
      y: row.map((r, j) => `${row.length - j}. ${shown(r.token)}`), marker: {color: "#2ca02c"}}],
    {title: {text: `row after token ${i} (${shown(trace.tokens[i])}): entropy ${trace.entropy_bits[i].toFixed(2)} bits`},
     xaxis: {title: {text: "probability"}, range: [0, 1]}, margin: {l: 160, t: 40}}, {displayModeBar: false});
  $("row-chart").dataset.position = i;
}

function labelWords() {
  const mode = $("labels").value;
  if (mode === "flip") return {positive: "negative", negative: "positive"};
  if (mode === "sul") return {positive: "foo", negative: "bar"};
  return task.label_words;
}

async function addDemo() {
  $("error").textContent = "";
  if (!task) task = await api("/api/task/sentiment");
  demos = Math.min(demos + 1, task.examples.length);
  let out;
  try {
    out = await api("/api/icl", {model: $("model").value, demos: task.examples.slice(0, demos),
                                 label_words: labelWords(), template: task.template,
                                 instruction: task.instruction});
  } catch (e) { $("error").textContent = e.message; return; }
  const mass = ` (label words' share of the next-token mass before any demonstration: ${(100 * out.label_mass_k0).toFixed(1)}%)`;
  $("kappa").textContent = (out.kappa_at_bound
    ? "fitted kappa > 10^4: no measurable updating yet (the curve is the zero-shot prior)"
    : `fitted kappa = ${out.kappa.toFixed(2)} pseudo-counts`) + mass;
  Plotly.newPlot("icl-chart", [
    {x: out.k, y: out.p_label, mode: "lines+markers", name: "model: P(demo label)"},
    {x: out.k, y: out.bayes_fit, mode: "lines", line: {dash: "dash"}, name: "Beta-Bernoulli fit"},
    {x: out.k, y: out.zero_shot, mode: "lines", line: {dash: "dot", color: "grey"}, name: "zero-shot"},
  ], {xaxis: {title: {text: "demonstrations seen k"}, dtick: 1},
      yaxis: {title: {text: "probability"}, range: [0, 1]},
      legend: {orientation: "h", x: 0, y: 1.0, yanchor: "bottom"}, margin: {t: 50}},
     {displayModeBar: false});
}

$("trace").onclick = () => busy("tracing…", doTrace);
$("add").onclick = () => busy("reading the model's labels…", addDemo);
$("reset").onclick = () => { demos = 0; Plotly.purge("icl-chart"); $("kappa").textContent = ""; };
$("labels").onchange = () => {
  if (demos > 0 && !pending) { demos -= 1; busy("reading the model's labels…", addDemo); }
};
// first load: the default prompt is traced at once, so the page is never blank
api("/api/models").then(async (m) => {
  m.models.forEach((name) => { const o = document.createElement("option"); o.textContent = name; $("model").appendChild(o); });
  await busy("tracing…", doTrace);
  document.body.dataset.ready = "1";
});
