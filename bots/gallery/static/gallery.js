// The gallery page: trades the pass in its address for a session, then lists, searches,
// copies and deletes through the API. Every text from an upload goes in as text, never
// as HTML: a title is whatever its uploader typed.
"use strict";

const texts = JSON.parse(document.getElementById("texts").textContent);
const API = "gallery/api/";
const SESSION = "picloud-gallery-session";
const SEARCH_PAUSE_MS = 300;
const COPIED_FOR_MS = 1500;

const $ = (id) => document.getElementById(id);
const state = { session: null, query: "", nextOffset: null, form: "md", shown: null, asked: 0 };

function element(tag, attributes = {}, text = "") {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  made.textContent = text;
  return made;
}

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

async function call(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.session}`, ...(options.headers || {}) };
  const answer = await fetch(API + path, { ...options, headers });
  const body = await answer.json().catch(() => ({}));
  if (answer.status === 401) {
    sessionStorage.removeItem(SESSION);
    throw new Error(texts.session_over);
  }
  return { ok: answer.ok, body };
}

// The pass arrives in the address's fragment: a one-time link's (#link=) or, in a
// Telegram Mini App, Telegram's signed sign-in (#tgWebAppData=).
async function signIn() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const telegram = fragment.get("tgWebAppData");
  const link = fragment.get("link");
  if (telegram) startTelegram();
  if (link) history.replaceState(null, "", location.pathname + location.search);
  if (telegram || link) {
    const answer = await fetch(API + "session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(telegram ? { telegram } : { link }),
    });
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new Error(texts[`refused_${body.error}`] || texts.failed);
    sessionStorage.setItem(SESSION, body.session);
  }
  state.session = sessionStorage.getItem(SESSION);
  if (!state.session) throw new Error(texts.no_pass);
}

function startTelegram() {
  const script = element("script", { src: "https://telegram.org/js/telegram-web-app.js" });
  script.onload = () => {
    window.Telegram.WebApp.ready();
    window.Telegram.WebApp.expand();
  };
  document.head.append(script);
}

async function load(fromStart) {
  const asked = ++state.asked;
  const offset = fromStart ? 0 : state.nextOffset;
  const query = new URLSearchParams({ q: state.query, offset: String(offset) });
  const { ok, body } = await call(`uploads?${query}`);
  if (asked !== state.asked) return; // a newer search answered first
  if (!ok) throw new Error(texts.failed);
  if (fromStart) $("grid").replaceChildren();
  $("grid").append(...body.items.map(tile));
  state.nextOffset = body.next_offset;
  $("more").hidden = body.next_offset === null;
  const none = $("grid").children.length === 0;
  notice(none ? (state.query ? texts.no_match : texts.empty) : "");
}

function tile(item) {
  const button = element("button", { type: "button", class: "tile", "data-id": item.id });
  const picture = element("img", { src: item.thumb, alt: item.title, loading: "lazy" });
  button.append(picture, element("span", { class: "caption" }, item.title));
  button.addEventListener("click", () => showDetails(item, button));
  return button;
}

function showDetails(item, shownBy) {
  state.shown = { item, tile: shownBy };
  $("details-title").textContent = item.title;
  $("details-open").href = item.viewer;
  $("details-picture").src = item.preview;
  $("details-picture").alt = item.title;
  const links = [["viewer", item.viewer], ["direct", item.direct]].filter(([, url]) => url);
  $("links").replaceChildren(...links.map(([label, url]) => codeRow(texts[label], url)));
  const forms = Object.keys(item.codes);
  $("forms").replaceChildren(...forms.map((form) => formTab(form, item)));
  $("forms").hidden = forms.length === 0;
  showCodes(item);
  $("details-error").textContent = "";
  $("details").showModal();
}

function formTab(form, item) {
  const tab = element("button", { type: "button", role: "tab", "data-form": form }, texts[`form_${form}`]);
  tab.addEventListener("click", () => {
    state.form = form;
    showCodes(item);
  });
  return tab;
}

function showCodes(item) {
  for (const tab of $("forms").children) {
    tab.setAttribute("aria-selected", String(tab.dataset.form === state.form));
  }
  const codes = item.codes[state.form] || [];
  $("codes").replaceChildren(...codes.map(([variant, code]) => codeRow(texts[`variant_${variant}`], code)));
}

function codeRow(label, code) {
  const row = element("div", { class: "code" });
  const copy = element("button", { type: "button", class: "copy" }, texts.copy);
  copy.addEventListener("click", async () => {
    await copyText(code);
    copy.textContent = texts.copied;
    setTimeout(() => (copy.textContent = texts.copy), COPIED_FOR_MS);
  });
  row.append(element("span", { class: "label" }, label), element("code", {}, code), copy);
  return row;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Some web views keep the clipboard API from pages: the old way still works there.
    const area = element("textarea", { readonly: "" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

async function deleteShown() {
  const { item, tile: shownTile } = state.shown;
  $("confirm").close();
  const { ok, body } = await call(`uploads/${encodeURIComponent(item.id)}`, { method: "DELETE" });
  if (!ok && body.error !== "gone") throw new Error(texts[body.error] || texts.failed);
  $("details").close();
  shownTile.remove();
  if (state.nextOffset !== null) state.nextOffset -= 1; // the next page starts one sooner
  notice(texts.deleted);
}

function guarded(work) {
  return (...args) => work(...args).catch((error) => notice(error.message));
}

function wire() {
  $("close").textContent = texts.close;
  $("delete").textContent = texts.delete;
  $("keep").textContent = texts.keep;
  $("confirm-delete").textContent = texts.delete;
  $("confirm-text").textContent = texts.confirm;
  $("close").addEventListener("click", () => $("details").close());
  $("delete").addEventListener("click", () => $("confirm").showModal());
  $("keep").addEventListener("click", () => $("confirm").close());
  // A failed deletion is said in the dialog, where the user tries again.
  $("confirm-delete").addEventListener("click", () =>
    deleteShown().catch((error) => ($("details-error").textContent = error.message)),
  );
  $("more").addEventListener("click", guarded(() => load(false)));
  let pause = null;
  $("search").addEventListener("input", () => {
    clearTimeout(pause);
    pause = setTimeout(
      guarded(() => {
        state.query = $("search").value.trim();
        return load(true);
      }),
      SEARCH_PAUSE_MS,
    );
  });
}

wire();
guarded(async () => {
  await signIn();
  await load(true);
})();
