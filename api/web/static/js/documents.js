// Documents: drag-and-drop upload with each file's result from its job, the list, delete.
import { call } from "./api.js";
import { fileName } from "./ask.js";
import { $, el } from "./dom.js";

const DONE = new Set(["succeeded", "partial", "failed"]);
let next = null;

function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function row(doc, collection) {
  const remove = el("button", {
    type: "button", class: "secondary delete", text: "Delete",
    "aria-label": `Delete ${fileName(doc.source)}`,
    onclick: async () => {
      if (!window.confirm(`Delete ${fileName(doc.source)}? Its passages leave the index.`)) return;
      try {
        await call(`/v1/documents/${encodeURIComponent(doc.id)}?collection=${encodeURIComponent(collection())}`,
          { method: "DELETE" });
        await refresh(collection);
      } catch (err) {
        $("docs-error").textContent = err.message;
      }
    },
  });
  const tr = el("tr", { "data-id": doc.id },
    el("td", { class: "name", text: fileName(doc.source), title: doc.source }),
    el("td", { class: "status", text: doc.status }),
    el("td", { text: doc.pages ?? "" }),
    el("td", { text: doc.chunks ?? "" }),
    el("td", { text: (doc.groups || []).join(", ") || "everyone" }),
    el("td", {}, remove));
  if (doc.error) tr.children[1].append(el("div", { class: "err", text: doc.error }));
  return tr;
}

export async function refresh(collection, more = false) {
  const params = new URLSearchParams({ collection: collection(), limit: "50" });
  const name = $("doc-search").value.trim();
  if (name) params.set("name", name);
  if (more && next) params.set("cursor", next);
  $("docs-error").textContent = "";
  try {
    const page = await call(`/v1/documents?${params}`);
    const rows = page.documents.map((d) => row(d, collection));
    if (more) $("doc-rows").append(...rows); else $("doc-rows").replaceChildren(...rows);
    if (!rows.length && !more) {
      $("doc-rows").append(el("tr", {}, el("td", { colSpan: 6, text: "No documents." })));
    }
    next = page.next;
    $("more-docs").hidden = !next;
  } catch (err) {
    $("docs-error").textContent = err.message;
  }
}

async function upload(files, collection) {
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  const groups = $("upload-groups").value.trim();
  if (groups) form.append("groups", groups);
  form.append("collection", collection());
  const item = el("li", { class: "upload", text: `${files.map((f) => f.name).join(", ")}: uploading` });
  $("uploads").prepend(item);
  try {
    let job = await call("/v1/documents", { method: "POST", body: form });
    item.dataset.job = job.job_id;
    for (;;) {
      job = await call(`/v1/jobs/${encodeURIComponent(job.job_id)}`);
      const progress = job.progress !== undefined ? ` ${Math.round(job.progress * 100)} %` : "";
      item.replaceChildren(`Job ${job.status}${job.status in { queued: 1, running: 1 } ? progress : ""}`,
        el("ul", {}, ...(job.files || []).map((f) =>
          el("li", { class: `file ${f.status}` }, `${f.name}: ${f.status}`,
            f.error ? el("span", { class: "err", text: ` ${f.error}` }) : null))));
      if (DONE.has(job.status)) break;
      await wait(500);
    }
    item.dataset.status = job.status;
  } catch (err) {
    item.replaceChildren(el("span", { class: "err", text: `Upload refused: ${err.message}` }));
    item.dataset.status = "refused";
  }
  await refresh(collection);
}

export function setupDocuments(collection) {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    upload([...e.dataTransfer.files], collection);
  });
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("files").click(); }
  });
  $("files").addEventListener("change", () => {
    const files = [...$("files").files];
    $("files").value = "";
    upload(files, collection);
  });
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); refresh(collection); });
  $("more-docs").addEventListener("click", () => refresh(collection, true));
}
