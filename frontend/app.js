// simplechat UI: a terminal-style chat and a course extractor, both over the KServe V1 protocol.
// Every call is relative to this page's origin; nginx (or `make run`) routes /api to the models.
"use strict";

const API = {
  chat: "api/v1/models/chatbot:predict",
  chatbot: "api/v1/models/chatbot",
  extract: "api/v1/models/extractor:predict",
};
// The chatbot accepts at most 200 history turns; it trims older ones itself when the prompt is too long.
const MAX_HISTORY_TURNS = 200;

const HTTP_REASONS = {
  400: "the request was refused",
  404: "the model was not found",
  413: "the text is too long for the server",
  429: "too many requests — wait a moment and try again",
  500: "the model server failed",
  502: "the model server is not reachable",
  503: "the model is not ready yet (still loading?) — try again shortly",
  504: "the model took too long to answer",
};

/** POST a V1 request; returns the first prediction or throws an Error with a readable message. */
async function predict(url, instance) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ instances: [instance] }),
    });
  } catch (err) {
    throw new Error(`cannot reach the server (${err.message})`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // nginx error pages and proxies may answer with HTML: the status still tells the story.
  }
  if (!response.ok) {
    const reason = HTTP_REASONS[response.status] || "the server answered with an error";
    const detail = body && typeof body.error === "string" ? `: ${body.error}` : "";
    throw new Error(`error ${response.status} — ${reason}${detail}`);
  }
  if (!body || !Array.isArray(body.predictions) || body.predictions.length !== 1) {
    throw new Error("the server sent an answer this page does not understand");
  }
  return body.predictions[0];
}

// ---------------------------------------------------------------- tabs
// The URL fragment names the view (#chat, #extract), so a link can open either one. The panels'
// ids differ from those names on purpose: a fragment that matches an id moves the focus there.

function selectTab(name, { focusTab = false, remember = true } = {}) {
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const selected = tab.dataset.view === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
    if (selected && focusTab) tab.focus();
  }
  if (!focusTab) document.getElementById(name === "chat" ? "chat-input" : "extract-input").focus();
  if (remember && location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
}

function setUpTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab.dataset.view));
    tab.addEventListener("keydown", (event) => {
      // Arrow keys move between tabs, as the WAI-ARIA tabs pattern expects.
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
      selectTab(next.dataset.view, { focusTab: true });
    });
  }
  selectTab(location.hash === "#extract" ? "extract" : "chat", { remember: false });
}

// ---------------------------------------------------------------- chat

const chat = {
  history: [], // alternating user/bot turns, oldest first: the server is stateless
  sent: [], // the user's messages, for ↑ / ↓ recall
  recall: 0,
  busy: false,
};

function addLine(text, kind) {
  const terminal = document.getElementById("terminal");
  const line = document.createElement("p");
  line.className = `line ${kind}`;
  line.textContent = text; // never innerHTML: replies and errors are untrusted text
  terminal.appendChild(line);
  terminal.scrollTop = terminal.scrollHeight;
  return line;
}

function clearTerminal() {
  document.getElementById("terminal").replaceChildren();
  chat.history = [];
}

function resizeInput(input) {
  input.style.height = "auto";
  input.style.height = `${input.scrollHeight}px`;
}

async function sendChat(input) {
  const message = input.value.trim();
  if (!message || chat.busy) return;
  chat.sent.push(input.value);
  chat.recall = chat.sent.length;
  input.value = "";
  resizeInput(input);
  if (message === "clear" || message === "clear()") {
    clearTerminal();
    return;
  }
  addLine(message, "user");
  chat.busy = true;
  const form = document.getElementById("chat-form");
  form.setAttribute("aria-busy", "true");
  const loading = addLine("thinking", "loading");
  try {
    const prediction = await predict(API.chat, { message, history: chat.history });
    loading.remove();
    addLine(prediction.response || "(no reply)", "bot");
    chat.history = prediction.history.slice(-MAX_HISTORY_TURNS);
  } catch (err) {
    loading.remove();
    addLine(err.message, "error");
  } finally {
    chat.busy = false;
    form.removeAttribute("aria-busy");
  }
}

/** "1.2M" for 1,210,112: parameter counts as people say them. */
function shortCount(n) {
  const units = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];
  for (const [size, unit] of units) if (n >= size) return `${(n / size).toFixed(n >= 10 * size ? 0 : 1)}${unit}`;
  return String(n);
}

/** Which model answers, from its own card; retried while the model loads (503). */
async function showModelCard(attempt = 0) {
  const line = document.getElementById("model-card");
  let card = null;
  try {
    const response = await fetch(API.chatbot, { headers: { Accept: "application/json" } });
    if (response.ok) card = (await response.json()).model;
    else if (response.status === 503 && attempt < 60) {
      setTimeout(() => showModelCard(attempt + 1), 2000);
      return;
    }
  } catch {
    // The chat itself reports an unreachable server; this line just stays hidden.
  }
  if (!card || typeof card.name !== "string") return;
  const size = Number.isFinite(card.parameters) ? `, ${shortCount(card.parameters)} parameters` : "";
  const kind = card.offline_demo ? " — offline demo model: expect simple, canned replies" : "";
  line.textContent = `model: ${card.name}${size}${kind}`;
  line.title = card.description || "";
  line.hidden = false;
}

function recallMessage(input, step) {
  const index = chat.recall + step;
  if (index < 0 || index > chat.sent.length) return false;
  chat.recall = index;
  input.value = index === chat.sent.length ? "" : chat.sent[index];
  resizeInput(input);
  input.setSelectionRange(input.value.length, input.value.length);
  return true;
}

function setUpChat() {
  const input = document.getElementById("chat-input");
  const form = document.getElementById("chat-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendChat(input);
  });
  input.addEventListener("input", () => resizeInput(input));
  input.addEventListener("keydown", (event) => {
    if (event.isComposing) return; // Enter that confirms an IME composition is not a send
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      sendChat(input);
    } else if (event.key === "ArrowUp" && !input.value.slice(0, input.selectionStart).includes("\n")) {
      // On the first line ↑ recalls earlier messages; elsewhere it moves the caret as usual.
      if (recallMessage(input, -1)) event.preventDefault();
    } else if (event.key === "ArrowDown" && !input.value.slice(input.selectionEnd).includes("\n")) {
      if (recallMessage(input, 1)) event.preventDefault();
    }
  });
  // Clicking anywhere in the terminal types into the prompt, as in a real terminal.
  document.getElementById("terminal").addEventListener("click", () => {
    if (!window.getSelection().toString()) input.focus();
  });
}

// ---------------------------------------------------------------- extractor

/** The text split into plain and course pieces. Offsets count code points (Python's str),
 * so the text is indexed as an array of code points, not UTF-16 units. */
function pieces(text, courses) {
  const points = Array.from(text);
  const out = [];
  let cursor = 0;
  for (const course of [...courses].sort((a, b) => a.start - b.start)) {
    if (course.start < cursor || course.end > points.length) continue; // overlapping or stale span
    if (course.start > cursor) out.push({ text: points.slice(cursor, course.start).join("") });
    out.push({ text: points.slice(course.start, course.end).join(""), course });
    cursor = course.end;
  }
  if (cursor < points.length) out.push({ text: points.slice(cursor).join("") });
  return out;
}

function percent(score) {
  return `${(100 * score).toFixed(1)}%`;
}

function showCourses(text, courses) {
  const highlighted = document.getElementById("highlighted");
  const list = document.getElementById("course-list");
  highlighted.replaceChildren();
  list.replaceChildren();
  for (const piece of pieces(text, courses)) {
    if (!piece.course) {
      highlighted.append(piece.text);
      continue;
    }
    const mark = document.createElement("mark");
    mark.textContent = piece.text;
    mark.title = `course · score ${percent(piece.course.score)}`;
    highlighted.append(mark);
  }
  for (const course of courses) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "course";
    name.textContent = course.text;
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = percent(course.score);
    item.append(name, " ", score);
    list.append(item);
  }
  document.getElementById("extract-result").hidden = false;
}

async function extract() {
  const input = document.getElementById("extract-input");
  const button = document.getElementById("extract-button");
  const status = document.getElementById("extract-status");
  const text = input.value;
  if (!text.trim() || button.disabled) return;
  button.disabled = true;
  status.className = "status loading";
  status.textContent = "extracting";
  try {
    const prediction = await predict(API.extract, { text });
    showCourses(text, prediction.courses);
    const n = prediction.courses.length;
    status.className = "status";
    status.textContent = n ? `${n} course${n === 1 ? "" : "s"} found` : "no course names found";
  } catch (err) {
    document.getElementById("extract-result").hidden = true;
    status.className = "status error";
    status.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

function setUpExtractor() {
  const input = document.getElementById("extract-input");
  document.getElementById("extract-form").addEventListener("submit", (event) => {
    event.preventDefault();
    extract();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      extract();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpChat();
  showModelCard();
  setUpExtractor();
  setUpTabs();
});
