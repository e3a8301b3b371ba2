/** @jsxImportSource preact */
/// <reference lib="dom" />
// One conversation: its header (who is typing, who is online), the messages
// (replies with a quote of what they answer, reactions, "edited" and
// "deleted" marks, Markdown and mentions), each with its actions on hover or
// long-press (reply, react, edit, delete), and the composer (replying,
// editing, @ to mention a member; Up edits your last message, Escape
// cancels).
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { MODE } from "./api";
import { AttachButton, dropTarget, FileBubble, isFile, pasteFiles, Uploads } from "./files";
import { plain, RichText, type Mentionable } from "./markdown";
import { showMessage } from "./search";
import * as store from "./store";
import { state, type Conv, type Msg, type Pending } from "./store";
import { Avatar, Modal, when } from "./ui";
import "./conversation.css";

/** The reactions offered by the picker. */
export const EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

const icon = (d: string) => (
  <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
    <path d={d} fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" />
  </svg>
);
const ICONS = {
  reply: icon("M9 14 4 9l5-5M4 9h10a6 6 0 0 1 6 6v5"),
  react: icon("M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18ZM8 14s1.5 2 4 2 4-2 4-2M9 9.5h.01M15 9.5h.01"),
  edit: icon("M4 20h4L19 9l-4-4L4 16v4ZM13.5 6.5l4 4"),
  delete: icon("M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"),
};

/** The conversation's picture: a direct chat shows the other person (their colour, their presence). */
export const convAvatar = (c: Conv) => (c.group.mode === MODE.direct ? c.peer?.avatar : c.group.avatar);
export const convColour = (c: Conv) => (c.group.mode === MODE.direct && c.peer ? c.peer.id : c.group.id);

/** A preview of a message in one line: Markdown marks left out. */
export const oneLine = (m: { kind?: string; content: string; file?: Msg["file"]; deleted?: boolean }) =>
  !m.deleted && !m.file && (m.kind === "Text" || m.kind === "RichText" || !m.kind) ? plain(m.content) : store.summary(m);

/** "Ann is typing…", "Ann and Ben are typing…", "3 people are typing…". */
export function typingLine(c: Conv): string {
  const names = store.typingNames(c);
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

/** The accounts a message may mention: the group's members and "all". */
function mentionable(c: Conv): Mentionable | undefined {
  const me = state.me;
  if (!me) return undefined;
  return { accounts: new Set((c.members ?? []).map((m) => m.user.account.toLowerCase())), me: me.account.toLowerCase() };
}

const statusOf = (c: Conv, m: Msg) => {
  const n = store.readBy(c, m);
  return n === 0 ? "Sent" : c.group.mode === MODE.direct ? "Seen" : `Read by ${n}`;
};

function PendingItem({ c, p }: { c: Conv; p: Pending }) {
  return (
    <li class="msg mine" data-state={p.state} data-client-id={p.clientMsgId}>
      {p.replyTo && <Quote c={c} id={p.replyTo} />}
      {isFile(p) ? <FileBubble m={p} /> : <div class="bubble">{p.content}</div>}
      <small class="meta">
        {p.state === "sending" ? (
          <span class="status">{state.link === "online" ? "Sending…" : "Waiting for connection…"}</span>
        ) : (
          <span class="status failed">
            Not sent{p.error ? `: ${p.error}` : ""}.{" "}
            <button type="button" class="link" onClick={() => store.retry(p)}>
              Retry
            </button>{" "}
            <button type="button" class="link" onClick={() => store.discard(p)}>
              Discard
            </button>
          </span>
        )}
      </small>
    </li>
  );
}

/** The message a reply answers, in short; a click goes to it (loading older history if it must). */
function Quote({ c, id }: { c: Conv; id: number }) {
  const m = store.quoted(c, id);
  const text = m ? oneLine(m) : "…";
  return (
    <button type="button" class="quote" data-reply-to={id} onClick={() => void showMessage(c.group.id, id)} title="Show the message this answers">
      <strong>{m ? store.userName(m.uid) : "Reply"}</strong>
      <span class={m?.deleted ? "quote-text deleted" : "quote-text"}>{text}</span>
    </button>
  );
}

/** Runs a change of a message; a refusal is shown as a note. */
const attempt = (p: Promise<unknown>) => p.catch((e) => store.note((e as Error).message));

function Reactions({ c, m }: { c: Conv; m: Msg }) {
  if (m.reactions.length === 0) return null;
  const me = state.me!.id;
  return (
    <div class="reactions">
      {m.reactions.map((r) => {
        const names = r.uids.map(store.userName).join(", ");
        const mine = r.uids.includes(me);
        return (
          <button
            type="button"
            key={r.emoji}
            class={mine ? "reaction mine" : "reaction"}
            data-emoji={r.emoji}
            aria-pressed={mine}
            aria-label={`${r.emoji} ${r.uids.length}: ${names}`}
            title={names}
            onClick={() => void attempt(store.react(c, m, r.emoji))}
          >
            <span class="emoji">{r.emoji}</span>
            <span class="count">{r.uids.length}</span>
          </button>
        );
      })}
    </div>
  );
}

type ItemProps = {
  c: Conv;
  m: Msg;
  showName: boolean;
  showMeta: boolean;
  status: string | null;
  who: Mentionable | undefined;
  menu: boolean;
  setMenu(id: number | null): void;
  onReply(m: Msg): void;
  onEdit(m: Msg): void;
  onDelete(m: Msg): void;
};

const LONG_PRESS = 500;

function MessageItem({ c, m, showName, showMeta, status, who, menu, setMenu, onReply, onEdit, onDelete }: ItemProps) {
  const mine = m.uid === state.me?.id;
  const [picking, setPicking] = useState(false);
  const press = useRef<{ timer: ReturnType<typeof setTimeout>; x: number; y: number } | null>(null);
  const li = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (!menu) setPicking(false);
  }, [menu]);
  // What opens at the bottom of the list is scrolled into view.
  useLayoutEffect(() => {
    const el = li.current?.querySelector(picking ? ".emoji-picker" : ".msg-actions");
    if ((picking || menu) && el) el.scrollIntoView({ block: "nearest" });
  }, [menu, picking]);
  // The picker closes on a click anywhere else.
  useEffect(() => {
    if (!picking) return;
    const away = (e: Event) => !li.current?.contains(e.target as Node) && setPicking(false);
    document.addEventListener("pointerdown", away);
    return () => document.removeEventListener("pointerdown", away);
  }, [picking]);
  const endPress = () => {
    if (press.current) clearTimeout(press.current.timer);
    press.current = null;
  };
  const file = !m.deleted && isFile(m);
  const act = (fn: () => void) => () => {
    setMenu(null);
    setPicking(false);
    fn();
  };
  const cls = ["msg", mine && "mine", menu && "menu-open", m.deleted && "deleted"].filter(Boolean).join(" ");
  return (
    <li
      ref={li}
      class={cls}
      data-msg-id={m.id}
      onContextMenu={(e) => {
        // A long press on a phone, a right click elsewhere: the actions. Links and pictures keep the browser's menu.
        if (m.deleted || (e.target as Element).closest("a, img")) return;
        e.preventDefault();
        setMenu(m.id);
      }}
      onPointerDown={(e) => {
        if (e.pointerType !== "touch" || m.deleted) return;
        endPress();
        press.current = { x: e.clientX, y: e.clientY, timer: setTimeout(() => (setMenu(m.id), (press.current = null)), LONG_PRESS) };
      }}
      onPointerMove={(e) => {
        const p = press.current;
        if (p && Math.hypot(e.clientX - p.x, e.clientY - p.y) > 10) endPress();
      }}
      onPointerUp={endPress}
      onPointerCancel={endPress}
    >
      {showName && <span class="sender">{store.userName(m.uid)}</span>}
      {m.replyTo !== null && !m.deleted && <Quote c={c} id={m.replyTo} />}
      <div class="msg-body">
        {m.deleted ? (
          <p class="bubble deleted">Message deleted</p>
        ) : file ? (
          <FileBubble m={m} />
        ) : (
          <div class="bubble">
            <RichText content={m.content} who={who} />
          </div>
        )}
        {!m.deleted && (
          <div class="msg-actions" role="toolbar" aria-label="Message actions">
            <button type="button" class="ghost" aria-label="Reply" title="Reply" onClick={act(() => onReply(m))}>
              {ICONS.reply}
            </button>
            <button type="button" class="ghost" aria-label="React" title="React" aria-expanded={picking} onClick={() => setPicking(!picking)}>
              {ICONS.react}
            </button>
            {mine && !file && (
              <button type="button" class="ghost" aria-label="Edit" title="Edit" onClick={act(() => onEdit(m))}>
                {ICONS.edit}
              </button>
            )}
            {store.mayDelete(c, m) && (
              <button type="button" class="ghost" aria-label="Delete" title="Delete" onClick={act(() => onDelete(m))}>
                {ICONS.delete}
              </button>
            )}
          </div>
        )}
        {picking && !m.deleted && (
          <div
            class="emoji-picker"
            role="group"
            aria-label="Pick a reaction"
            onKeyDown={(e) => {
              if (e.key === "Escape") (e.stopPropagation(), setPicking(false));
            }}
          >
            {EMOJI.map((e) => (
              <button type="button" key={e} class="ghost" aria-label={`React with ${e}`} onClick={act(() => void attempt(store.react(c, m, e)))}>
                {e}
              </button>
            ))}
          </div>
        )}
      </div>
      {!m.deleted && <Reactions c={c} m={m} />}
      {(showMeta || m.editedAt) && (
        <small class="meta">
          <time>{when(m.createTime)}</time>
          {m.editedAt && !m.deleted && (
            <span class="edited" title={`Edited ${when(m.editedAt)}`}>
              edited
            </span>
          )}
          {status && <span class="status">{status}</span>}
        </small>
      )}
    </li>
  );
}

function Messages({ c, onReply, onEdit }: { c: Conv; onReply(m: Msg): void; onEdit(m: Msg): void }) {
  const ref = useRef<HTMLOListElement>(null);
  const [menu, setMenu] = useState<number | null>(null);
  const [deleting, setDeleting] = useState<Msg | null>(null);
  const pending = state.outbox.filter((p) => p.gid === c.group.id);
  const first = c.msgs[0]?.id ?? 0;
  const last = pending.length ? pending.at(-1)!.clientMsgId : store.lastMsg(c)?.id ?? 0;
  const prev = useRef({ gid: 0, first: 0, last: 0 as number | string, height: 0, top: 0 });

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const p = prev.current;
    // Where the view was before this render grew the list (scrollTop is current, even before its scroll event).
    const wasNearBottom = p.height - el.scrollTop - el.clientHeight < 120;
    if (p.gid !== c.group.id) el.scrollTop = el.scrollHeight; // just opened
    else if (first !== p.first && last === p.last) el.scrollTop = el.scrollHeight - p.height + p.top; // older page above
    else if (el.scrollHeight !== p.height && (wasNearBottom || (last !== p.last && pending.length > 0))) el.scrollTop = el.scrollHeight; // new at the bottom, or a reaction or an edit growing it
    prev.current = { gid: c.group.id, first, last, height: el.scrollHeight, top: el.scrollTop };
    // A short first page that does not fill the view: fetch more right away.
    if (c.loaded && c.hasOlder && !c.loadingOlder && el.scrollHeight <= el.clientHeight) store.loadHistory(c);
  });

  // An open menu (long press) closes on a tap anywhere else, or Escape.
  useEffect(() => {
    if (menu === null) return;
    const away = (e: Event) => {
      if (!(e.target as Element).closest?.(".msg.menu-open")) setMenu(null);
    };
    const esc = (e: KeyboardEvent) => e.key === "Escape" && setMenu(null);
    document.addEventListener("pointerdown", away);
    document.addEventListener("keydown", esc);
    return () => (document.removeEventListener("pointerdown", away), document.removeEventListener("keydown", esc));
  }, [menu]);

  const onScroll = () => {
    const el = ref.current!;
    prev.current.top = el.scrollTop;
    prev.current.height = el.scrollHeight;
    if (el.scrollTop < 120 && c.loaded && c.hasOlder && !c.loadingOlder) store.loadHistory(c);
  };

  const group = c.group.mode !== MODE.direct;
  const who = mentionable(c);
  // A status shows where it changes: read cursors only move forward, so an
  // own message is read by at least as many as any later one.
  const statuses: (string | null)[] = [];
  let after: string | null = null;
  for (let i = c.msgs.length - 1; i >= 0; i--) {
    const m = c.msgs[i]!;
    if (m.uid !== state.me?.id) continue;
    const st = statusOf(c, m);
    statuses[i] = st !== after ? st : null;
    after = st;
  }
  return (
    <>
      <ol class="messages" ref={ref} onScroll={onScroll} aria-label="Messages" aria-live="polite">
        <li class="history-edge muted">{c.loadingOlder ? "Loading…" : c.loaded && !c.hasOlder ? "Start of the conversation" : ""}</li>
        {c.msgs.map((m, i) => {
          const mine = m.uid === state.me?.id;
          const before = c.msgs[i - 1];
          const showName = group && !mine && (before?.uid !== m.uid || m.replyTo !== null);
          // The time shows once per run of one sender's messages within a minute.
          const next = c.msgs[i + 1];
          const showMeta = !!statuses[i] || !next || next.uid !== m.uid || when(next.createTime) !== when(m.createTime) || next.replyTo !== null;
          return (
            <MessageItem
              key={m.id}
              c={c}
              m={m}
              showName={showName}
              showMeta={showMeta}
              status={statuses[i] ?? null}
              who={who}
              menu={menu === m.id}
              setMenu={setMenu}
              onReply={onReply}
              onEdit={onEdit}
              onDelete={setDeleting}
            />
          );
        })}
        {pending.map((p) => (
          <PendingItem key={p.clientMsgId} c={c} p={p} />
        ))}
      </ol>
      {deleting && <DeleteMessage c={c} m={deleting} close={() => setDeleting(null)} />}
    </>
  );
}

function DeleteMessage({ c, m, close }: { c: Conv; m: Msg; close(): void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const mine = m.uid === state.me?.id;
  return (
    <Modal title="Delete message" onClose={close}>
      <div class="stack">
        <p>{mine ? "Delete this message for everyone?" : `Delete ${store.userName(m.uid)}'s message for everyone?`}</p>
        <blockquote class="delete-preview">{oneLine(m)}</blockquote>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="row end">
          <button type="button" class="ghost" onClick={close}>
            Cancel
          </button>
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              try {
                await store.remove(c, m);
                close();
              } catch (e) {
                setError((e as Error).message);
                setBusy(false);
              }
            }}
          >
            Delete for everyone
          </button>
        </div>
      </div>
    </Modal>
  );
}

// ---------- the composer ----------

/** The `@name` being typed just before the caret, if any. */
function mentionAt(text: string, caret: number): { from: number; q: string } | null {
  const m = /(^|[^A-Za-z0-9_])@([A-Za-z0-9_.\-]*)$/.exec(text.slice(0, caret));
  return m ? { from: caret - m[2]!.length - 1, q: m[2]!.toLowerCase() } : null;
}

type Option = { account: string; name: string; id: number; avatar?: string };

function mentionOptions(c: Conv, q: string): Option[] {
  const me = state.me!.id;
  const people = (c.members ?? []).filter((m) => m.user.id !== me).map((m) => m.user);
  const hit = (u: { account: string; name: string }) => u.account.toLowerCase().startsWith(q) || u.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q));
  const found: Option[] = people.filter(hit).sort((a, b) => a.name.localeCompare(b.name)).map((u) => ({ account: u.account, name: u.name, id: u.id, avatar: u.avatar }));
  if (c.group.mode !== MODE.direct && "all".startsWith(q)) found.push({ account: "all", name: "Everyone here", id: c.group.id });
  return found.slice(0, 8);
}

function Composer({ c, reply, editing, onReply, onEdit }: { c: Conv; reply: Msg | null; editing: Msg | null; onReply(m: Msg | null): void; onEdit(m: Msg | null): void }) {
  const gid = c.group.id;
  const [text, setText] = useState("");
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [closed, setClosed] = useState(false);
  /** What was being written when editing started: it comes back when editing ends. */
  const draft = useRef<string | null>(null);
  const moveTo = useRef<number | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (matchMedia("(min-width: 700px)").matches) ref.current?.focus();
  }, []);
  const editingId = editing?.id;
  useEffect(() => {
    if (editing) {
      draft.current ??= text;
      setText(editing.content);
      moveTo.current = editing.content.length;
      ref.current?.focus();
    } else if (draft.current !== null) {
      setText(draft.current);
      moveTo.current = draft.current.length;
      draft.current = null;
    }
  }, [editingId]);
  useEffect(() => {
    if (reply) ref.current?.focus();
  }, [reply?.id]);
  useLayoutEffect(() => {
    if (moveTo.current === null || !ref.current) return;
    ref.current.setSelectionRange(moveTo.current, moveTo.current);
    setCaret(moveTo.current);
    moveTo.current = null;
  });

  const at = mentionAt(text, caret);
  const options = at && !closed ? mentionOptions(c, at.q) : [];
  const current = Math.min(active, options.length - 1);
  const listId = `mentions-${gid}`;

  const cancelEdit = () => onEdit(null);
  const pick = (o: Option) => {
    if (!at) return;
    const before = text.slice(0, at.from) + "@" + o.account + " ";
    setText(before + text.slice(caret).replace(/^[A-Za-z0-9_.\-]*\s?/, ""));
    moveTo.current = before.length;
    setActive(0);
  };
  const submit = (e?: Event) => {
    e?.preventDefault();
    const t = text.trim();
    if (editing) {
      // Editing ends once the change is acknowledged; refused (offline), the text stays to try again.
      if (t === editing.content) cancelEdit();
      else if (t) void attempt(store.edit(c, editing, t).then(cancelEdit));
      return;
    }
    if (!t) return;
    store.send(gid, t, "Text", undefined, reply?.id);
    onReply(null);
    setText("");
    ref.current?.focus();
  };
  const track = (el: HTMLTextAreaElement) => setCaret(el.selectionStart ?? el.value.length);

  return (
    <form class="composer" onSubmit={submit}>
      {(reply || editing) && (
        <div class="composing">
          <span class="composing-what">
            <strong>{editing ? "Editing your message" : `Replying to ${store.userName(reply!.uid)}`}</strong>
            {reply && !editing && <span class="muted">{oneLine(reply)}</span>}
          </span>
          <button type="button" class="ghost" aria-label={editing ? "Cancel editing" : "Cancel reply"} onClick={() => (editing ? cancelEdit() : onReply(null))}>
            ✕
          </button>
        </div>
      )}
      {options.length > 0 && (
        <ul class="options mention-options" role="listbox" id={listId} aria-label="Members to mention">
          {options.map((o, i) => (
            <li key={o.account} id={`${listId}-${i}`} role="option" aria-selected={i === current} onMouseDown={(e) => e.preventDefault()} onMouseMove={() => i !== current && setActive(i)} onClick={() => pick(o)}>
              <Avatar name={o.name} id={o.id} src={o.avatar} />
              <span class="who">
                <strong>{o.name}</strong> <small class="muted">@{o.account}</small>
              </span>
            </li>
          ))}
        </ul>
      )}
      <div class="composer-row">
        {!editing && <AttachButton gid={gid} />}
        <textarea
          ref={ref}
          rows={1}
          value={text}
          placeholder={editing ? "Edit your message" : "Write a message"}
          aria-label="Message"
          aria-controls={options.length > 0 ? listId : undefined}
          aria-autocomplete="list"
          aria-activedescendant={options.length > 0 ? `${listId}-${current}` : undefined}
          enterkeyhint={editing ? "done" : "send"}
          maxLength={8000}
          onInput={(e) => {
            const el = e.currentTarget as HTMLTextAreaElement;
            setText(el.value);
            track(el);
            setClosed(false);
            if (el.value.trim() && !editing) store.typing(gid);
          }}
          onKeyUp={(e) => {
            if (!["ArrowUp", "ArrowDown", "Enter", "Tab", "Escape"].includes(e.key)) track(e.currentTarget as HTMLTextAreaElement);
          }}
          onClick={(e) => track(e.currentTarget as HTMLTextAreaElement)}
          onPaste={(e) => pasteFiles(gid, e)}
          onKeyDown={(e) => {
            if (e.isComposing) return;
            if (options.length > 0) {
              if (e.key === "ArrowDown" || e.key === "ArrowUp") {
                e.preventDefault();
                return setActive((current + (e.key === "ArrowDown" ? 1 : options.length - 1)) % options.length);
              }
              if (e.key === "Enter" || e.key === "Tab") {
                e.preventDefault();
                return pick(options[current]!);
              }
              if (e.key === "Escape") {
                e.preventDefault();
                return setClosed(true);
              }
            }
            if (e.key === "Escape" && (editing || reply)) {
              e.preventDefault();
              return editing ? cancelEdit() : onReply(null);
            }
            if (e.key === "ArrowUp" && !editing && text === "") {
              // Up in an empty box edits my last message.
              const mine = [...c.msgs].reverse().find((m) => m.uid === state.me?.id && !m.deleted && !isFile(m));
              if (mine) {
                e.preventDefault();
                onEdit(mine);
              }
              return;
            }
            if (e.key === "Enter" && !e.shiftKey) submit(e);
          }}
        />
        <button disabled={!text.trim()}>{editing ? "Save" : "Send"}</button>
      </div>
    </form>
  );
}

// ---------- the view ----------

/** Under a chat's title: who is typing, else the other person's presence, else the members. */
function subtitle(c: Conv): string {
  const typing = typingLine(c);
  if (typing) return typing;
  if (c.group.mode !== MODE.direct) return c.members ? `${c.members.length} members` : "";
  if (!c.peer) return "";
  const p = state.presence.get(c.peer.id);
  const seen = p?.online ? "online" : p?.lastSeen ? `last seen ${when(p.lastSeen)}` : "";
  return seen ? `@${c.peer.account} · ${seen}` : `@${c.peer.account}`;
}

export function ChatView({ c, showMembers }: { c: Conv; showMembers(): void }) {
  const direct = c.group.mode === MODE.direct;
  const [replyId, setReply] = useState<number | null>(null);
  const [editId, setEdit] = useState<number | null>(null);
  // What is replied to or edited may change meanwhile (edited, deleted by someone else).
  const reply = replyId !== null ? (store.find(c, replyId) ?? null) : null;
  const editing = editId !== null ? (store.find(c, editId) ?? null) : null;
  useEffect(() => {
    if (reply?.deleted) setReply(null);
    if (editing?.deleted) setEdit(null);
  });
  const typing = typingLine(c);
  return (
    <section class="chat" aria-label={store.title(c)} {...dropTarget(c.group.id)}>
      <header class="chat-head">
        <button type="button" class="ghost back" onClick={() => store.openConv(null)} aria-label="Back to conversations">
          ‹
        </button>
        <Avatar name={store.title(c)} id={convColour(c)} src={convAvatar(c)} online={direct ? store.online(c.peer?.id) : undefined} />
        <span class="chat-title">
          <h2>{store.title(c)}</h2>
          <small class={typing ? "typing" : "muted"} aria-live="polite">
            {subtitle(c)}
          </small>
        </span>
        {!direct && (
          <button type="button" class="ghost" onClick={showMembers}>
            Members
          </button>
        )}
      </header>
      <Messages c={c} onReply={(m) => (setEdit(null), setReply(m.id))} onEdit={(m) => (setReply(null), setEdit(m.id))} />
      <Uploads gid={c.group.id} />
      <Composer c={c} reply={reply} editing={editing} onReply={(m) => setReply(m?.id ?? null)} onEdit={(m) => setEdit(m?.id ?? null)} />
    </section>
  );
}
