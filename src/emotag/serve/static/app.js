// emotag web page: plain JavaScript, no build step, no third-party code, so it runs offline
// from `emotag serve` exactly as checked in.
//
// It talks to the JSON API only (GET /v1/labels once, POST /v1/predict per analysis) and builds
// every node with textContent, never innerHTML, because the text being analysed is user input.
"use strict";

(() => {
  const API_LABELS = "/v1/labels";
  const API_PREDICT = "/v1/predict";
  // Used only when a label's or group's threshold is in neither the answer nor /v1/labels.
  const DEFAULT_THRESHOLD = 0.5;
  // Words whose |weight| is under this share of the largest one are left uncoloured.
  const MIN_STRENGTH = 0.05;

  const $ = (id) => document.getElementById(id);
  const form = $("predict-form");
  const textInput = $("text-input");
  const thresholdInput = $("threshold-input");
  const explainInput = $("explain-input");
  const tokenBlock = $("token-block");
  const tokenInput = $("token-input");
  const submitButton = $("submit-button");
  const busy = $("busy");
  const errorBox = $("error");
  const results = $("results");
  const panel = $("results-panel");
  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));

  const state = {
    taxonomy: "goemotions",
    meta: null, // the /v1/labels answer: labels, thresholds, taxonomies
    metaReady: null, // promise of loadMeta(); analyses wait for it so bars get thresholds
    lastRequest: null, // what was last analysed, re-sent when the user switches tabs
    controller: null, // AbortController of the request in flight
  };

  // ---------- small helpers ----------

  function el(tag, attrs = {}, text = null) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    if (text !== null) node.textContent = text;
    return node;
  }

  const fmt = (x) => Number(x).toFixed(2);
  const signed = (x) => (x > 0 ? "+" : x < 0 ? "\u2212" : "") + Math.abs(x).toFixed(2);
  const clamp01 = (x) => Math.min(1, Math.max(0, Number(x) || 0));

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    results.dataset.state = "error";
  }

  function clearError() {
    errorBox.textContent = "";
    errorBox.hidden = true;
  }

  function setBusy(on) {
    submitButton.disabled = on;
    busy.hidden = !on;
    results.setAttribute("aria-busy", on ? "true" : "false");
    if (on) results.dataset.state = "loading";
  }

  // FastAPI errors carry `detail`: a string (413, our own 422s) or a list of validation
  // problems ({loc, msg}); both become one readable line.
  function describeError(status, body) {
    let detail = body && body.detail;
    if (Array.isArray(detail)) {
      detail = detail
        .map((d) => {
          const where = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
          return where ? `${where}: ${d.msg}` : d.msg;
        })
        .join("; ");
    } else if (detail && typeof detail !== "string") {
      detail = JSON.stringify(detail);
    }
    return `Error ${status}: ${detail || "the server gave no reason"}`;
  }

  // With a token typed in (the service answered 401 once), every call sends it.
  function withToken(options) {
    const token = tokenInput.value.trim();
    if (!token) return options;
    return { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${token}` } };
  }

  async function fetchJson(url, options) {
    let response;
    try {
      response = await fetch(url, withToken(options));
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new Error(`Could not reach the server (${err.message}).`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null; // e.g. a proxy's HTML error page
    }
    if (response.status === 401) {
      tokenBlock.hidden = false;
      throw new Error(`${describeError(response.status, body)}. Enter the API token in the form ` +
        "and try again.");
    }
    if (!response.ok) throw new Error(describeError(response.status, body));
    if (body === null) throw new Error(`Error ${response.status}: the answer was not JSON.`);
    return body;
  }

  // ---------- rendering ----------

  function thresholdFor(label, result, request) {
    const hit = result.labels.find((l) => l.label === label);
    if (hit && typeof hit.threshold === "number") return hit.threshold;
    if (request.threshold !== null) return request.threshold;
    const meta = state.meta || {};
    const tuned = request.taxonomy === "goemotions"
      ? meta.thresholds || {}
      : (meta.group_thresholds || {})[request.taxonomy] || {};
    return label in tuned ? tuned[label] : DEFAULT_THRESHOLD;
  }

  function renderPredicted(result) {
    const list = $("predicted-labels");
    list.replaceChildren();
    for (const item of result.labels) {
      const chip = el("li", { className: "chip", "data-label": item.label });
      chip.append(
        el("span", { className: "chip-name", "data-testid": "predicted-label" }, item.label),
        el("span", { className: "chip-score", "aria-label": `score ${fmt(item.score)}` },
          fmt(item.score)),
      );
      list.append(chip);
    }
    $("no-labels").hidden = result.labels.length > 0;
    $("predicted-block").hidden = false;
  }

  function renderBars(result, request) {
    const bars = $("score-bars");
    bars.replaceChildren();
    const predicted = new Set(result.labels.map((l) => l.label));
    // `scores` has every label when all_scores is sent; fall back to the predicted ones.
    const scores = result.scores || Object.fromEntries(result.labels.map((l) => [l.label, l.score]));
    const taxonomies = (state.meta && state.meta.taxonomies) || {};
    const groups = request.taxonomy === "goemotions" ? null : taxonomies[request.taxonomy];
    const entries = Object.entries(scores).sort((a, b) => b[1] - a[1]);
    for (const [i, [label, rawScore]] of entries.entries()) {
      const nameId = `bar-label-${i}`; // label names may hold any character; ids may not
      const score = clamp01(rawScore);
      const threshold = clamp01(thresholdFor(label, result, request));
      const isPredicted = predicted.has(label);
      const row = el("li", {
        className: isPredicted ? "bar-row predicted" : "bar-row",
        "data-testid": "score-bar",
        "data-label": label,
        "data-score": score.toFixed(4),
        "data-threshold": threshold.toFixed(4),
        "data-predicted": isPredicted ? "true" : "false",
      });
      const name = el("div", { className: "bar-name" });
      name.append(el("span", { className: "bar-label", id: nameId }, label));
      if (groups && groups[label] && !(groups[label].length === 1 && groups[label][0] === label)) {
        name.append(el("span", { className: "bar-members" }, groups[label].join(", ")));
      }
      const meter = el("div", {
        className: "bar-track",
        role: "meter",
        "aria-labelledby": nameId,
        "aria-valuemin": "0",
        "aria-valuemax": "1",
        "aria-valuenow": score.toFixed(3),
        "aria-valuetext":
          `${fmt(score)}, threshold ${fmt(threshold)}, ${isPredicted ? "predicted" : "not predicted"}`,
      });
      const fill = el("div", { className: "bar-fill" });
      fill.style.width = `${(score * 100).toFixed(1)}%`;
      const tick = el("div", { className: "bar-threshold", title: `threshold ${fmt(threshold)}` });
      tick.style.left = `${(threshold * 100).toFixed(1)}%`;
      meter.append(fill, tick);
      const value = el("span", { className: "bar-value", "aria-hidden": "true" }, fmt(score));
      row.append(name, meter, value);
      bars.append(row);
    }
    $("scores-block").hidden = entries.length === 0;
  }

  // Offsets from the server are Python string indices (code points); JavaScript strings index
  // UTF-16 units, so the text is split into code points first or emoji would shift every span.
  function highlightedText(text, tokens) {
    const chars = Array.from(text);
    const container = el("p", { className: "explained-text" });
    const maxAbs = Math.max(1e-9, ...tokens.map((t) => Math.abs(t.weight)));
    const spans = tokens
      .filter((t) => Number.isInteger(t.start) && Number.isInteger(t.end) && t.end > t.start)
      .sort((a, b) => a.start - b.start);
    let cursor = 0;
    for (const token of spans) {
      if (token.start < cursor || token.end > chars.length) continue; // overlapping / stale
      if (token.start > cursor) container.append(chars.slice(cursor, token.start).join(""));
      const word = chars.slice(token.start, token.end).join("");
      const strength = Math.abs(token.weight) / maxAbs;
      if (strength < MIN_STRENGTH) {
        container.append(word); // negligible: colouring it would only add noise
      } else {
        const mark = el("mark", {
          className: token.weight > 0 ? "span up" : "span down",
          "data-testid": "explain-span",
          "data-weight": token.weight.toFixed(4),
          title: `${signed(token.weight)}`,
        }, word);
        mark.style.setProperty("--alpha", (0.12 + 0.68 * strength).toFixed(3));
        container.append(mark);
      }
      cursor = token.end;
    }
    if (cursor < chars.length) container.append(chars.slice(cursor).join(""));
    return container;
  }

  function renderExplanations(result, text) {
    const box = $("explanations");
    box.replaceChildren();
    const explanations = result.explanations || {};
    let shown = 0;
    for (const item of result.labels) {
      const tokens = explanations[item.label];
      if (!Array.isArray(tokens) || tokens.length === 0) continue;
      const block = el("article", {
        className: "explanation",
        "data-testid": "explanation",
        "data-label": item.label,
        "aria-label": `Words behind ${item.label}`,
      });
      block.append(el("h4", {}, `${item.label} (${fmt(item.score)})`));
      block.append(highlightedText(text, tokens));
      // The same information as text, for screen readers and for anyone who cannot tell the
      // colours apart.
      const maxAbs = Math.max(1e-9, ...tokens.map((t) => Math.abs(t.weight)));
      const top = tokens
        .filter((t) => Math.abs(t.weight) / maxAbs >= MIN_STRENGTH)
        .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))
        .slice(0, 5);
      if (top.length) {
        block.append(el("p", { className: "help top-words" },
          "Strongest words: " + top.map((t) => `${t.token} ${signed(t.weight)}`).join(", ")));
      }
      box.append(block);
      shown += 1;
    }
    $("explanations-block").hidden = shown === 0;
  }

  function render(body, request) {
    const result = body.results && body.results[0];
    if (!result) throw new Error("The server answered without a result.");
    $("empty-hint").hidden = true;
    if (body.model) $("model-name").textContent = `Model: ${body.model}`;
    renderPredicted(result);
    renderExplanations(result, request.texts[0]);
    renderBars(result, request);
    $("status").textContent = result.labels.length
      ? `Predicted: ${result.labels.map((l) => `${l.label} ${fmt(l.score)}`).join(", ")}.`
      : "No label reached its threshold.";
    results.dataset.state = "done";
    results.dataset.taxonomy = request.taxonomy;
  }

  // ---------- actions ----------

  function readRequest() {
    const text = textInput.value.trim();
    if (!text) throw new Error("Type some text to analyse first.");
    let threshold = null;
    const raw = thresholdInput.value.trim();
    if (raw !== "") {
      threshold = Number(raw);
      if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
        throw new Error("The threshold must be a number between 0 and 1.");
      }
    }
    return {
      texts: [text],
      threshold,
      top_k: null,
      taxonomy: state.taxonomy,
      explain: explainInput.checked,
      all_scores: true,
    };
  }

  async function analyse(request) {
    if (state.controller) state.controller.abort(); // the newest request wins
    const controller = new AbortController();
    state.controller = controller;
    clearError();
    setBusy(true);
    try {
      await state.metaReady;
      if (!state.meta) await (state.metaReady = loadMeta()); // e.g. a token was just typed in
      const body = await fetchJson(API_PREDICT, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(request),
        signal: controller.signal,
      });
      state.lastRequest = request;
      render(body, request);
    } catch (err) {
      if (err.name !== "AbortError") showError(err.message);
    } finally {
      if (state.controller === controller) {
        state.controller = null;
        setBusy(false);
      }
    }
  }

  function submit() {
    let request;
    try {
      request = readRequest();
    } catch (err) {
      showError(err.message);
      textInput.focus();
      return;
    }
    analyse(request);
  }

  function selectTab(tab, focus) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
    }
    if (focus) tab.focus();
    panel.setAttribute("aria-labelledby", tab.id);
    const taxonomy = tab.dataset.taxonomy;
    if (taxonomy === state.taxonomy) return;
    state.taxonomy = taxonomy;
    if (state.lastRequest) analyse({ ...state.lastRequest, taxonomy });
  }

  // Only the groupings the model's labels allow get a tab (none for a model's own label set).
  function applyMeta(meta) {
    const taxonomies = meta.taxonomies || {};
    for (const tab of tabs) {
      const taxonomy = tab.dataset.taxonomy;
      tab.hidden = taxonomy !== "goemotions" && !(taxonomy in taxonomies);
    }
    if (Array.isArray(meta.labels) && meta.labels.length !== 28) {
      $("tab-goemotions").textContent = `${meta.labels.length} labels`;
    }
  }

  async function loadMeta() {
    try {
      state.meta = await fetchJson(API_LABELS, { headers: { Accept: "application/json" } });
      applyMeta(state.meta);
    } catch (err) {
      showError(`Could not load the label set. ${err.message}`);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  textInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
    }
  });
  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab, false));
    tab.addEventListener("keydown", (event) => {
      const shown = tabs.filter((t) => !t.hidden);
      const i = shown.indexOf(tab);
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: shown.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      selectTab(shown[(moves[event.key] + shown.length) % shown.length], true);
    });
  }

  state.metaReady = loadMeta();
})();
