// Who a message mentions: `@account` of a member of its group, matched
// case-insensitively, in Text and RichText content; `@all` mentions every
// member. Worked out when the message is stored or edited, against the
// members of that moment, and kept with the message.
import type { Ctx } from "./context";
import type { Flow } from "./store";

// An account is letters, digits and _ . - @ (http/schemas.ts).
const ACCOUNT_CHAR = /[A-Za-z0-9_.\-@]/;
// A word character before the `@` makes it an address (ann@example.com), not a mention;
// after the name, one means the name goes on (@annx is not @ann), punctuation does not (@ann, @ann.).
const WORD_CHAR = /[A-Za-z0-9_]/;

/** The `@name` runs of a text, lowercased: each a candidate for the longest member account it starts with. */
function candidates(content: string): string[] {
  const out: string[] = [];
  for (let i = content.indexOf("@"); i >= 0; i = content.indexOf("@", i + 1)) {
    if (i > 0 && WORD_CHAR.test(content[i - 1]!)) continue;
    let j = i + 1;
    while (j < content.length && ACCOUNT_CHAR.test(content[j]!)) j++;
    if (j - i > 3) out.push(content.slice(i + 1, j).toLowerCase());
  }
  return out;
}

/** Whether content of this kind could mention anyone at all (mentionsIn is [] otherwise). */
export const mayMention = (kind: string, content: string) => kind !== "Image" && content.includes("@");

/** The uids (ascending) of the group's members this content mentions; [] for images and text without `@`. */
export function* mentionsIn(ctx: Ctx, gid: number, kind: string, content: string): Flow<number[]> {
  if (!mayMention(kind, content)) return [];
  const runs = candidates(content);
  if (runs.length === 0) return [];
  const members = yield* ctx.store.memberAccounts(gid);
  const byAccount = new Map<string, number[]>();
  for (const m of members) {
    const list = byAccount.get(m.account);
    if (list) list.push(m.uid);
    else byAccount.set(m.account, [m.uid]);
  }
  byAccount.set("all", members.map((m) => m.uid));
  const found = new Set<number>();
  for (const run of runs) {
    // The longest account the run starts with, ending where a name may end.
    for (let k = run.length; k >= 3; k--) {
      if (k < run.length && WORD_CHAR.test(run[k]!)) continue;
      const uids = byAccount.get(run.slice(0, k));
      if (uids) {
        for (const u of uids) found.add(u);
        break;
      }
    }
  }
  return [...found].sort((a, b) => a - b);
}

/** Keeps message_mentions (what chat/list counts) in step: the mentioned members but the sender. */
export function* storeMentions(ctx: Ctx, m: { id: number; gid: number; sender: number }, uids: number[], replace: boolean): Flow<void> {
  yield* ctx.store.storeMentions(m.id, m.gid, uids.filter((uid) => uid !== m.sender), replace);
}
