// The review page. Every text from the server (prompts, outputs, case ids) is set with textContent,
// never parsed as HTML: a model's output may hold markup or scripts, and must be shown as written.
"use strict";

const state = {
  annotator: null,
  session: null,
  index: 0,
  item: null,
  ratings: {},
  activeDimension: 0,
  dirty: false,
};

const $ = (id) => document.getElementById(id);

function setBusy(busy) {
  document.body.dataset.ready = busy ? "false" : "true";
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function setStatus(message) {
  $("status").textContent = message;
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    throw new Error(`the server answered ${response.status} without JSON`);
  }
  if (!response.ok) {
    throw new Error(data && data.error ? data.error : `the server answered ${response.status}`);
  }
  return data;
}

function who() {
  return `annotator=${encodeURIComponent(state.annotator)}`;
}

function renderProgress() {
  const s = state.session;
  $("mode").textContent = s.kind === "likert" ? `Likert: run ${s.run.run_id.slice(0, 12)} (${s.run.model})` : "Pairwise (blind)";
  $("progress").textContent = `${s.done} / ${s.total} judged` + (s.skipped ? `, ${s.skipped} skipped` : "");
  $("progress").dataset.done = String(s.done);
  $("progress").dataset.skipped = String(s.skipped);
  $("who").textContent = `as ${state.annotator}`;
  $("finish").hidden = s.kind !== "pairwise";
}

async function loadSession(goTo) {
  setBusy(true);
  state.session = await api("GET", `/api/session?${who()}`);
  renderProgress();
  $("login").hidden = true;
  if (state.session.finished && state.session.kind === "pairwise") {
    await showReveal();
    return;
  }
  if (state.session.total === 0) {
    $("review").hidden = true;
    setStatus("");
    showError("Nothing to review: no case of this session has an output to judge.");
    setBusy(false);
    return;
  }
  $("review").hidden = false;
  let index = goTo;
  if (index === undefined || index === null) {
    index = state.session.first_pending === null ? 0 : state.session.first_pending;
  }
  await showItem(index);
  if (state.session.first_pending === null) {
    setStatus(allJudgedMessage());
  }
}

function allJudgedMessage() {
  const s = state.session;
  const end = s.kind === "pairwise" ? " Finish to see which run was which." : "";
  return `All ${s.total} items judged or skipped.${end}`;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function renderPrompt(item) {
  $("case-id").textContent = `${item.index + 1} of ${state.session.total}: ${item.case_id}`;
  $("needs-review").hidden = !item.needs_review;
  $("system-box").hidden = !item.system;
  $("system").textContent = item.system || "";
  const messages = $("messages");
  clear(messages);
  if (item.messages) {
    for (const message of item.messages) {
      const li = document.createElement("li");
      const role = document.createElement("strong");
      role.textContent = `${message.role}: `;
      const content = document.createElement("pre");
      content.textContent = message.content === null || message.content === undefined ? "" : String(message.content);
      li.append(role, content);
      messages.append(li);
    }
  }
  messages.hidden = !item.messages;
  $("prompt").hidden = Boolean(item.messages);
  $("prompt").textContent = item.prompt === null ? "(no prompt recorded)" : item.prompt;
}

function renderDimensions() {
  const box = $("dimensions");
  clear(box);
  state.item.dimensions.forEach((name, position) => {
    const row = document.createElement("div");
    row.className = "dimension" + (position === state.activeDimension ? " active" : "");
    row.dataset.dimension = name;
    const label = document.createElement("span");
    label.className = "dimension-name";
    label.textContent = name;
    row.append(label);
    for (let value = 1; value <= 5; value += 1) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = String(value);
      button.dataset.dimension = name;
      button.dataset.value = String(value);
      button.setAttribute("aria-pressed", state.ratings[name] === value ? "true" : "false");
      button.addEventListener("click", () => rate(name, value));
      row.append(button);
    }
    box.append(row);
  });
}

async function showItem(index) {
  setBusy(true);
  showError("");
  const item = await api("GET", `/api/item/${index}?${who()}`);
  state.index = index;
  state.item = item;
  state.dirty = false;
  document.body.dataset.index = String(index);
  renderPrompt(item);
  if (state.session.kind === "likert") {
    $("likert").hidden = false;
    $("output").textContent = item.output;
    $("reference-box").hidden = item.reference === null || item.reference === undefined;
    $("reference").textContent = item.reference || "";
    state.ratings = Object.assign({}, item.ratings);
    const dims = state.item.dimensions;
    const firstUnrated = dims.findIndex((name) => !(name in state.ratings));
    state.activeDimension = firstUnrated === -1 ? dims.length - 1 : firstUnrated;
    renderDimensions();
    $("comment").value = item.comment || "";
  } else {
    $("pairwise").hidden = false;
    $("output-a").textContent = item.outputs.A;
    $("output-b").textContent = item.outputs.B;
    for (const button of document.querySelectorAll("#choices button")) {
      button.setAttribute("aria-pressed", button.dataset.choice === item.choice ? "true" : "false");
    }
  }
  const judged = state.session.items[index].state;
  setStatus(judged === "done" ? "Judged (changing it stores a new judgement)." : judged === "skipped" ? "Skipped." : "");
  setBusy(false);
}

function rate(name, value) {
  state.ratings[name] = value;
  state.dirty = true;
  const dims = state.item.dimensions;
  const position = dims.indexOf(name);
  state.activeDimension = Math.min(position + 1, dims.length - 1);
  renderDimensions();
}

function complete() {
  return state.item.dimensions.every((name) => name in state.ratings);
}

async function run(action) {
  try {
    await action();
  } catch (err) {
    showError(err.message);
    setBusy(false);
  }
}

async function goNext() {
  const s = state.session;
  if (state.index + 1 < s.total) {
    await showItem(state.index + 1);
  } else if (s.first_pending !== null) {
    await showItem(s.first_pending);
  } else {
    setStatus(allJudgedMessage());
    setBusy(false);
  }
}

async function saveAndNext() {
  if (state.session.kind === "likert") {
    const judged = state.session.items[state.index].state !== "todo";
    const commentChanged = ($("comment").value || "") !== (state.item.comment || "");
    if (!complete()) {
      if (!judged || state.dirty) {
        setStatus("Rate every dimension (1-5) first, or skip (s).");
        return;
      }
    } else if (state.dirty || commentChanged || !judged || state.item.skipped) {
      setBusy(true);
      state.session = await api("POST", `/api/item/${state.index}/judgement`, {
        annotator: state.annotator, ratings: state.ratings, comment: $("comment").value || null,
      });
      renderProgress();
    }
  }
  await goNext();
}

async function choose(choice) {
  setBusy(true);
  state.session = await api("POST", `/api/item/${state.index}/judgement`, { annotator: state.annotator, choice });
  renderProgress();
  await goNext();
}

async function skip() {
  setBusy(true);
  state.session = await api("POST", `/api/item/${state.index}/judgement`, { annotator: state.annotator, skip: true });
  renderProgress();
  await goNext();
}

async function undo() {
  setBusy(true);
  const answer = await api("POST", "/api/undo", { annotator: state.annotator });
  state.session = answer.session;
  renderProgress();
  if (answer.undone === null) {
    setStatus("Nothing to undo in this session.");
    setBusy(false);
    return;
  }
  await showItem(answer.undone);
  setStatus(`Undid your last judgement (item ${answer.undone + 1}).`);
}

async function previous() {
  if (state.index > 0) await showItem(state.index - 1);
}

async function finish() {
  setBusy(true);
  await api("POST", "/api/finish", { annotator: state.annotator });
  state.session.finished = true;
  await showReveal();
}

async function showReveal() {
  const data = await api("GET", `/api/reveal?${who()}`);
  $("review").hidden = true;
  $("reveal").hidden = false;
  $("reveal-runs").textContent =
    `first run: ${data.first.run_id.slice(0, 12)} (${data.first.model}); second run: ${data.second.run_id.slice(0, 12)} (${data.second.model})`;
  const body = document.querySelector("#reveal-table tbody");
  clear(body);
  for (const row of data.items) {
    const tr = document.createElement("tr");
    tr.dataset.index = String(row.index);
    for (const text of [row.case_id, `${row.A} run`, row.choice === null ? "-" : row.choice === "tie" ? "tie" : `${row.choice} run`]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    body.append(tr);
  }
  setBusy(false);
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT")) {
    if (event.key === "Escape") target.blur();
    return;
  }
  if ($("review").hidden || document.body.dataset.ready !== "true") return;
  const key = event.key.toLowerCase();
  const likert = state.session.kind === "likert";
  if (likert && /^[1-5]$/.test(key)) {
    rate(state.item.dimensions[state.activeDimension], Number(key));
  } else if (!likert && (key === "a" || key === "b" || key === "t")) {
    run(() => choose(key === "t" ? "tie" : key.toUpperCase()));
  } else if (key === "n") {
    run(saveAndNext);
  } else if (key === "p") {
    run(previous);
  } else if (key === "s") {
    run(skip);
  } else if (key === "u") {
    run(undo);
  } else {
    return;
  }
  event.preventDefault();
}

function start() {
  const params = new URLSearchParams(window.location.search);
  const name = (params.get("annotator") || window.localStorage.getItem("llmeval-annotator") || "").trim();
  $("next").addEventListener("click", () => run(saveAndNext));
  $("prev").addEventListener("click", () => run(previous));
  $("skip").addEventListener("click", () => run(skip));
  $("undo").addEventListener("click", () => run(undo));
  $("finish").addEventListener("click", () => run(finish));
  for (const button of document.querySelectorAll("#choices button")) {
    button.addEventListener("click", () => run(() => choose(button.dataset.choice)));
  }
  document.addEventListener("keydown", onKey);
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = $("annotator-input").value.trim();
    if (!typed) return;
    begin(typed);
  });
  if (name) {
    begin(name);
  } else {
    $("login").hidden = false;
    setBusy(false);
  }
}

function begin(name) {
  state.annotator = name;
  window.localStorage.setItem("llmeval-annotator", name);
  const url = new URL(window.location.href);
  url.searchParams.set("annotator", name);
  window.history.replaceState(null, "", url.toString());
  run(() => loadSession());
}

document.addEventListener("DOMContentLoaded", start);
