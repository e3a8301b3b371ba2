// Settings an admin changes at run time, kept in the database across
// restarts; until one is set, the command-line flag decides.
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";
import type { Flow } from "./store";

export const REGISTRATION = ["open", "invite", "closed"] as const;
export const INVITERS = ["members", "admins"] as const;
export type Registration = (typeof REGISTRATION)[number];
export type Inviters = (typeof INVITERS)[number];

export type Settings = { registration: Registration; inviters: Inviters };

function* stored(ctx: Ctx, key: keyof Settings): Flow<string | null> {
  return yield* ctx.store.setting(key);
}

/** The settings in force: stored ones first, else the defaults handed in (the flags). */
export function* currentSettings(ctx: Ctx, defaults: Settings): Flow<Settings> {
  const registration = yield* stored(ctx, "registration");
  const inviters = yield* stored(ctx, "inviters");
  return {
    registration: (REGISTRATION as readonly string[]).includes(registration ?? "") ? (registration as Registration) : defaults.registration,
    inviters: (INVITERS as readonly string[]).includes(inviters ?? "") ? (inviters as Inviters) : defaults.inviters,
  };
}

export function* saveSettings(w: WriteCtx, change: Partial<Settings>): Flow<void> {
  for (const [key, value] of Object.entries(change)) {
    if (value === undefined) continue;
    yield* w.store.saveSetting(key, value);
  }
}
