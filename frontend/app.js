// simplechat UI: a terminal-style chat that streams its replies (the chatbot's OpenAI-compatible
// route, server-sent events) and a course extractor (KServe V1). Every call is relative to this
// page's origin; nginx (or `make run`) routes /api to the models.
"use strict";

const API = {
  chat: "api/openai/v1/chat/completions",
  chatbot: "api/v1/models/chatbot",
  extract: "api/v1/models/extractor:predict",
};
// The chatbot accepts at most 200 history turns; it trims older ones itself when the prompt is too long.
const MAX_HISTORY_TURNS = 200;
const CHAT_MODEL = "chatbot"; // the predictor's name, which its OpenAI route answers to

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

/** "error 429 — too many requests…: <the server's message>" for a failed response. */
function httpError(status, message) {
  const reason = HTTP_REASONS[status] || "the server answered with an error";
  return new Error(`error ${status} — ${reason}${message ? `: ${message}` : ""}`);
}

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
  if (!response.ok) throw httpError(response.status, body && typeof body.error === "string" ? body.error : "");
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
  streaming: null, // { controller, done } while a reply streams in
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
  stopReply();
  document.getElementById("terminal").replaceChildren();
  chat.history = [];
}

function resizeInput(input) {
  input.style.height = "auto";
  input.style.height = `${input.scrollHeight}px`;
}

/** The OpenAI chat messages for the history plus the new message. */
function chatMessages(message) {
  const turns = [...chat.history, message];
  return turns.map((content, i) => ({ role: i % 2 === turns.length % 2 ? "assistant" : "user", content }));
}

/** Each server-sent event's JSON from a fetch response, as it arrives; ends at `data: [DONE]`. */
async function* serverEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}

/** Stream one reply into `line`; returns the text to keep in the history. */
async function streamReply(message, line, signal) {
  let response;
  try {
    response = await fetch(API.chat, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ model: CHAT_MODEL, messages: chatMessages(message), stream: true }),
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new Error(`cannot reach the server (${err.message})`);
  }
  if (!response.ok) {
    let detail = "";
    try {
      detail = (await response.json()).error.message;
    } catch {
      // nginx error pages and proxies may answer with HTML: the status still tells the story.
    }
    throw httpError(response.status, detail);
  }
  let text = "";
  for await (const event of serverEvents(response)) {
    if (event.error) throw new Error(event.error.message || "the reply broke off");
    const delta = event.choices && event.choices[0] && event.choices[0].delta;
    if (delta && delta.content) {
      text += delta.content;
      line.textContent = text;
    }
    // The model was unsure of what it streamed (its reply gate): the server sends the reply to keep.
    if (event.simplechat && typeof event.simplechat.replace_content === "string") {
      text = event.simplechat.replace_content;
      line.textContent = text;
    }
    document.getElementById("terminal").scrollTop = document.getElementById("terminal").scrollHeight;
  }
  return text;
}

/** Esc, the stop control, or a new message: the reply so far stays, the server stops decoding it. */
function stopReply() {
  if (chat.streaming) chat.streaming.controller.abort();
}

async function sendChat(input) {
  const message = input.value.trim();
  if (!message) return;
  chat.sent.push(input.value);
  chat.recall = chat.sent.length;
  input.value = "";
  resizeInput(input);
  if (chat.streaming) {
    // A new message while a reply streams: stop that one and wait until its turn is recorded.
    const previous = chat.streaming;
    stopReply();
    await previous.done;
  }
  if (message === "clear" || message === "clear()") {
    clearTerminal();
    return;
  }
  addLine(message, "user");
  const form = document.getElementById("chat-form");
  const stop = document.getElementById("chat-stop");
  const controller = new AbortController();
  const line = addLine("", "bot streaming");
  let finished;
  chat.streaming = { controller, done: new Promise((resolve) => (finished = resolve)) };
  form.setAttribute("aria-busy", "true");
  stop.hidden = false;
  try {
    const reply = await streamReply(message, line, controller.signal);
    if (!reply) line.textContent = "(no reply)";
    chat.history = [...chat.history, message, reply].slice(-MAX_HISTORY_TURNS);
  } catch (err) {
    if (controller.signal.aborted) {
      line.classList.add("stopped");
      // The part shown is the reply the conversation goes on from; nothing shown, no turn.
      if (line.textContent) chat.history = [...chat.history, message, line.textContent].slice(-MAX_HISTORY_TURNS);
    } else {
      if (!line.textContent) line.remove();
      addLine(err.message, "error");
    }
  } finally {
    line.classList.remove("streaming");
    chat.streaming = null;
    form.removeAttribute("aria-busy");
    stop.hidden = true;
    finished();
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
  document.getElementById("chat-stop").addEventListener("click", () => {
    stopReply();
    input.focus();
  });
  // Esc stops a streaming reply wherever the focus is in the chat view.
  document.getElementById("chat-view").addEventListener("keydown", (event) => {
    if (event.key === "Escape" && chat.streaming) {
      event.preventDefault();
      stopReply();
    }
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
