/** @jsxImportSource preact */
/// <reference lib="dom" />
// Files in the web client: attaching (a button, drag and drop, paste), the
// uploads on their way (progress, cancel, readable errors), and shared files
// in the conversation: images inline (a click opens them full size), any
// other file as a card with its name, size and a download link.
//
// An upload is an XMLHttpRequest (fetch reports no upload progress) of the
// raw bytes to POST /api/file/upload; once it is stored, the file is shared
// by a Msg of kind Image or File whose content is its id, through the
// store's outbox like any text: retried, and deduplicated by clientMsgId.
//
// <img> and <a download> cannot send the Bearer token, and the token never
// goes into a URL: POST /api/file/cookie sets an HttpOnly cookie limited to
// /api/file/, once per login and again after a reconnect (the server may have
// restarted, which ends every cookie) or when an image fails to load.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, call, getToken, type FileInfo } from "./api";
import * as store from "./store";
import { state } from "./store";
import "./files.css";

// ---------- sizes and names ----------

/** 1023 B, 47 KB, 3.2 MB: binary multiples, one decimal under 10. */
export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${v < 10 ? Math.floor(v * 10) / 10 : Math.round(v)} ${units[i]}`;
}

/** A name as base and extension, so that a long base can be cut short and the extension still show. */
function splitName(name: string): [string, string] {
  const dot = name.lastIndexOf(".");
  return dot > 0 && name.length - dot <= 10 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
}

// ---------- the cookie of <img> ----------

let cookieToken = "";
let cookieReady = false;
let cookieAsked: Promise<void> | null = null;
/** Counts the cookies set: a picture that failed under an older one only needs to try again. */
let cookieGen = 0;

/** Asks for the cookie of the current session (one request at a time). */
function refreshCookie(): Promise<void> {
  const token = getToken();
  if (cookieAsked && cookieToken === token) return cookieAsked;
  if (cookieToken !== token) cookieReady = false;
  cookieToken = token;
  const asked = call<boolean>("POST", "/file/cookie")
    .then(
      () => {},
      () => {}, // images then fail to load, and say so
    )
    .finally(() => {
      if (cookieToken !== token) return;
      cookieReady = true;
      cookieGen++;
      cookieAsked = null;
      store.changed();
    });
  cookieAsked = asked;
  return asked;
}

let lastLink = state.link;
store.subscribe(() => {
  if (!state.me) return;
  // A new login (or a page load with a saved token): a cookie for this session.
  if (getToken() !== cookieToken) void refreshCookie();
  // Back after a lost connection: the session may have ended meanwhile, or every cookie (the key removed, a restart).
  else if (state.link === "online" && lastLink === "offline") void refreshCookie();
  lastLink = state.link;
});

// ---------- uploads ----------

type Upload = {
  key: number;
  gid: number;
  file: File;
  name: string;
  sent: number;
  total: number;
  xhr: XMLHttpRequest | null;
  error: string;
  /** A failure that may pass on a second try (the network, the server's trouble), not a refusal. */
  retryable: boolean;
  /** Stored: waits only for the uploads before it in the same conversation, so messages keep the order files were picked in. */
  done: FileInfo | null;
};

let uploads: Upload[] = [];
let keys = 0;

const MIME_EXT: Record<string, string> = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp", "image/avif": "avif" };

/** Starts uploading each file to the conversation; each is shared there once it is stored. */
export function attach(gid: number, files: File[]) {
  for (const file of files) {
    // A pasted screenshot may come without a name.
    const name = file.name || `pasted-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}.${MIME_EXT[file.type] ?? "bin"}`;
    const u: Upload = { key: ++keys, gid, file, name, sent: 0, total: file.size, xhr: null, error: "", retryable: false, done: null };
    uploads.push(u);
    start(u);
  }
  store.changed();
}

function start(u: Upload) {
  u.error = "";
  u.sent = 0;
  const xhr = new XMLHttpRequest();
  u.xhr = xhr;
  xhr.open("POST", `/api/file/upload?name=${encodeURIComponent(u.name)}`);
  xhr.setRequestHeader("Authorization", `Bearer ${getToken()}`);
  xhr.setRequestHeader("Content-Type", u.file.type || "application/octet-stream");
  xhr.responseType = "json";
  xhr.upload.onprogress = (e) => {
    u.sent = e.loaded;
    if (e.lengthComputable) u.total = e.total;
    store.changed();
  };
  xhr.onload = () => {
    u.xhr = null;
    const env = xhr.response as { ok?: boolean; code?: number; msg?: string | null; data?: FileInfo } | null;
    if (env?.ok && env.data) {
      u.done = env.data;
      flush(u.gid);
    } else {
      const code = env?.code ?? xhr.status;
      u.error = uploadError(code, env?.msg ?? "", u.name);
      u.retryable = code === 0 || code === 429 || code >= 500;
      if (xhr.status === 401) void api.me().catch(() => {}); // the session is over: this signs out, saying so
    }
    store.changed();
  };
  xhr.onerror = () => {
    u.xhr = null;
    u.error = "Cannot reach the server. Check the connection and try again.";
    u.retryable = true;
    store.changed();
  };
  xhr.onabort = () => {
    if (u.xhr === xhr) forget(u);
  };
  xhr.send(u.file);
}

/** Shares, in the order they were picked, the stored files no unfinished upload before them holds back. */
function flush(gid: number) {
  for (const u of uploads.filter((x) => x.gid === gid)) {
    if (u.error) continue; // a failed one waits for Retry or Dismiss without holding the rest
    if (!u.done) return;
    forget(u);
    store.send(gid, u.done.id, u.done.mime.startsWith("image/") ? "Image" : "File", u.done);
  }
}

function forget(u: Upload) {
  uploads = uploads.filter((x) => x !== u);
  store.changed();
}

function cancel(u: Upload) {
  const xhr = u.xhr;
  u.xhr = null;
  forget(u);
  xhr?.abort();
  flush(u.gid);
}

/** The server's refusal in words for people (its own names the field and the flag). */
function uploadError(code: number, msg: string, name: string): string {
  const bytes = /(\d+) bytes/.exec(msg)?.[1];
  const limit = bytes ? ` of ${formatSize(Number(bytes))}` : "";
  if (code === 413 && /quota/i.test(msg)) return `Not sent: this would go over your upload quota${limit}. Ask an admin, or share a smaller file.`;
  if (code === 413) return `Too large: this server takes files up to ${bytes ? formatSize(Number(bytes)) : "a limit"}.`;
  if (code === 400 && /empty/i.test(msg)) return "The file is empty.";
  if (code === 400 && /^name/.test(msg)) return `The name “${name}” cannot be used: ${msg.replace(/^name:\s*/, "")}. Rename the file and try again.`;
  if (code === 401) return "Your session ended: log in again.";
  if (code === 0) return "Cannot reach the server. Check the connection and try again.";
  return msg ? `Not sent: ${msg}` : `Not sent (error ${code}).`;
}

// ---------- the ways in: button, paste, drop ----------

const paperclip = (
  <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
    <path
      d="M16.5 6.5 8.9 14.1a2 2 0 0 0 2.8 2.8l7.6-7.6a4 4 0 0 0-5.6-5.6l-7.9 7.9a6 6 0 0 0 8.5 8.5l6.4-6.4"
      fill="none"
      stroke="currentColor"
      stroke-width="1.8"
      stroke-linecap="round"
      stroke-linejoin="round"
    />
  </svg>
);

/** The composer's attach button: any number of files. */
export function AttachButton({ gid }: { gid: number }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button type="button" class="ghost attach" aria-label="Attach files" title="Attach files (or drop or paste them here)" onClick={() => input.current?.click()}>
        {paperclip}
      </button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        tabIndex={-1}
        aria-label="Files to attach"
        onChange={(e) => {
          const el = e.currentTarget;
          attach(gid, [...(el.files ?? [])]);
          el.value = ""; // the same file may be picked again
        }}
      />
    </>
  );
}

/** For the composer's paste: files on the clipboard (a screenshot) are attached; text pastes as text. */
export function pasteFiles(gid: number, e: ClipboardEvent) {
  const data = e.clipboardData;
  const files = [...(data?.files ?? [])];
  // Office programs put a picture of copied text beside the text: the text wins.
  if (files.length === 0 || data?.getData("text/plain")) return;
  e.preventDefault();
  attach(gid, files);
}

const carriesFiles = (e: DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes("Files");
let dragDepth = 0;
let dragGid = 0;
const dragEnd = () => {
  dragDepth = 0;
  dragGid = 0;
  store.changed();
};

/** Handlers for the conversation's element: files dropped anywhere on it are attached. */
export function dropTarget(gid: number) {
  return {
    onDragEnter(e: DragEvent) {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      dragDepth++;
      if (dragGid !== gid) (dragGid = gid), store.changed();
    },
    onDragOver(e: DragEvent) {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      e.dataTransfer!.dropEffect = "copy";
    },
    onDragLeave(e: DragEvent) {
      if (carriesFiles(e) && --dragDepth <= 0) dragEnd();
    },
    onDrop(e: DragEvent) {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      dragEnd();
      attach(gid, [...e.dataTransfer!.files]);
    },
  };
}

// A file dropped beside the conversation would make the browser leave the app to show it.
for (const type of ["dragover", "drop"] as const) {
  addEventListener(type, (e: DragEvent) => {
    if (carriesFiles(e) && !e.defaultPrevented) {
      e.preventDefault();
      e.dataTransfer!.dropEffect = "none";
    }
  });
}

/** Uploads on their way to this conversation (progress, cancel; errors with retry), and the hint while files are dragged over it. */
export function Uploads({ gid }: { gid: number }) {
  const mine = uploads.filter((u) => u.gid === gid);
  return (
    <>
      {dragGid === gid && (
        <div class="drop-hint" aria-hidden="true">
          <span>Drop files to send them</span>
        </div>
      )}
      {mine.length > 0 && (
        <ul class="uploads" aria-label="Uploads">
          {mine.map((u) => {
            const pct = u.total ? Math.min(100, Math.floor((u.sent / u.total) * 100)) : 0;
            const [base, ext] = splitName(u.name);
            return (
              <li key={u.key} class={u.error ? "upload failed" : "upload"} data-upload={u.name}>
                <span class="upload-name" title={u.name}>
                  <span class="base">{base}</span>
                  <span class="ext">{ext}</span>
                </span>
                {u.error ? (
                  <span class="upload-error" role="alert">
                    {u.error}
                  </span>
                ) : (
                  <span class="upload-progress">
                    <progress max={100} value={u.done ? 100 : pct} aria-label={`Uploading ${u.name}`} />
                    <small class="muted">{u.done ? "Sending…" : `${formatSize(u.sent)} of ${formatSize(u.total)}`}</small>
                  </span>
                )}
                <span class="upload-acts">
                  {u.error && u.retryable && (
                    <button type="button" class="ghost" onClick={() => start(u)} aria-label={`Retry ${u.name}`}>
                      Retry
                    </button>
                  )}
                  {!u.done && (
                    <button type="button" class="ghost" onClick={() => cancel(u)} aria-label={`${u.error ? "Dismiss" : "Cancel"} ${u.name}`}>
                      {u.error ? "Dismiss" : "Cancel"}
                    </button>
                  )}
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </>
  );
}

// ---------- shared files in the conversation ----------

type Shared = { kind?: string; content: string; file?: FileInfo };

/** Whether a message shares a file or a picture (these render with FileBubble, not as text). */
export const isFile = (m: Shared) => (m.kind === "File" || m.kind === "Image") && (!!m.file || m.kind === "File" || /^https?:\/\//i.test(m.content));

const fileUrl = (id: string) => `/api/file/${encodeURIComponent(id)}`;

/** An image inline (a click opens it full size) or a file's card. */
export function FileBubble({ m }: { m: Shared }) {
  const f = m.file;
  if (m.kind === "Image" && !f) return <Picture src={m.content} name="Picture" remote />;
  if (!f) return <FileCard file={{ id: m.content, name: "File", size: 0, mime: "" }} />;
  if (m.kind === "Image" && f.mime.startsWith("image/")) return <Picture src={fileUrl(f.id)} name={f.name} file={f} />;
  return <FileCard file={f} />;
}

function FileCard({ file }: { file: FileInfo }) {
  const ext = splitName(file.name)[1];
  const size = file.size ? formatSize(file.size) : "";
  return (
    <a
      class="file-card"
      href={fileUrl(file.id)}
      download={file.name}
      title={file.name}
      aria-label={`Download ${file.name}${size ? `, ${size}` : ""}`}
      onClick={() => void (cookieReady || refreshCookie())}
    >
      <span class="file-icon" aria-hidden="true">
        {ext.slice(1, 5).toUpperCase() || "FILE"}
      </span>
      <span class="file-text">
        <span class="file-name">{file.name}</span>
        <small>
          {size && `${size} · `}
          <span class="file-get">Download</span>
        </small>
      </span>
    </a>
  );
}

/** Keeps a conversation scrolled to its end when a picture there grows it, and its scroll bookkeeping right. */
function grew(img: HTMLImageElement) {
  const list = img.closest(".messages");
  if (!list) return;
  const fromEnd = list.scrollHeight - list.scrollTop - list.clientHeight;
  if (fromEnd < img.offsetHeight + 150) list.scrollTop = list.scrollHeight;
  list.dispatchEvent(new Event("scroll"));
}

function Picture({ src, name, file, remote }: { src: string; name: string; file?: FileInfo; remote?: boolean }) {
  const [tries, setTries] = useState(0);
  const [broken, setBroken] = useState(false);
  const [open, setOpen] = useState(false);
  /** The address shown, and the cookie it was asked for under. */
  const under = useRef({ url: "", gen: 0 });
  if (!remote && !cookieReady) {
    void refreshCookie();
    return <span class="picture waiting" aria-label={`${name}, loading`} />;
  }
  if (broken) {
    return file ? <FileCard file={file} /> : <span class="picture broken">Picture unavailable</span>;
  }
  // After a failure the cookie is asked for again (a restarted server ends it), and the picture once more.
  const url = tries ? `${src}${src.includes("?") ? "&" : "?"}try=${tries}` : src;
  if (under.current.url !== url) under.current = { url, gen: cookieGen };
  return (
    <>
      <button type="button" class="picture" onClick={() => setOpen(true)} aria-label={`Open ${name} full size`} title={name}>
        <img
          src={url}
          alt={name}
          referrerpolicy="no-referrer"
          onLoad={(e) => grew(e.currentTarget)}
          onError={() => {
            if (remote || tries > 0) return setBroken(true);
            const retry = () => setTries(1);
            // Failed under the cookie in force: ask for a new one first (a restarted server ended it).
            if (under.current.gen === cookieGen) void refreshCookie().then(retry);
            else retry();
          }}
        />
      </button>
      {open && <Lightbox src={url} name={name} file={file} close={() => setOpen(false)} />}
    </>
  );
}

function Lightbox({ src, name, file, close }: { src: string; name: string; file?: FileInfo; close(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog
      ref={ref}
      class="lightbox"
      aria-label={name}
      onClose={close}
      onClick={(e) => {
        if (e.target === e.currentTarget) ref.current?.close(); // the backdrop
      }}
    >
      <header>
        <h2 title={name}>{name}</h2>
        {file && (
          <a class="file-get" href={fileUrl(file.id)} download={file.name}>
            Download{file.size ? ` (${formatSize(file.size)})` : ""}
          </a>
        )}
        <button type="button" class="ghost" onClick={() => ref.current?.close()} aria-label="Close">
          ✕
        </button>
      </header>
      <img src={src} alt={name} referrerpolicy="no-referrer" />
    </dialog>
  );
}

// Signed out: uploads of that session end with it.
store.subscribe(() => {
  if (state.me || uploads.length === 0) return;
  const left = uploads;
  uploads = [];
  for (const u of left) u.xhr?.abort();
});

/** Uploads a picture for an avatar (no progress: pictures are small) and answers the avatar's address. */
export async function uploadAvatar(file: File): Promise<string> {
  const res = await fetch(`/api/file/upload?name=${encodeURIComponent(file.name || "avatar")}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${getToken()}`, "Content-Type": file.type || "application/octet-stream" },
    body: file,
  });
  const body = (await res.json().catch(() => null)) as { ok?: boolean; msg?: string; data?: { id: string; mime: string } } | null;
  if (!res.ok || !body?.data) throw new Error(body?.msg ?? `upload failed (${res.status})`);
  if (!body.data.mime.startsWith("image/")) throw new Error("that file is not a picture");
  return `/api/file/${body.data.id}`;
}
