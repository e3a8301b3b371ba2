/** @jsxImportSource preact */
/// <reference lib="dom" />
// The views. All state and rules live in store.ts; components only read it
// and call its actions.
import { render, type ComponentChildren } from "preact";
import { useEffect, useReducer, useRef, useState } from "preact/hooks";
import { api, ApiError, inviteLink, MODE, ROLE, type AdminUser, type Invite, type Settings, type Stats, type User } from "./api";
import { ChatView, convAvatar, convColour, oneLine, typingLine } from "./conversation";
import { SearchBox, SearchResults } from "./search";
import { uploadAvatar } from "./files";
import { Avatar, Modal, when } from "./ui";
import * as store from "./store";
import { state, type Conv } from "./store";

// ---------- small pieces ----------

/** What went wrong, announced; nothing when nothing did. */
const Problem = ({ text }: { text: string }) =>
  text ? (
    <p class="error" role="alert">
      {text}
    </p>
  ) : null;

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
      // The server's reasons sometimes name the route to use next: that part is for programs.
      setError((e as Error).message.replace(/\s*\((?:GET|POST) \/api\/[^)]*\)$/, ""));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}

// ---------- sign in ----------

/** The code of an invite link, /app/#invite=CODE. */
function inviteInAddress(): string {
  const m = /^#invite=(.+)$/.exec(location.hash);
  try {
    return m ? decodeURIComponent(m[1]!).trim() : "";
  } catch {
    return "";
  }
}

function Auth() {
  const [invite, setInvite] = useState(inviteInAddress);
  const [mode, setMode] = useState<"login" | "register">(invite ? "register" : "login");
  const { busy, error, run } = useAction();
  useEffect(() => {
    // An invite link opened in a tab already showing rim changes only the hash.
    const follow = () => {
      const code = inviteInAddress();
      if (code) (setInvite(code), setMode("register"));
    };
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const account = String(f.get("account") ?? "").trim();
    const password = String(f.get("password") ?? "");
    run(async () => {
      if (mode === "login") return store.logIn(account, password);
      await store.register(account, password, String(f.get("name") ?? "").trim(), invite.trim());
      if (inviteInAddress()) history.replaceState(null, "", "#/");
    });
  };
  return (
    <main class="auth">
      <form onSubmit={submit} aria-label={mode === "login" ? "Log in" : "Create account"}>
        <h1>rim</h1>
        {state.signedOut && (
          <p class="notice" role="status">
            You were signed out: {state.signedOut}.
          </p>
        )}
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
        {mode === "register" && (
          <label>
            <span>
              Invite code <small class="muted">(if sign-up needs one)</small>
            </span>
            <input name="invite" autocomplete="off" maxLength={64} value={invite} onInput={(e) => setInvite(e.currentTarget.value)} />
          </label>
        )}
        <Problem text={error} />
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
  if (pending) return `You: ${oneLine(pending)}`;
  const m = store.lastMsg(c);
  if (!m) return "No messages yet";
  const who = m.uid === state.me?.id ? "You: " : c.group.mode === MODE.direct ? "" : `${store.userName(m.uid)}: `;
  return who + oneLine(m);
}

function ConvList() {
  const convs = store.sortedConvs();
  if (convs.length === 0) return <p class="empty muted">No conversations yet. Start one with “New chat”.</p>;
  return (
    <ul class="convs" aria-label="Conversations">
      {convs.map((c) => {
        const name = store.title(c);
        const typing = typingLine(c);
        return (
          <li key={c.group.id}>
            <button type="button" class={"conv" + (state.open === c.group.id ? " active" : "")} onClick={() => store.openConv(c.group.id)} data-gid={c.group.id}>
              <Avatar name={name} id={convColour(c)} src={convAvatar(c)} online={c.group.mode === MODE.direct ? store.online(c.peer?.id) : undefined} />
              <span class="conv-main">
                <span class="conv-top">
                  <strong class="conv-title">{name}</strong>
                  <time>{when(store.lastMsg(c)?.createTime)}</time>
                </span>
                <span class="conv-bottom">
                  <span class={typing ? "preview typing" : "preview"}>{typing || preview(c)}</span>
                  {c.mentions > 0 && (
                    <span class="badge mention-badge" aria-label={`${c.mentions} ${c.mentions === 1 ? "mention" : "mentions"}`} title="Unread messages that mention you">
                      @{c.mentions > 99 ? "99+" : c.mentions}
                    </span>
                  )}
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

type Dialog = "chat" | "group" | "friends" | "info" | "profile" | "invite" | "admin" | null;

function Sidebar({ show }: { show(d: Dialog): void }) {
  const me = state.me!;
  const canAsk = typeof Notification !== "undefined" && Notification.permission === "default";
  return (
    <aside class="sidebar">
      <header class="me">
        <button type="button" class="ghost me-button" onClick={() => show("profile")} title="Your profile">
          <Avatar name={me.name} id={me.id} src={me.avatar} />
          <span class="me-name">
            <strong>{me.name}</strong>
            <small class="muted">@{me.account}</small>
          </span>
        </button>
        <button type="button" class="ghost" onClick={store.logOut}>
          Log out
        </button>
      </header>
      <SearchBox />
      <nav class="actions" aria-label="Actions">
        <button type="button" onClick={() => show("chat")}>New chat</button>
        <button type="button" onClick={() => show("group")}>New group</button>
        <button type="button" onClick={() => show("friends")}>
          Friends{state.friendRequests > 0 && <span class="badge">{state.friendRequests}</span>}
        </button>
      </nav>
      <nav class="more" aria-label="More">
        <button type="button" class="link" onClick={() => show("profile")}>
          Profile
        </button>
        <button type="button" class="link" onClick={() => show("invite")}>
          Invite people
        </button>
        {state.admin && (
          <button type="button" class="link" onClick={() => show("admin")}>
            Admin
          </button>
        )}
        {canAsk && (
          <button type="button" class="link" onClick={store.askNotifications}>
            Turn on notifications
          </button>
        )}
      </nav>
      <SearchResults>
        <ConvList />
      </SearchResults>
    </aside>
  );
}

// ---------- finding people ----------

let pickers = 0;

/**
 * A combobox over the directory: type part of an account or name (any case),
 * then click, or use the arrows and Enter. Text left in it when the form is
 * submitted is resolved by `resolvePeople`.
 */
function PeoplePicker({ label, name, skip, onPick, autoFocus }: { label: ComponentChildren; name: string; skip(u: User): boolean; onPick(u: User): void; autoFocus?: boolean }) {
  const [id] = useState(() => `people-${++pickers}`);
  const [text, setText] = useState("");
  const [found, setFound] = useState<User[]>([]);
  const [active, setActive] = useState(0);
  const [open, setOpen] = useState(false);
  const asked = useRef(0);
  useEffect(() => {
    const q = text.trim();
    const n = ++asked.current;
    if (!q) return setFound([]);
    const t = setTimeout(() => {
      api.directory(q, 8).then(
        (us) => n === asked.current && (setFound(us), setActive(0)),
        () => {},
      );
    }, 120);
    return () => clearTimeout(t);
  }, [text]);
  const shown = found.filter((u) => !skip(u));
  const expanded = open && text.trim() !== "" && shown.length > 0;
  const current = Math.min(active, shown.length - 1);
  const pick = (u: User) => {
    setText("");
    setFound([]);
    onPick(u);
  };
  return (
    <div class="picker">
      <label>
        {label}
        <input
          name={name}
          role="combobox"
          aria-expanded={expanded}
          aria-controls={id}
          aria-autocomplete="list"
          aria-activedescendant={expanded ? `${id}-${current}` : undefined}
          autocomplete="off"
          autoFocus={autoFocus}
          value={text}
          onInput={(e) => (setText(e.currentTarget.value), setOpen(true))}
          onFocus={() => setOpen(true)}
          onBlur={() => setOpen(false)}
          onKeyDown={(e) => {
            if (!expanded) return;
            if (e.key === "ArrowDown" || e.key === "ArrowUp") {
              e.preventDefault();
              setActive((current + (e.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length);
            } else if (e.key === "Enter" && !e.isComposing) {
              e.preventDefault();
              pick(shown[current]!);
            } else if (e.key === "Escape") {
              e.preventDefault(); // closes the list, not the dialog
              setOpen(false);
            }
          }}
        />
      </label>
      {expanded && (
        <ul class="options" role="listbox" id={id} aria-label="Matching people">
          {shown.map((u, i) => (
            <li
              key={u.id}
              id={`${id}-${i}`}
              role="option"
              aria-selected={i === current}
              onMouseDown={(e) => e.preventDefault()}
              onMouseMove={() => i !== current && setActive(i)}
              onClick={() => pick(u)}
            >
              <Avatar name={u.name} id={u.id} src={u.avatar} />
              <span class="who">
                <strong>{u.name}</strong> <small class="muted">@{u.account}</small>
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Typed text, comma-separated: each part an exact account or the only person matching it. */
async function resolvePeople(text: string): Promise<User[]> {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  return Promise.all(
    parts.map(async (t) => {
      const found = await api.directory(t, 10);
      const exact = found.find((u) => u.account.toLowerCase() === t.toLowerCase());
      if (exact) return exact;
      if (found.length === 1) return found[0]!;
      throw new Error(found.length ? `several people match “${t}”: pick one from the list` : `nobody matches “${t}”`);
    }),
  );
}

/** People picked so far (removable), then the picker for more. */
function PeopleField({ label, chosen, setChosen, skip }: { label: ComponentChildren; chosen: User[]; setChosen(us: User[]): void; skip(u: User): boolean }) {
  return (
    <div class="people-field">
      <PeoplePicker label={label} name="people" skip={(u) => skip(u) || chosen.some((x) => x.id === u.id)} onPick={(u) => setChosen([...chosen, u])} />
      {chosen.length > 0 && (
        <ul class="chips" aria-label="Chosen people">
          {chosen.map((u) => (
            <li key={u.id}>
              <span>{u.name}</span>
              <button type="button" class="ghost" aria-label={`Remove ${u.name}`} onClick={() => setChosen(chosen.filter((x) => x.id !== u.id))}>
                ✕
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The uids of the people chosen plus those typed and not picked, without the caller. */
async function chosenUids(chosen: User[], form: HTMLFormElement): Promise<number[]> {
  const typed = await resolvePeople(String(new FormData(form).get("people") ?? ""));
  return [...new Set([...chosen, ...typed].map((u) => u.id))].filter((id) => id !== state.me!.id);
}

// ---------- dialogs ----------

function NewChat({ close }: { close(): void }) {
  const { busy, error, run } = useAction();
  const start = (u: User) =>
    run(async () => {
      if (u.id === state.me!.id) throw new Error("that is you");
      await store.startDirect(u.id);
      close();
    });
  return (
    <Modal title="New chat" onClose={close}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const text = String(new FormData(e.currentTarget).get("person") ?? "");
          run(async () => {
            const [u] = await resolvePeople(text);
            if (!u) throw new Error("type part of an account or a name");
            await start(u);
          });
        }}
      >
        <PeoplePicker label="Account or name" name="person" skip={(u) => u.id === state.me!.id} onPick={start} autoFocus />
        <Problem text={error} />
        <button disabled={busy}>Start chat</button>
      </form>
    </Modal>
  );
}

function NewGroup({ close }: { close(): void }) {
  const { busy, error, run } = useAction();
  const [chosen, setChosen] = useState<User[]>([]);
  return (
    <Modal title="New group" onClose={close}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const form = e.currentTarget;
          run(async () => {
            await store.createGroup(String(new FormData(form).get("name") ?? "").trim(), await chosenUids(chosen, form));
            close();
          });
        }}
      >
        <label>
          Name
          <input name="name" required maxLength={100} autoFocus />
        </label>
        <PeopleField label="Members" chosen={chosen} setChosen={setChosen} skip={(u) => u.id === state.me!.id} />
        <Problem text={error} />
        <button disabled={busy}>Create group</button>
      </form>
    </Modal>
  );
}

const roleName = (r: number) => (r === ROLE.owner ? "owner" : r === ROLE.admin ? "admin" : "member");

type Confirm = { text: string; label: string; act(): Promise<unknown> };

/** A question before something that cannot be undone; focus starts on Cancel. */
function AreYouSure({ text, label, busy, yes, no }: { text: string; label: string; busy: boolean; yes(): void; no(): void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.scrollIntoView({ block: "nearest" });
    ref.current?.querySelector<HTMLButtonElement>(".ghost")?.focus();
  }, []);
  return (
    <div class="confirm" role="alertdialog" aria-label="Confirm" aria-describedby="confirm-text" ref={ref}>
      <p id="confirm-text">{text}</p>
      <div class="row">
        <button type="button" class="danger" disabled={busy} onClick={yes}>
          {label}
        </button>
        <button type="button" class="ghost" onClick={no}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function GroupInfo({ c, close }: { c: Conv; close(): void }) {
  const { busy, error, run, setError } = useAction();
  const [adding, setAdding] = useState<User[]>([]);
  const [confirm, setConfirm] = useState<Confirm | null>(null);
  /** The owner tried to leave a group with other members: offer the transfer. */
  const [handOver, setHandOver] = useState(false);
  const me = state.me!.id;
  const members = [...(c.members ?? [])].sort((a, b) => b.role - a.role || a.user.name.localeCompare(b.user.name));
  const others = members.filter((m) => m.user.id !== me);
  const myRole = members.find((m) => m.user.id === me)?.role ?? ROLE.member;
  const owner = myRole === ROLE.owner;
  const admin = myRole >= ROLE.admin;
  const ask = (x: Confirm) => (setError(""), setConfirm(x));
  const act = (fn: () => Promise<unknown>) => run(async () => (setConfirm(null), await fn()));
  const leave = () =>
    run(async () => {
      try {
        await store.leaveGroup(c);
        close();
      } catch (e) {
        if (e instanceof ApiError && e.code === 409) setHandOver(true);
        throw e;
      }
    });
  const name = store.title(c);
  return (
    <Modal title="Members" onClose={close}>
      <p class="muted group-name">{name}</p>
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
            Group name
            <input name="name" required maxLength={100} defaultValue={c.group.name} />
          </label>
          <button disabled={busy}>Rename</button>
        </form>
      )}
      <h3>{c.members ? `${members.length} members` : "Loading…"}</h3>
      <ul class="people" aria-label="Members">
        {members.map((m) => {
          const self = m.user.id === me;
          const removable = !self && m.role !== ROLE.owner && admin && (m.role < ROLE.admin || owner);
          return (
            <li key={m.user.id} data-uid={m.user.id}>
              <Avatar name={m.user.name} id={m.user.id} src={m.user.avatar} online={store.online(m.user.id)} />
              <span class="who">
                <strong>{self ? `${m.user.name} (you)` : m.user.name}</strong>
                <small class="muted">@{m.user.account}</small>
              </span>
              <span class="acts">
                {owner && !self ? (
                  <select
                    aria-label={`Role of ${m.user.name}`}
                    value={m.role}
                    disabled={busy}
                    onChange={(e) => {
                      const role = Number(e.currentTarget.value);
                      if (role === ROLE.owner) {
                        e.currentTarget.value = String(m.role); // until confirmed
                        ask({ text: `Make ${m.user.name} the owner of “${name}”? You stay an admin.`, label: "Make owner", act: () => store.transferGroup(c, m.user.id) });
                      } else act(() => store.setRole(c, m.user.id, role));
                    }}
                  >
                    <option value={ROLE.member}>member</option>
                    <option value={ROLE.admin}>admin</option>
                    <option value={ROLE.owner}>owner</option>
                  </select>
                ) : (
                  <span class={`role role-${roleName(m.role)}`}>{roleName(m.role)}</span>
                )}
                {removable && (
                  <button type="button" class="ghost" disabled={busy} aria-label={`Remove ${m.user.name}`} onClick={() => act(() => store.changeMembers(c, [m.user.id], false))}>
                    Remove
                  </button>
                )}
              </span>
            </li>
          );
        })}
      </ul>
      {admin && (
        <form
          class="add-members"
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget;
            run(async () => {
              const uids = await chosenUids(adding, form);
              if (!uids.length) throw new Error("pick someone to add");
              await store.changeMembers(c, uids, true);
              setAdding([]);
              form.reset();
            });
          }}
        >
          <PeopleField label="Add members" chosen={adding} setChosen={setAdding} skip={(u) => members.some((m) => m.user.id === u.id)} />
          <button disabled={busy}>Add</button>
        </form>
      )}
      <Problem text={error} />
      {handOver && owner && others.length > 0 && (
        <form
          class="row hand-over"
          onSubmit={(e) => {
            e.preventDefault();
            const uid = Number(new FormData(e.currentTarget).get("owner"));
            run(async () => {
              await store.transferGroup(c, uid);
              await store.leaveGroup(c);
              close();
            });
          }}
        >
          <label class="grow">
            New owner
            <select name="owner">
              {others.map((m) => (
                <option key={m.user.id} value={m.user.id}>
                  {m.user.name} (@{m.user.account})
                </option>
              ))}
            </select>
          </label>
          <button disabled={busy}>Transfer and leave</button>
        </form>
      )}
      {confirm && <AreYouSure key={confirm.text} {...confirm} busy={busy} yes={() => act(confirm.act)} no={() => setConfirm(null)} />}
      <div class="row end">
        <button type="button" class="danger" disabled={busy} onClick={leave}>
          Leave group
        </button>
        {owner && (
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={() => ask({ text: `Delete “${name}” for all ${members.length} members? Its messages go with it.`, label: "Delete for everyone", act: async () => (await store.deleteGroup(c), close()) })}
          >
            Delete group
          </button>
        )}
      </div>
    </Modal>
  );
}

/** A link to copy: Copy uses the clipboard where the browser allows it, else selects the text. */
function CopyLink({ label, link }: { label: string; link: string }) {
  const [copied, setCopied] = useState(false);
  const ref = useRef<HTMLInputElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link);
      setCopied(true);
    } catch {
      ref.current?.select();
      setCopied(document.execCommand("copy"));
    }
  };
  return (
    <div class="row">
      <label class="grow">
        {label}
        <input ref={ref} readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
      </label>
      <button type="button" onClick={copy}>
        {copied ? "Copied" : "Copy"}
      </button>
    </div>
  );
}

function Invite({ close }: { close(): void }) {
  const { busy, error, run } = useAction();
  const [link, setLink] = useState("");
  return (
    <Modal title="Invite people" onClose={close}>
      <div class="stack">
        <p class="muted">An invite link lets one person create an account, even while sign-up needs an invite. Each link works once.</p>
        {link && <CopyLink label="Invite link" link={link} />}
        <Problem text={error} />
        <button type="button" disabled={busy} onClick={() => run(async () => setLink(inviteLink(await api.invite())))}>
          {link ? "Create another link" : "Create an invite link"}
        </button>
      </div>
    </Modal>
  );
}

function Profile({ close }: { close(): void }) {
  const { busy, error, run } = useAction();
  const [saved, setSaved] = useState(false);
  const me = state.me!;
  const [avatar, setAvatar] = useState(me.avatar);
  return (
    <Modal title="Profile" onClose={close}>
      <div class="profile-head">
        <Avatar name={me.name} id={me.id} src={avatar} />
        <span class="who">
          <strong>{me.name}</strong>
          <small class="muted">@{me.account}</small>
        </span>
      </div>
      <label class="button-like">
        Upload a picture
        <input
          type="file"
          accept="image/png,image/jpeg,image/gif,image/webp,image/avif"
          class="visually-hidden"
          disabled={busy}
          onChange={(e) => {
            const file = e.currentTarget.files?.[0];
            if (!file) return;
            run(async () => {
              const url = await uploadAvatar(file);
              await store.updateProfile({ avatar: url });
              setAvatar(url);
              setSaved(true);
            });
          }}
        />
      </label>
      <form
        onInput={() => setSaved(false)}
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          const field = (k: string) => String(f.get(k) ?? "").trim();
          run(async () => {
            await store.updateProfile({ name: field("name"), avatar: field("avatar"), email: field("email") });
            setSaved(true);
          });
        }}
      >
        <label>
          Display name
          <input name="name" required maxLength={64} autocomplete="name" defaultValue={me.name} />
        </label>
        <label>
          <span>
            Avatar <small class="muted">(an uploaded picture, the address of one, or empty for initials)</small>
          </span>
          <input name="avatar" type="text" maxLength={2048} placeholder="https://…" value={avatar} onInput={(e) => setAvatar(e.currentTarget.value)} />
        </label>
        <label>
          <span>
            Email <small class="muted">(other members never see it)</small>
          </span>
          <input name="email" type="email" maxLength={254} autocomplete="email" defaultValue={me.email} />
        </label>
        <Problem text={error} />
        {saved && <p role="status">Saved.</p>}
        <button disabled={busy}>Save</button>
      </form>
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
  const ask = async (u: User) => {
    await api.addFriend(u.id);
    setNote(`Request sent to ${u.name}.`);
    await load();
  };
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
          const text = String(new FormData(e.currentTarget).get("person") ?? "");
          run(async () => {
            const [u] = await resolvePeople(text);
            if (u) await ask(u);
          });
        }}
      >
        <div class="grow">
          <PeoplePicker label="Add a friend by account or name" name="person" skip={(u) => u.id === state.me!.id} onPick={(u) => run(() => ask(u))} />
        </div>
        <button disabled={busy}>Send request</button>
      </form>
      {note && <p class="muted">{note}</p>}
      <Problem text={error} />
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

// ---------- the admin screen (server admins only) ----------

const ADMIN_PAGE = 20;

function AdminUsers() {
  const { busy, error, run } = useAction();
  const [q, setQ] = useState("");
  const [page, setPage] = useState(1);
  const [data, setData] = useState<{ users: AdminUser[]; total: number } | null>(null);
  const [pwFor, setPwFor] = useState(0);
  const [done, setDone] = useState("");
  const load = () => api.adminUsers(q.trim(), page, ADMIN_PAGE).then(setData);
  useEffect(() => {
    const t = setTimeout(() => run(load), q ? 200 : 0);
    return () => clearTimeout(t);
  }, [q, page]);
  const total = data?.total ?? 0;
  const from = total ? (page - 1) * ADMIN_PAGE + 1 : 0;
  return (
    <div class="stack">
      <label>
        Search users
        <input type="search" value={q} placeholder="Account or name" onInput={(e) => (setQ(e.currentTarget.value), setPage(1))} />
      </label>
      <Problem text={error} />
      {done && <p role="status">{done}</p>}
      <ul class="people admin-users" aria-label="Users">
        {data?.users.map((u) => (
          <li key={u.id} data-uid={u.id} class={u.disabled ? "off" : undefined}>
            <Avatar name={u.name} id={u.id} src={u.avatar} />
            <span class="who">
              <strong>{u.name}</strong>
              <small class="muted">
                @{u.account}
                {u.email && ` · ${u.email}`} · since {u.createTime.slice(0, 10)}
              </small>
              <span class="tags">
                {u.admin && <span class="role role-admin">admin</span>}
                {u.disabled && <span class="role role-disabled">disabled</span>}
              </span>
            </span>
            <span class="acts">
              {u.id !== state.me!.id && (
                <button
                  type="button"
                  class="ghost"
                  disabled={busy}
                  aria-label={`${u.disabled ? "Enable" : "Disable"} ${u.account}`}
                  onClick={() => run(async () => (await api.adminSetDisabled(u.id, !u.disabled), setDone(`${u.account} ${u.disabled ? "enabled" : "disabled"}.`), await load()))}
                >
                  {u.disabled ? "Enable" : "Disable"}
                </button>
              )}
              <button type="button" class="ghost" aria-label={`Set password of ${u.account}`} aria-expanded={pwFor === u.id} onClick={() => setPwFor(pwFor === u.id ? 0 : u.id)}>
                Set password
              </button>
            </span>
            {pwFor === u.id && (
              <form
                class="row full"
                onSubmit={(e) => {
                  e.preventDefault();
                  const password = String(new FormData(e.currentTarget).get("password") ?? "");
                  run(async () => (await api.adminSetPassword(u.id, password), setPwFor(0), setDone(`New password set for ${u.account}; their sessions were closed.`)));
                }}
              >
                <label class="grow">
                  New password for {u.account}
                  <input name="password" type="password" required minLength={6} maxLength={256} autocomplete="new-password" autoFocus />
                </label>
                <button disabled={busy}>Set</button>
              </form>
            )}
          </li>
        ))}
      </ul>
      {data && (
        <nav class="row pager" aria-label="Pages of users">
          <button type="button" class="ghost" disabled={page <= 1 || busy} onClick={() => setPage(page - 1)}>
            ‹ Previous
          </button>
          <span class="muted">{total ? `${from}–${from + data.users.length - 1} of ${total}` : "No users match"}</span>
          <button type="button" class="ghost" disabled={page * ADMIN_PAGE >= total || busy} onClick={() => setPage(page + 1)}>
            Next ›
          </button>
        </nav>
      )}
    </div>
  );
}

function AdminInvites() {
  const { busy, error, run } = useAction();
  const [list, setList] = useState<Invite[] | null>(null);
  const [link, setLink] = useState("");
  const load = () => api.adminInvites().then(setList);
  useEffect(() => void run(load), []);
  const who = (uid: number | null) => (uid === null ? "an operator" : state.users.get(uid)?.name ?? `user ${uid}`);
  return (
    <div class="stack">
      <button type="button" disabled={busy} onClick={() => run(async () => (setLink(location.origin + (await api.adminCreateInvite()).link), await load()))}>
        Create an invite link
      </button>
      {link && <CopyLink label="New invite link" link={link} />}
      <Problem text={error} />
      {list && list.length === 0 && <p class="muted">No invites yet.</p>}
      <ul class="people invites" aria-label="Invites">
        {list?.map((i) => (
          <li key={i.id}>
            <span class="who">
              <strong>
                Invite #{i.id} <span class={`role role-${i.status}`}>{i.status}</span>
              </strong>
              <small class="muted">
                by {who(i.createdBy)} on {i.createTime.slice(0, 16)}
                {i.status === "used" ? `, used by ${who(i.usedBy)}` : i.status === "live" ? `, expires ${i.expireTime.slice(0, 16)}` : ""}
              </small>
            </span>
            {i.status === "live" && (
              <button type="button" class="ghost" disabled={busy} aria-label={`Revoke invite #${i.id}`} onClick={() => run(async () => (await api.adminRevokeInvite(i.id), await load()))}>
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

function AdminSettings() {
  const { busy, error, run } = useAction();
  const [now, setNow] = useState<Settings | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => void run(async () => setNow(await api.settings())), []);
  if (!now) return error ? <Problem text={error} /> : <p class="muted">Loading…</p>;
  return (
    <form
      onInput={() => setSaved(false)}
      onSubmit={(e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget);
        run(async () => {
          setNow(await api.saveSettings({ registration: f.get("registration") as Settings["registration"], inviters: f.get("inviters") as Settings["inviters"] }));
          setSaved(true);
        });
      }}
    >
      <label>
        Who may create an account
        <select name="registration" defaultValue={now.registration}>
          <option value="open">Anyone (open)</option>
          <option value="invite">Holders of an invite link (invite)</option>
          <option value="closed">Nobody; operators create accounts (closed)</option>
        </select>
      </label>
      <label>
        Who may create invite links
        <select name="inviters" defaultValue={now.inviters}>
          <option value="members">Every member</option>
          <option value="admins">Server admins only</option>
        </select>
      </label>
      <p class="muted">Kept across restarts; they override the server's --registration flag.</p>
      <Problem text={error} />
      {saved && <p role="status">Saved: registration {now.registration}, invites by {now.inviters}.</p>}
      <button disabled={busy}>Save settings</button>
    </form>
  );
}

const STAT_NAMES: [string, string][] = [
  ["users", "Users"],
  ["usersOnline", "Online now"],
  ["socketsOpen", "Open connections"],
  ["sessions", "Live sessions"],
  ["groups", "Conversations"],
  ["messages", "Messages"],
];

function AdminStats() {
  const { error, run } = useAction();
  const [stats, setStats] = useState<Stats | null>(null);
  useEffect(() => void run(async () => setStats(await api.stats())), []);
  return (
    <>
      <Problem text={error} />
      <dl class="stats">
        {stats &&
          STAT_NAMES.map(([k, label]) => (
            <div key={k}>
              <dt>{label}</dt>
              <dd>{(stats[k] ?? 0).toLocaleString()}</dd>
            </div>
          ))}
      </dl>
    </>
  );
}

const ADMIN_TABS = { users: ["Users", AdminUsers], invites: ["Invites", AdminInvites], settings: ["Registration", AdminSettings], stats: ["Stats", AdminStats] } as const;

function Admin({ close }: { close(): void }) {
  const [tab, setTab] = useState<keyof typeof ADMIN_TABS>("users");
  const Panel = ADMIN_TABS[tab][1];
  return (
    <Modal title="Admin" onClose={close} wide>
      <div
        class="tabs"
        role="tablist"
        aria-label="Admin sections"
        onKeyDown={(e) => {
          // Arrows move between the tabs, as in every tab list.
          const keys = Object.keys(ADMIN_TABS) as (keyof typeof ADMIN_TABS)[];
          const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
          if (!step) return;
          const next = keys[(keys.indexOf(tab) + step + keys.length) % keys.length]!;
          setTab(next);
          document.getElementById(`tab-${next}`)?.focus();
        }}
      >
        {Object.entries(ADMIN_TABS).map(([k, [label]]) => (
          <button key={k} type="button" role="tab" id={`tab-${k}`} aria-selected={tab === k} tabIndex={tab === k ? 0 : -1} aria-controls="admin-panel" class={tab === k ? "" : "ghost"} onClick={() => setTab(k as keyof typeof ADMIN_TABS)}>
            {label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="admin-panel" aria-labelledby={`tab-${tab}`}>
        <Panel />
      </div>
    </Modal>
  );
}

// ---------- the app ----------

function Home() {
  const [dialog, setDialog] = useState<Dialog>(null);
  const c = state.open !== null ? state.convs.get(state.open) : undefined;
  const close = () => setDialog(null);
  // The members dialog belongs to one conversation: it goes when that one does (left, deleted, another opened).
  const gid = c?.group.id;
  useEffect(() => setDialog((d) => (d === "info" ? null : d)), [gid]);
  return (
    <div class={"layout" + (c ? " has-open" : "")}>
      <Banner />
      <Sidebar show={setDialog} />
      {c ? (
        <ChatView key={c.group.id} c={c} showMembers={() => setDialog("info")} />
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
      {dialog === "profile" && <Profile close={close} />}
      {dialog === "invite" && <Invite close={close} />}
      {dialog === "admin" && state.admin && <Admin close={close} />}
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
