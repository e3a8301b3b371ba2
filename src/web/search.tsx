/** @jsxImportSource preact */
/// <reference lib="dom" />
// Message search: the box in the sidebar's header asks GET
// /api/message/search as you type (debounced, from 2 characters); the
// results take the place of the conversation list until the box is emptied,
// each with its conversation, sender, time and the server's snippet. The
// snippet is HTML (matches in <mark>, the rest escaped) and is never given to
// innerHTML: it is split into text and <mark> elements here. A click opens the
// conversation, loads older history until the message is there, scrolls to
// it and highlights it.
import type { ComponentChildren } from "preact";
import { api, call, type SearchHit } from "./api";
import * as store from "./store";
import { state } from "./store";
import "./search.css";

// ---------- the snippet, without innerHTML ----------

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const ENTITY = /&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|(amp|lt|gt|quot|apos));/gi;

/** Decodes the character references the server writes (&#NN;), and the few named ones. */
export function decodeEntities(s: string): string {
  return s.replace(ENTITY, (all, dec: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (name) return NAMED[name.toLowerCase()]!;
    const n = dec ? parseInt(dec, 10) : parseInt(hex!, 16);
    return n > 0 && n <= 0x10ffff && (n < 0xd800 || n > 0xdfff) ? String.fromCodePoint(n) : all;
  });
}

/** The snippet as pieces of text, each inside a <mark> or not. Any other markup stays text. */
export function snippetParts(html: string): { text: string; mark: boolean }[] {
  const out: { text: string; mark: boolean }[] = [];
  let mark = false;
  for (const piece of html.split(/(<\/?mark>)/i)) {
    if (/^<mark>$/i.test(piece)) mark = true;
    else if (/^<\/mark>$/i.test(piece)) mark = false;
    else if (piece) out.push({ text: decodeEntities(piece), mark });
  }
  return out;
}

export const Snippet = ({ html }: { html: string }) => (
  <span class="snippet">{snippetParts(html).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : p.text))}</span>
);

// ---------- the search ----------

const LIMIT = 20;
const MIN = 2;

const found = {
  q: "",
  /** The query the hits answer. */
  answered: "",
  hits: [] as SearchHit[],
  more: false,
  busy: false,
  error: "",
};
let asked = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

const enough = (q: string) => [...q.trim()].length >= MIN;

function type(q: string) {
  found.q = q;
  clearTimeout(timer);
  asked++; // whatever is on its way answers an older query
  if (!enough(q)) Object.assign(found, { answered: "", hits: [], more: false, busy: false, error: "" });
  else {
    found.busy = true;
    timer = setTimeout(() => void ask(q.trim(), false), 250);
  }
  store.changed();
}

async function ask(q: string, more: boolean) {
  const n = ++asked;
  found.busy = true;
  found.error = "";
  store.changed();
  const params = new URLSearchParams({ q, limit: String(LIMIT) });
  if (more && found.hits.length) params.set("beforeId", String(found.hits.at(-1)!.id));
  try {
    const hits = await call<SearchHit[]>("GET", "/message/search?" + params);
    if (n !== asked) return;
    found.hits = more ? [...found.hits, ...hits] : hits;
    found.answered = q;
    found.more = hits.length === LIMIT;
    learnSenders(hits);
  } catch (e) {
    if (n !== asked) return;
    found.error = (e as Error).message.replace(/^q:\s*/, "");
    if (!more) (found.hits = []), (found.answered = q);
  }
  found.busy = false;
  store.changed();
}

const asking = new Set<number>();
/** Senders not met yet: their names come after the results. */
function learnSenders(hits: SearchHit[]) {
  for (const uid of new Set(hits.map((h) => h.uid))) {
    if (state.users.has(uid) || asking.has(uid)) continue;
    asking.add(uid);
    api
      .user(uid)
      .then((u) => (state.users.set(u.id, u), store.changed()))
      .catch(() => {})
      .finally(() => asking.delete(uid));
  }
}

function clear() {
  type("");
}

// Signed out: the next person starts with an empty box.
store.subscribe(() => {
  if (!state.me && found.q) {
    clearTimeout(timer);
    asked++;
    Object.assign(found, { q: "", answered: "", hits: [], more: false, busy: false, error: "" });
  }
});

// ---------- going to a result ----------

/** Pages of older history fetched while looking for a message. */
const JUMP_PAGE = 100;

const nextFrame = () => new Promise<void>((res) => requestAnimationFrame(() => res()));

/** Opens the message's conversation, loads older pages until the message is there, scrolls to it and highlights it. */
export async function showMessage(gid: number, id: number) {
  const c = state.convs.get(gid);
  if (!c) return store.note("That conversation is no longer in your list.");
  store.openConv(gid);
  while (!c.ids.has(id) && !(c.loaded && !c.hasOlder)) {
    const oldest = c.msgs[0]?.id;
    const wasLoaded = c.loaded;
    await store.loadHistory(c, JUMP_PAGE);
    if (state.open !== gid) return; // the person moved on
    if (!c.loaded || (wasLoaded && c.msgs[0]?.id === oldest)) return; // nothing came (the reason is on screen)
  }
  if (!c.ids.has(id)) return store.note("That message is no longer there.");
  await nextFrame();
  const el = document.querySelector<HTMLElement>(`.messages [data-msg-id="${id}"]`);
  if (!el) return;
  el.scrollIntoView({ block: "center" });
  // Highlighted for a moment, and focused so that keyboard and screen reader users land on it.
  el.tabIndex = -1;
  el.focus({ preventScroll: true });
  delete el.dataset.found;
  void el.offsetWidth; // restarts the animation when the same message is found again
  el.dataset.found = "";
  el.addEventListener("animationend", () => delete el.dataset.found, { once: true });
}

// ---------- the box and the results ----------

const today = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};
/** "HH:MM" today, "MM-DD HH:MM" this year, else the date. */
function when(t: string): string {
  const [date = "", time = ""] = t.split(" ");
  if (date === today()) return time.slice(0, 5);
  return date.slice(0, 4) === today().slice(0, 4) ? `${date.slice(5)} ${time.slice(0, 5)}` : date;
}

const RESULTS = "search-results";
const hitButtons = () => [...document.querySelectorAll<HTMLButtonElement>(`#${RESULTS} .hit`)];

/** The box, in the sidebar's header. */
export function SearchBox() {
  return (
    <div class="search-box" role="search">
      <input
        type="search"
        value={found.q}
        placeholder="Search messages"
        aria-label="Search messages"
        aria-controls={RESULTS}
        autocomplete="off"
        enterkeyhint="search"
        maxLength={200}
        onInput={(e) => type(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape" && found.q) {
            e.preventDefault();
            clear();
          } else if (e.key === "ArrowDown" || (e.key === "Enter" && !e.isComposing)) {
            const first = hitButtons()[0];
            if (first) (e.preventDefault(), first.focus());
          }
        }}
      />
    </div>
  );
}

/** While the box holds a query, its results; otherwise `children` (the conversation list). */
export function SearchResults({ children }: { children: ComponentChildren }) {
  if (!found.q.trim()) return <>{children}</>;
  const q = found.q.trim();
  const status = !enough(q)
    ? `Type at least ${MIN} characters.`
    : found.error
      ? found.error
      : found.answered !== q || (found.busy && found.hits.length === 0)
        ? "Searching…"
        : found.hits.length === 0
          ? `No messages match “${q}”.`
          : `${found.hits.length}${found.more ? "+" : ""} ${found.hits.length === 1 ? "message" : "messages"}`;
  const move = (e: KeyboardEvent) => {
    const all = hitButtons();
    const i = all.indexOf(document.activeElement as HTMLButtonElement);
    if (i < 0) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (e.key === "ArrowUp" && i === 0) return document.querySelector<HTMLInputElement>(".search-box input")?.focus();
      all[Math.min(all.length - 1, Math.max(0, i + (e.key === "ArrowDown" ? 1 : -1)))]?.focus();
    } else if (e.key === "Escape") {
      e.preventDefault();
      document.querySelector<HTMLInputElement>(".search-box input")?.focus();
    }
  };
  return (
    <div class="search-results" id={RESULTS} aria-label="Search results" role="region">
      <p class={found.error ? "search-status error" : "search-status muted"} role="status">
        {status}
      </p>
      {found.hits.length > 0 && (
        <ul class="hits" onKeyDown={move}>
          {found.hits.map((h) => {
            const c = state.convs.get(h.gid);
            return (
              <li key={h.id}>
                <button type="button" class={"hit" + (state.open === h.gid ? " active" : "")} onClick={() => void showMessage(h.gid, h.id)} data-msg-id={h.id}>
                  <span class="hit-top">
                    <strong class="hit-conv">{c ? store.title(c) : "Conversation"}</strong>
                    <time>{when(h.createTime)}</time>
                  </span>
                  <span class="hit-text">
                    <span class="hit-who">{store.userName(h.uid)}: </span>
                    <Snippet html={h.snippet} />
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {found.more && (
        <button type="button" class="link more-hits" disabled={found.busy} onClick={() => void ask(found.answered, true)}>
          {found.busy ? "Loading…" : "More results"}
        </button>
      )}
    </div>
  );
}
