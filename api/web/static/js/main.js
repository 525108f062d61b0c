// The page: sign in with an API key (checked against /v1/collections), tabs, sign out.
import { ApiError, call, forgetKey, keepKey, storedKey } from "./api.js";
import { forgetThread, setupAsk } from "./ask.js";
import { refresh, setupDocuments } from "./documents.js";
import { $, el } from "./dom.js";

const COLLECTION = "ragstead.collection";
const collection = () => $("collection").value || "default";

function show(signedIn) {
  $("signin").hidden = signedIn;
  $("tabs").hidden = !signedIn;
  $("who").hidden = !signedIn;
  if (!signedIn) {
    $("ask").hidden = true;
    $("docs").hidden = true;
  } else {
    openTab(sessionStorage.getItem("ragstead.tab") || "ask");
  }
}

function openTab(name) {
  sessionStorage.setItem("ragstead.tab", name);
  $("ask").hidden = name !== "ask";
  $("docs").hidden = name !== "docs";
  $("tab-ask").setAttribute("aria-pressed", String(name === "ask"));
  $("tab-docs").setAttribute("aria-pressed", String(name === "docs"));
  if (name === "docs") refresh(collection);
}

async function signIn(key) {
  const list = await call("/v1/collections", { key });
  const wanted = sessionStorage.getItem(COLLECTION) || "default";
  $("collection").replaceChildren(...list.collections.map((c) =>
    el("option", { value: c.name, text: `${c.name} (${c.documents})`, selected: c.name === wanted })));
  if (key) keepKey(key);
  $("sign-out").hidden = !key;
  document.body.dataset.signedIn = key ? "key" : "server";
  show(true);
}

function signOut() {
  forgetKey();
  forgetThread();
  sessionStorage.clear();
  document.body.dataset.signedIn = "false";
  $("api-key").value = "";
  show(false);
  $("api-key").focus();
  window.location.reload();
}

async function start() {
  setupAsk(collection);
  setupDocuments(collection);
  $("tab-ask").addEventListener("click", () => openTab("ask"));
  $("tab-docs").addEventListener("click", () => openTab("docs"));
  $("sign-out").addEventListener("click", signOut);
  $("collection").addEventListener("change", () => {
    sessionStorage.setItem(COLLECTION, collection());
    if (!$("docs").hidden) refresh(collection);
  });
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("signin-error").textContent = "";
    try {
      await signIn($("api-key").value.trim());
      $("api-key").value = "";
      $("question").focus();
    } catch (err) {
      $("signin-error").textContent = err instanceof ApiError && err.status === 401
        ? "This key was not accepted." : `Could not sign in: ${err.message}`;
    }
  });
  const key = storedKey();
  if (key) {
    try { await signIn(key); return; } catch { forgetKey(); }
  }
  try { await signIn(null); return; } catch { /* a key is needed: show the form */ }
  document.body.dataset.signedIn = "false";
  show(false);
}

start();
