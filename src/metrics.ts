// Prometheus text-format metrics, kept in the App (no globals).
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

type Labels = Record<string, string | number>;
// Written as a loop: a counter with labels is bumped once per change frame.
function key(name: string, labels?: Labels): string {
  if (!labels) return name;
  let inner = "";
  for (const k in labels) inner += `${inner ? "," : ""}${k}="${labels[k]}"`;
  return inner ? `${name}{${inner}}` : name;
}

const HELP: Record<string, [type: "counter" | "gauge" | "histogram", help: string]> = {
  rim_ws_sockets: ["gauge", "open WebSocket connections"],
  rim_users_online: ["gauge", "users with at least one logged-in socket"],
  rim_messages: ["gauge", "highest message id stored (messages are never deleted one by one)"],
  rim_messages_stored_total: ["counter", "messages stored since start"],
  rim_message_changes_total: ["counter", "edits, deletions and reactions stored since start, by kind"],
  rim_commits_total: ["counter", "group commits of WebSocket frames"],
  rim_commit_jobs_total: ["counter", "frames handled by group commits"],
  rim_commit_seconds: ["histogram", "time from BEGIN to COMMIT of a group commit"],
  rim_wal_restarts_total: ["counter", "WAL restarts by the checkpoint worker, by outcome (busy: a reader held the WAL)"],
  rim_write_held_seconds_total: ["counter", "time the write path held its commits for WAL restarts"],
  rim_pushes_total: ["counter", "frames published to group and user topics"],
  rim_deliveries_total: ["counter", "socket deliveries of published frames"],
  rim_bus_resyncs_total: ["counter", "times the cluster bus told this node's sockets to Sync (a gap, a lost or restored subscription)"],
  rim_ws_closed_total: ["counter", "WebSocket closes by reason"],
  rim_errors_total: ["counter", "error replies by transport and code"],
};

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const counters = new Map<string, number>();
  const buckets = COMMIT_BUCKETS.map(() => 0);
  let commitSum = 0;
  let commitCount = 0;

  return {
    inc(name: string, labels?: Labels, by = 1) {
      const k = key(name, labels);
      counters.set(k, (counters.get(k) ?? 0) + by);
    },
    observeCommit(ms: number, jobs: number) {
      const s = ms / 1000;
      commitSum += s;
      commitCount++;
      for (let i = 0; i < COMMIT_BUCKETS.length; i++) if (s <= COMMIT_BUCKETS[i]!) buckets[i]!++;
      this.inc("rim_commits_total");
      this.inc("rim_commit_jobs_total", undefined, jobs);
    },
    render(gauges: Record<string, number>): string {
      const lines: string[] = [];
      const seen = new Set<string>();
      const header = (name: string) => {
        if (seen.has(name) || !HELP[name]) return;
        seen.add(name);
        lines.push(`# HELP ${name} ${HELP[name]![1]}`, `# TYPE ${name} ${HELP[name]![0]}`);
      };
      for (const [name, v] of Object.entries(gauges)) {
        header(name);
        lines.push(`${name} ${v}`);
      }
      for (const [k, v] of [...counters].sort()) {
        header(k.split("{")[0]!);
        lines.push(`${k} ${v}`);
      }
      header("rim_commit_seconds");
      COMMIT_BUCKETS.forEach((b, i) => lines.push(`rim_commit_seconds_bucket{le="${b}"} ${buckets[i]}`));
      lines.push(`rim_commit_seconds_bucket{le="+Inf"} ${commitCount}`, `rim_commit_seconds_sum ${commitSum}`, `rim_commit_seconds_count ${commitCount}`);
      return lines.join("\n") + "\n";
    },
  };
}
