// CPU time and memory of a process, read from /proc (Linux).
import { readFileSync } from "node:fs";

const TICKS = 100; // USER_HZ on Linux

export type ProcSample = { at: number; cpuMs: number; userMs: number; sysMs: number; rssKB: number; hwmKB: number };

export function procSample(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    const userMs = (Number(fields[11]) * 1000) / TICKS;
    const sysMs = (Number(fields[12]) * 1000) / TICKS;
    const cpuMs = userMs + sysMs;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
    return { at: performance.now(), cpuMs, userMs, sysMs, rssKB: kb("VmRSS"), hwmKB: kb("VmHWM") };
  } catch {
    return null;
  }
}

/** CPU use between two samples, in percent of one core. */
export const cpuPercent = (a: ProcSample | null, b: ProcSample | null) =>
  a && b && b.at > a.at ? Math.round(((b.cpuMs - a.cpuMs) / (b.at - a.at)) * 1000) / 10 : NaN;

/** The part of the CPU use between two samples spent in the kernel, in percent of one core. */
export const sysPercent = (a: ProcSample | null, b: ProcSample | null) =>
  a && b && b.at > a.at ? Math.round(((b.sysMs - a.sysMs) / (b.at - a.at)) * 1000) / 10 : NaN;

/** This process's own CPU, in ms. */
export const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
