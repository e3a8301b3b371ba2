// Settings an admin changes at run time, kept in the database across
// restarts; until one is set, the command-line flag decides.
import { eq } from "drizzle-orm";
import { settings } from "../db/schema";
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";

export const REGISTRATION = ["open", "invite", "closed"] as const;
export const INVITERS = ["members", "admins"] as const;
export type Registration = (typeof REGISTRATION)[number];
export type Inviters = (typeof INVITERS)[number];

export type Settings = { registration: Registration; inviters: Inviters };

function stored(ctx: Ctx, key: keyof Settings): string | undefined {
  return ctx.db.select({ value: settings.value }).from(settings).where(eq(settings.key, key)).get()?.value;
}

/** The settings in force: stored ones first, else the defaults handed in (the flags). */
export function currentSettings(ctx: Ctx, defaults: Settings): Settings {
  const registration = stored(ctx, "registration");
  const inviters = stored(ctx, "inviters");
  return {
    registration: (REGISTRATION as readonly string[]).includes(registration ?? "") ? (registration as Registration) : defaults.registration,
    inviters: (INVITERS as readonly string[]).includes(inviters ?? "") ? (inviters as Inviters) : defaults.inviters,
  };
}

export function saveSettings(w: WriteCtx, change: Partial<Settings>): void {
  for (const [key, value] of Object.entries(change)) {
    if (value === undefined) continue;
    w.db.insert(settings).values({ key, value }).onConflictDoUpdate({ target: settings.key, set: { value } }).run();
  }
}
