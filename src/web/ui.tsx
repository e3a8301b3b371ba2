/** @jsxImportSource preact */
/// <reference lib="dom" />
// Small pieces every view uses: times, avatars, dialogs.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

const today = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};
/** "HH:MM" today, "MM-DD HH:MM" this year, else the date. */
export function when(t: string | undefined): string {
  if (!t) return "";
  const [date = "", time = ""] = t.split(" ");
  if (date === today()) return time.slice(0, 5);
  return date.slice(0, 4) === today().slice(0, 4) ? `${date.slice(5)} ${time.slice(0, 5)}` : date;
}

/** One colour per person (or group) wherever they show: the conversation list, a chat's header, members, mentions. */
export const colourOf = (id: number) => `hsl(${(id * 67) % 360} 45% 45%)`;

/**
 * A picture when the avatar is an http(s) address that loads, else initials on
 * the colour of the id: a person's user id, a group's id (a direct chat shows
 * the other person's). `online` adds the presence dot (true: online).
 */
export function Avatar({ name, id, src, online }: { name: string; id: number; src?: string; online?: boolean }) {
  const [broken, setBroken] = useState("");
  const initials = name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0]!.toUpperCase()).join("") || "?";
  // A picture's address, or one uploaded here (served to <img> through the file cookie).
  const img = src && /^(https?:\/\/|\/api\/file\/[A-Za-z0-9_-]{21}$)/i.test(src) && broken !== src;
  const face = (
    // Preact sets style through the CSSOM (element.style), which a CSP without 'unsafe-inline' allows.
    <span class="avatar" style={{ background: colourOf(id) }} aria-hidden="true">
      {img ? <img src={src} alt="" referrerpolicy="no-referrer" onError={() => setBroken(src)} /> : initials}
    </span>
  );
  if (online === undefined) return face;
  return (
    <span class="avatar-box">
      {face}
      {online && <span class="presence-dot" role="img" aria-label="online" />}
    </span>
  );
}

export function Modal({ title, onClose, children, wide }: { title: string; onClose(): void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} onClose={onClose} aria-label={title} class={wide ? "wide" : undefined}>
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
