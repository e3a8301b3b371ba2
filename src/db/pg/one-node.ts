// Work that one node of a cluster does at a time (file collection): whoever
// takes the advisory lock does it, the others skip their turn. A session lock
// on a connection reserved for the work's length, since the work spans many
// transactions (its jobs on the write path); a node that dies lets it go with
// its connection.
import type { SQL } from "bun";

/** pg_advisory_lock's key for "a node is collecting unshared uploads" ("rimgc" in ASCII). */
export const RIM_COLLECT_LOCK = 0x72696d6763n;

/** Runs fn if no other node holds `key` (and holds it meanwhile); null if another does. */
export async function onOneNode<T>(sql: SQL, key: bigint, fn: () => Promise<T>): Promise<T | null> {
  const conn = await sql.reserve();
  try {
    const [row] = (await conn.unsafe(`SELECT pg_try_advisory_lock(${key}) AS taken`)) as { taken: boolean }[];
    if (!row?.taken) return null;
    try {
      return await fn();
    } finally {
      await conn.unsafe(`SELECT pg_advisory_unlock(${key})`).catch(() => {});
    }
  } finally {
    conn.release();
  }
}
