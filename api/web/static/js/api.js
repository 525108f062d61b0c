// The REST API from the page: the key lives in sessionStorage and goes in a bearer header only.
const KEY = "ragstead.key";

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.kind = err.type || "";
    this.hint = err.hint || "";
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

export function keepKey(key) {
  sessionStorage.setItem(KEY, key);
}

function headers(extra = {}, key = storedKey()) {
  // X-Requested-With: a header another site's page cannot send; the server asks for it on
  // changes when a trusted reverse proxy, not a key, names the person.
  const base = { ...extra, "X-Requested-With": "ragstead" };
  // no key: the server itself knows the caller (a trusted proxy, or authentication off)
  return key ? { ...base, Authorization: `Bearer ${key}` } : base;
}

async function failure(response) {
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  return new ApiError(response.status, body);
}

/** JSON from the API (null for 204); throws ApiError on any other status. */
export async function call(path, { method = "GET", body, key } = {}) {
  const init = { method, headers: headers({ Accept: "application/json" }, key === undefined ? storedKey() : key) };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

/** A blob: URL for a document's original, fetched with the bearer header. */
export async function fileUrl(docId) {
  const response = await fetch(`/v1/documents/${encodeURIComponent(docId)}/file`, { headers: headers() });
  if (!response.ok) throw await failure(response);
  return URL.createObjectURL(await response.blob());
}

/** Parse a server-sent-event body: calls onEvent(name, data) for each event. */
export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    buffer = buffer.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
    if (done) return;
  }
}

/** POST a streaming request; onToken(text) per token; resolves with the final answer JSON. */
export async function stream(path, body, onToken) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify({ ...body, stream: true }),
  });
  if (!response.ok) throw await failure(response);
  let answer = null;
  let error = null;
  await readEvents(response, (name, data) => {
    if (name === "token") onToken(data.text);
    else if (name === "answer") answer = data;
    else if (name === "error") error = new ApiError(data.status || 500, data);
  });
  if (error) throw error;
  if (!answer) throw new ApiError(502, { error: { message: "the answer ended early" } });
  return answer;
}
