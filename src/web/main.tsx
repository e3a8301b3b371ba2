/** @jsxImportSource preact */
/// <reference lib="dom" />
// The views. All state and rules live in store.ts; components only read it
// and call its actions.
import { render, type ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from "preact/hooks";
import { api, findAccount, MODE, ROLE, type User } from "./api";
import * as store from "./store";
import { state, type Conv, type Msg, type Pending } from "./store";

// ---------- small pieces ----------

const today = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};
/** "HH:MM" today, "MM-DD HH:MM" this year, else the date. */
function when(t: string | undefined): string {
  if (!t) return "";
  const [date = "", time = ""] = t.split(" ");
  if (date === today()) return time.slice(0, 5);
  return date.slice(0, 4) === today().slice(0, 4) ? `${date.slice(5)} ${time.slice(0, 5)}` : date;
}

function Avatar({ name, id }: { name: string; id: number }) {
  const initials = name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]!.toUpperCase()).join("") || "?";
  return (
    <span class="avatar" style={{ background: `hsl(${(id * 67) % 360} 45% 45%)` }} aria-hidden="true">
      {initials}
    </span>
  );
}

/** Runs an async action with busy and error state, for forms. */
function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError("");
    try {
      await fn();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}

function Modal({ title, onClose, children }: { title: string; onClose(): void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} onClose={onClose} aria-label={title}>
      <header>
        <h2>{title}</h2>
        <button type="button" class="ghost" onClick={() => ref.current?.close()} aria-label="Close">
          ✕
        </button>
      </header>
      {children}
    </dialog>
  );
}

// ---------- sign in ----------

function Auth() {
  const [mode, setMode] = useState<"login" | "register">("login");
  const { busy, error, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const account = String(f.get("account") ?? "").trim();
    const password = String(f.get("password") ?? "");
    run(() => (mode === "login" ? store.logIn(account, password) : store.register(account, password, String(f.get("name") ?? "").trim())));
  };
  return (
    <main class="auth">
      <form onSubmit={submit} aria-label={mode === "login" ? "Log in" : "Create account"}>
        <h1>rim</h1>
        <p class="muted">{mode === "login" ? "Log in to chat with your team." : "Create your account."}</p>
        <label>
          Account
          <input name="account" autocomplete="username" required minLength={3} maxLength={64} pattern="[A-Za-z0-9_.\-@]+" />
        </label>
        {mode === "register" && (
          <label>
            Display name
            <input name="name" autocomplete="name" maxLength={64} />
          </label>
        )}
        <label>
          Password
          <input name="password" type="password" autocomplete={mode === "login" ? "current-password" : "new-password"} required minLength={mode === "login" ? 1 : 6} />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button disabled={busy}>{mode === "login" ? "Log in" : "Create account"}</button>
        <p class="muted">
          {mode === "login" ? "New here? " : "Have an account? "}
          <button type="button" class="link" onClick={() => setMode(mode === "login" ? "register" : "login")}>
            {mode === "login" ? "Create an account" : "Log in"}
          </button>
        </p>
      </form>
    </main>
  );
}

// ---------- the conversation list ----------

function Banner() {
  const [, tick] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    if (state.link !== "offline") return;
    const t = setInterval(tick, 1000);
    return () => clearInterval(t);
  }, [state.link]);
  if (!state.reconnecting) return null;
  const secs = state.link === "offline" ? Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000)) : 0;
  return (
    <div class="banner" role="status">
      <span>Offline. {secs > 0 ? `Reconnecting in ${secs}s…` : "Reconnecting…"}</span>
      <button type="button" class="link" onClick={store.retryNow}>
        Retry now
      </button>
    </div>
  );
}

function preview(c: Conv): string {
  const pending = state.outbox.filter((p) => p.gid === c.group.id).at(-1);
  if (pending) return `You: ${pending.content}`;
  const m = store.lastMsg(c);
  if (!m) return "No messages yet";
  const who = m.uid === state.me?.id ? "You: " : c.group.mode === MODE.direct ? "" : `${store.userName(m.uid)}: `;
  return who + m.content;
}

function ConvList() {
  const convs = store.sortedConvs();
  if (convs.length === 0) return <p class="empty muted">No conversations yet. Start one with “New chat”.</p>;
  return (
    <ul class="convs" aria-label="Conversations">
      {convs.map((c) => {
        const name = store.title(c);
        return (
          <li key={c.group.id}>
            <button type="button" class={"conv" + (state.open === c.group.id ? " active" : "")} onClick={() => store.openConv(c.group.id)} data-gid={c.group.id}>
              <Avatar name={name} id={c.group.id} />
              <span class="conv-main">
                <span class="conv-top">
                  <strong class="conv-title">{name}</strong>
                  <time>{when(store.lastMsg(c)?.createTime)}</time>
                </span>
                <span class="conv-bottom">
                  <span class="preview">{preview(c)}</span>
                  {c.unread > 0 && (
                    <span class="badge" aria-label={`${c.unread} unread`}>
                      {c.unread > 99 ? "99+" : c.unread}
                    </span>
                  )}
                </span>
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}

type Dialog = "chat" | "group" | "friends" | "info" | null;

function Sidebar({ show }: { show(d: Dialog): void }) {
  const me = state.me!;
  const canAsk = typeof Notification !== "undefined" && Notification.permission === "default";
  return (
    <aside class="sidebar">
      <header class="me">
        <Avatar name={me.name} id={me.id} />
        <span class="me-name">
          <strong>{me.name}</strong>
          <small class="muted">@{me.account}</small>
        </span>
        <button type="button" class="ghost" onClick={store.logOut}>
          Log out
        </button>
      </header>
      <nav class="actions" aria-label="Actions">
        <button type="button" onClick={() => show("chat")}>New chat</button>
        <button type="button" onClick={() => show("group")}>New group</button>
        <button type="button" onClick={() => show("friends")}>
          Friends{state.friendRequests > 0 && <span class="badge">{state.friendRequests}</span>}
        </button>
      </nav>
      {canAsk && (
        <button type="button" class="link notif" onClick={store.askNotifications}>
          Turn on notifications
        </button>
      )}
      <ConvList />
    </aside>
  );
}

// ---------- one conversation ----------

const statusOf = (c: Conv, m: Msg) => {
  const n = store.readBy(c, m);
  return n > 0 ? `Read by ${n}` : "Sent";
};

function PendingItem({ p }: { p: Pending }) {
  return (
    <li class="msg mine" data-state={p.state} data-client-id={p.clientMsgId}>
      <p class="bubble">{p.content}</p>
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

function Messages({ c }: { c: Conv }) {
  const ref = useRef<HTMLOListElement>(null);
  const pending = state.outbox.filter((p) => p.gid === c.group.id);
  const first = c.msgs[0]?.id ?? 0;
  const last = pending.length ? pending.at(-1)!.clientMsgId : store.lastMsg(c)?.id ?? 0;
  const prev = useRef({ gid: 0, first: 0, last: 0 as number | string, height: 0, top: 0, nearBottom: true });

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const p = prev.current;
    if (p.gid !== c.group.id) el.scrollTop = el.scrollHeight; // just opened
    else if (first !== p.first && last === p.last) el.scrollTop = el.scrollHeight - p.height + p.top; // older page above
    else if (last !== p.last && (p.nearBottom || pending.length > 0)) el.scrollTop = el.scrollHeight; // new at the bottom
    prev.current = { gid: c.group.id, first, last, height: el.scrollHeight, top: el.scrollTop, nearBottom: el.scrollHeight - el.scrollTop - el.clientHeight < 120 };
    // A short first page that does not fill the view: fetch more right away.
    if (c.loaded && c.hasOlder && !c.loadingOlder && el.scrollHeight <= el.clientHeight) store.loadHistory(c);
  });

  const onScroll = () => {
    const el = ref.current!;
    prev.current.top = el.scrollTop;
    prev.current.height = el.scrollHeight;
    prev.current.nearBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 120;
    if (el.scrollTop < 120 && c.loaded && c.hasOlder && !c.loadingOlder) store.loadHistory(c);
  };

  const group = c.group.mode !== MODE.direct;
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
    <ol class="messages" ref={ref} onScroll={onScroll} aria-label="Messages" aria-live="polite">
      <li class="history-edge muted">{c.loadingOlder ? "Loading…" : c.loaded && !c.hasOlder ? "Start of the conversation" : ""}</li>
      {c.msgs.map((m, i) => {
        const mine = m.uid === state.me?.id;
        const showName = group && !mine && c.msgs[i - 1]?.uid !== m.uid;
        // The time shows once per run of one sender's messages within a minute.
        const next = c.msgs[i + 1];
        const showMeta = statuses[i] || !next || next.uid !== m.uid || when(next.createTime) !== when(m.createTime);
        return (
          <li key={m.id} class={mine ? "msg mine" : "msg"} data-msg-id={m.id}>
            {showName && <span class="sender">{store.userName(m.uid)}</span>}
            <p class="bubble">{m.content}</p>
            {showMeta && (
              <small class="meta">
                <time>{when(m.createTime)}</time>
                {statuses[i] && <span class="status">{statuses[i]}</span>}
              </small>
            )}
          </li>
        );
      })}
      {pending.map((p) => (
        <PendingItem key={p.clientMsgId} p={p} />
      ))}
    </ol>
  );
}

function Composer({ gid }: { gid: number }) {
  const [text, setText] = useState("");
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    setText("");
    if (matchMedia("(min-width: 700px)").matches) ref.current?.focus();
  }, [gid]);
  const submit = (e?: Event) => {
    e?.preventDefault();
    const t = text.trim();
    if (!t) return;
    store.send(gid, t);
    setText("");
    ref.current?.focus();
  };
  return (
    <form class="composer" onSubmit={submit}>
      <textarea
        ref={ref}
        rows={1}
        value={text}
        placeholder="Write a message"
        aria-label="Message"
        enterkeyhint="send"
        maxLength={8000}
        onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) submit(e);
        }}
      />
      <button disabled={!text.trim()}>Send</button>
    </form>
  );
}

function ChatView({ c, show }: { c: Conv; show(d: Dialog): void }) {
  const direct = c.group.mode === MODE.direct;
  const sub = direct ? (c.peer ? `@${c.peer.account}` : "") : c.members ? `${c.members.length} members` : "";
  return (
    <section class="chat" aria-label={store.title(c)}>
      <header class="chat-head">
        <button type="button" class="ghost back" onClick={() => store.openConv(null)} aria-label="Back to conversations">
          ‹
        </button>
        <Avatar name={store.title(c)} id={c.group.id} />
        <span class="chat-title">
          <h2>{store.title(c)}</h2>
          <small class="muted">{sub}</small>
        </span>
        {!direct && (
          <button type="button" class="ghost" onClick={() => show("info")}>
            Members
          </button>
        )}
      </header>
      <Messages c={c} />
      <Composer gid={c.group.id} />
    </section>
  );
}

// ---------- dialogs ----------

function NewChat({ close }: { close(): void }) {
  const { busy, error, run } = useAction();
  return (
    <Modal title="New chat" onClose={close}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const account = String(new FormData(e.currentTarget).get("account") ?? "");
          run(async () => {
            const u = await findAccount(account);
            if (u.id === state.me!.id) throw new Error("that is you");
            await store.startDirect(u.id);
            close();
          });
        }}
      >
        <label>
          Their account
          <input name="account" required autoFocus autocomplete="off" />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button disabled={busy}>Start chat</button>
      </form>
    </Modal>
  );
}

async function accountsToUids(text: string): Promise<number[]> {
  const accounts = text.split(/[\s,]+/).filter(Boolean);
  const users = await Promise.all(accounts.map(findAccount));
  return users.map((u) => u.id).filter((id) => id !== state.me!.id);
}

function NewGroup({ close }: { close(): void }) {
  const { busy, error, run } = useAction();
  return (
    <Modal title="New group" onClose={close}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          run(async () => {
            await store.createGroup(String(f.get("name") ?? "").trim(), await accountsToUids(String(f.get("accounts") ?? "")));
            close();
          });
        }}
      >
        <label>
          Name
          <input name="name" required maxLength={100} autoFocus />
        </label>
        <label>
          Members <small class="muted">(accounts, separated by commas)</small>
          <input name="accounts" autocomplete="off" />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button disabled={busy}>Create group</button>
      </form>
    </Modal>
  );
}

const roleName = (r: number) => (r === ROLE.owner ? "owner" : r === ROLE.admin ? "admin" : "");

function GroupInfo({ c, close }: { c: Conv; close(): void }) {
  const { busy, error, run } = useAction();
  const me = state.me!.id;
  const myRole = c.members?.find((m) => m.user.id === me)?.role ?? ROLE.member;
  const admin = myRole >= ROLE.admin;
  return (
    <Modal title="Group" onClose={close}>
      {admin && (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            const name = String(new FormData(e.currentTarget).get("name") ?? "").trim();
            run(() => store.renameGroup(c, name));
          }}
        >
          <label class="grow">
            Name
            <input name="name" required maxLength={100} defaultValue={c.group.name} />
          </label>
          <button disabled={busy}>Rename</button>
        </form>
      )}
      <h3>Members</h3>
      <ul class="people">
        {(c.members ?? []).map((m) => (
          <li key={m.user.id}>
            <Avatar name={m.user.name} id={m.user.id} />
            <span class="grow">
              {m.user.name} <small class="muted">@{m.user.account} {roleName(m.role)}</small>
            </span>
            {m.user.id !== me && m.role !== ROLE.owner && admin && (m.role < ROLE.admin || myRole === ROLE.owner) && (
              <button type="button" class="ghost" disabled={busy} onClick={() => run(() => store.changeMembers(c, [m.user.id], false))}>
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {admin && (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const text = String(new FormData(form).get("accounts") ?? "");
            run(async () => {
              await store.changeMembers(c, await accountsToUids(text), true);
              form.reset();
            });
          }}
        >
          <label class="grow">
            Add members <small class="muted">(accounts)</small>
            <input name="accounts" required autocomplete="off" />
          </label>
          <button disabled={busy}>Add</button>
        </form>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      {myRole !== ROLE.owner && (
        <button type="button" class="danger" disabled={busy} onClick={() => run(async () => (await store.changeMembers(c, [me], false), close()))}>
          Leave group
        </button>
      )}
    </Modal>
  );
}

function Friends({ close }: { close(): void }) {
  const { busy, error, run } = useAction();
  const [lists, setLists] = useState<{ friends: User[]; incoming: User[]; outgoing: User[] } | null>(null);
  const [note, setNote] = useState("");
  const load = async () => {
    const [friends, incoming, outgoing] = await Promise.all([api.friends(), api.friendRequests("in"), api.friendRequests("out")]);
    setLists({ friends, incoming, outgoing });
    state.friendRequests = incoming.length;
    store.changed();
  };
  useEffect(() => {
    run(load);
  }, []);
  const person = (u: User, actions: ComponentChildren) => (
    <li key={u.id}>
      <Avatar name={u.name} id={u.id} />
      <span class="grow">
        {u.name} <small class="muted">@{u.account}</small>
      </span>
      {actions}
    </li>
  );
  return (
    <Modal title="Friends" onClose={close}>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const account = String(new FormData(form).get("account") ?? "");
          run(async () => {
            const u = await findAccount(account);
            await api.addFriend(u.id);
            form.reset();
            setNote(`Request sent to ${u.name}.`);
            await load();
          });
        }}
      >
        <label class="grow">
          Add a friend by account
          <input name="account" required autocomplete="off" />
        </label>
        <button disabled={busy}>Send request</button>
      </form>
      {note && <p class="muted">{note}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      {lists && lists.incoming.length > 0 && (
        <>
          <h3>Requests</h3>
          <ul class="people">
            {lists.incoming.map((u) =>
              person(
                u,
                <>
                  <button type="button" disabled={busy} onClick={() => run(async () => (await api.answerFriend(u.id, true), await load()))}>
                    Accept
                  </button>
                  <button type="button" class="ghost" disabled={busy} onClick={() => run(async () => (await api.answerFriend(u.id, false), await load()))}>
                    Reject
                  </button>
                </>,
              ),
            )}
          </ul>
        </>
      )}
      <h3>Friends</h3>
      {lists && lists.friends.length === 0 && <p class="muted">No friends yet.</p>}
      <ul class="people">
        {lists?.friends.map((u) =>
          person(
            u,
            <button type="button" disabled={busy} onClick={() => run(async () => (await store.startDirect(u.id), close()))}>
              Message
            </button>,
          ),
        )}
      </ul>
      {lists && lists.outgoing.length > 0 && (
        <>
          <h3>Waiting for an answer</h3>
          <ul class="people">{lists.outgoing.map((u) => person(u, <small class="muted">pending</small>))}</ul>
        </>
      )}
    </Modal>
  );
}

// ---------- the app ----------

function Home() {
  const [dialog, setDialog] = useState<Dialog>(null);
  const c = state.open !== null ? state.convs.get(state.open) : undefined;
  const close = () => setDialog(null);
  return (
    <div class={"layout" + (c ? " has-open" : "")}>
      <Banner />
      <Sidebar show={setDialog} />
      {c ? (
        <ChatView c={c} show={setDialog} />
      ) : (
        <section class="chat placeholder muted">
          <p>Pick a conversation, or start a new one.</p>
        </section>
      )}
      {state.notice && (
        <p class="toast" role="alert" onClick={() => ((state.notice = ""), store.changed())}>
          {state.notice}
        </p>
      )}
      {dialog === "chat" && <NewChat close={close} />}
      {dialog === "group" && <NewGroup close={close} />}
      {dialog === "friends" && <Friends close={close} />}
      {dialog === "info" && c && <GroupInfo c={c} close={close} />}
    </div>
  );
}

function App() {
  if (state.booting) return <p class="boot muted">Loading…</p>;
  if (state.bootError)
    return (
      <main class="auth">
        <p role="alert">
          Cannot reach the server ({state.bootError}).{" "}
          <button type="button" onClick={store.boot}>
            Try again
          </button>
        </p>
      </main>
    );
  return state.me ? <Home /> : <Auth />;
}

function followAddress() {
  const m = /^#\/c\/(\d+)$/.exec(location.hash);
  const gid = m ? Number(m[1]) : null;
  if (gid !== state.open) store.openConv(gid !== null && state.convs.has(gid) ? gid : null, false);
}
addEventListener("popstate", followAddress);

// Every change of the store renders the whole tree again (coalesced per microtask; Preact diffs).
const root = document.getElementById("app")!;
const draw = () => {
  const unread = [...state.convs.values()].reduce((n, c) => n + c.unread, 0);
  document.title = unread ? `(${unread}) rim` : "rim";
  render(<App />, root);
};
store.subscribe(draw);
draw();
store.boot().then(followAddress);
