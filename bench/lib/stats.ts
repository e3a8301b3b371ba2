// Percentiles over recorded samples, and small number formatting.

/** A growable list of float samples (milliseconds). */
export class Samples {
  private buf = new Float64Array(1024);
  n = 0;
  add(v: number) {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  summary(): Summary {
    return summarize(this.buf.subarray(0, this.n));
  }
}

export type Summary = { n: number; p50: number; p90: number; p99: number; max: number; mean: number };

export function summarize(values: ArrayLike<number>): Summary {
  const a = Float64Array.from(values).sort();
  const n = a.length;
  if (n === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  // Nearest-rank percentile.
  const at = (p: number) => a[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[i]!;
  return { n, p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), max: round(a[n - 1]!), mean: round(sum / n) };
}

export const round = (v: number, digits = 3) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);

export function fmt(v: unknown): string {
  if (typeof v !== "number") return v === undefined || v === null ? "–" : String(v);
  if (!Number.isFinite(v)) return "–";
  if (Number.isInteger(v)) return Math.abs(v) >= 100_000 ? v.toLocaleString("en-US") : String(v);
  if (Math.abs(v) >= 100_000) return Math.round(v).toLocaleString("en-US");
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A plain-text table: header row, then rows, columns padded. */
export function table(headers: string[], rows: unknown[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(fmt))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  const line = (r: unknown[]) => r.map((c, i) => String(c ?? "").padStart(i === 0 ? 0 : widths[i]!).padEnd(i === 0 ? widths[i]! : 0)).join("  ");
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}
