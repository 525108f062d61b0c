// Ask: a streamed, cited answer; a thread kept in sessionStorage; passages opened in place.
import { fileUrl, stream } from "./api.js";
import { $, el } from "./dom.js";

const THREAD = "ragstead.thread";
const NOT_COVERED = "The documents do not cover this.";

function loadThread() {
  try { return JSON.parse(sessionStorage.getItem(THREAD) || "[]"); } catch { return []; }
}

function saveThread(turns) {
  sessionStorage.setItem(THREAD, JSON.stringify(turns));
}

export function forgetThread() {
  sessionStorage.removeItem(THREAD);
}

/** Text with [n] markers turned into buttons that open citation n. */
function withMarkers(text, citations) {
  const out = [];
  const byN = new Map(citations.map((c) => [c.n, c]));
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const cite = byN.get(Number(match[1]));
    if (!cite) continue;
    out.push(text.slice(last, match.index));
    out.push(el("button", {
      type: "button", class: "marker", text: `[${cite.n}]`,
      "aria-label": `source ${cite.n}: ${fileName(cite.source)}`, onclick: () => openPassage(cite),
    }));
    last = match.index + match[0].length;
  }
  out.push(text.slice(last));
  return out;
}

/** A file's name without its folders. */
export function fileName(source) {
  return String(source || "").split(/[\\/]/).pop();
}

function label(cite) {
  const parts = [fileName(cite.source)];
  if (cite.page) parts.push(`page ${cite.page}`);
  if (cite.section) parts.push(cite.section);
  return parts.join(", ");
}

function answerBody(answer) {
  if (answer.covered === false) {
    return [el("p", { class: "not-covered", text: NOT_COVERED })];
  }
  const cites = answer.citations || [];
  const body = el("p", { class: "answer-text" });
  const text = answer.answer || "";
  const unsupported = (answer.sentences || []).filter((s) => !s.supported && s.kind !== "refusal");
  const unplaced = [];
  let cursor = 0;
  for (const sentence of unsupported) {
    const at = text.indexOf(sentence.text, cursor);
    if (at < 0) { unplaced.push(sentence.text); continue; }
    body.append(...withMarkers(text.slice(cursor, at), cites));
    const end = at + sentence.text.length;
    const span = el("span", { class: "unsupported", title: "Not supported by the sources" },
      ...withMarkers(text.slice(at, end), cites));
    body.append(span);
    cursor = end;
  }
  body.append(...withMarkers(text.slice(cursor), cites));
  const parts = [body];
  if (unsupported.length) {
    parts.push(el("p", { class: "unsupported-note",
      text: "Underlined sentences are not supported by the sources." }));
  }
  for (const sentence of unplaced) {
    parts.push(el("p", { class: "unsupported-note", text: `Not supported: ${sentence}` }));
  }
  if (cites.length) {
    parts.push(el("ol", { class: "sources", "aria-label": "Sources" }, ...cites.map((c) =>
      el("li", { value: c.n }, el("button", {
        type: "button", class: "source", text: label(c), onclick: () => openPassage(c),
      })))));
  }
  return parts;
}

function turnNode(turn) {
  if (turn.role === "user") {
    return el("div", { class: "turn user" }, el("p", { class: "who", text: "You" }),
      el("p", { class: "question", text: turn.content }));
  }
  const node = el("div", { class: "turn assistant" }, el("p", { class: "who", text: "Ragstead" }));
  if (turn.error) node.append(el("p", { class: "error", text: turn.error }));
  else node.append(...answerBody(turn.answer));
  return node;
}

function render() {
  $("thread").replaceChildren(...loadThread().map(turnNode));
}

let openUrl = null;

async function openPassage(cite) {
  const box = $("passage");
  $("passage-title").textContent = `[${cite.n}] ${label(cite)}`;
  const text = $("passage-text");
  text.replaceChildren();
  const at = cite.quote ? cite.text.indexOf(cite.quote) : -1;
  if (at >= 0) {
    text.append(cite.text.slice(0, at), el("mark", { text: cite.quote }),
      cite.text.slice(at + cite.quote.length));
  } else {
    text.append(cite.text);
    if (cite.quote) text.append(el("p", {}, el("mark", { text: cite.quote })));
  }
  const link = $("passage-open");
  link.hidden = true;
  box.hidden = false;
  box.focus();
  if (openUrl) URL.revokeObjectURL(openUrl);
  openUrl = null;
  if (!cite.doc_id) return;
  try {
    openUrl = await fileUrl(cite.doc_id);
    const isPdf = /\.pdf$/i.test(cite.source);
    link.href = isPdf && cite.page ? `${openUrl}#page=${cite.page}` : openUrl;
    link.textContent = isPdf && cite.page ? `Open the original at page ${cite.page}` : "Open the original";
    link.hidden = false;
  } catch {
    link.hidden = true;
  }
}

/** The filters chosen on the page (type, dates), or null for none. */
function chosenFilters() {
  const filters = {};
  if ($("filter-type").value) filters.doc_types = [$("filter-type").value];
  if ($("filter-after").value) filters.after = $("filter-after").value;
  if ($("filter-before").value) filters.before = $("filter-before").value;
  return Object.keys(filters).length ? filters : null;
}

async function ask(event, collection) {
  event.preventDefault();
  const input = $("question");
  const question = input.value.trim();
  if (!question) return;
  const turns = loadThread();
  turns.push({ role: "user", content: question });
  saveThread(turns);
  render();
  input.value = "";
  const live = el("div", { class: "turn assistant streaming" },
    el("p", { class: "who", text: "Ragstead" }), el("p", { class: "answer-text" }));
  $("thread").append(live);
  const button = $("ask-button");
  button.disabled = true;
  let tokens = 0;
  const messages = turns.map((t) => ({ role: t.role, content: t.content }));
  const body = { mode: $("mode").value, collection: collection() };
  const filters = chosenFilters();
  if (filters) body.filters = filters;
  try {
    const answer = turns.length > 1
      ? await stream("/v1/chat", { ...body, messages }, onToken)
      : await stream("/v1/query", { ...body, question }, onToken);
    turns.push({ role: "assistant", content: answer.answer, answer, tokens });
  } catch (err) {
    turns.push({ role: "assistant", content: "", error: err.message });
  }
  saveThread(turns);
  render();
  const last = $("thread").lastElementChild;
  if (last) last.dataset.tokens = String(tokens);
  button.disabled = false;
  input.focus();

  function onToken(text) {
    tokens += 1;
    live.lastElementChild.append(text);
    live.dataset.tokens = String(tokens);
  }
}

export function setupAsk(collection) {
  $("ask-form").addEventListener("submit", (e) => ask(e, collection));
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask-form").requestSubmit(); }
  });
  $("new-thread").addEventListener("click", () => {
    forgetThread();
    render();
    $("passage").hidden = true;
    $("question").focus();
  });
  $("passage-close").addEventListener("click", () => { $("passage").hidden = true; });
  render();
}
