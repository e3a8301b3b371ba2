// Address lists for --trust-proxy: which peers may tell us, through
// X-Forwarded-For and X-Forwarded-Proto, who the client is and whether it came
// over TLS. Pure functions: config.ts validates with them, http/ uses them.
import { BlockList, isIP } from "node:net";

/** One address, an address/prefix range, or a keyword: loopback (127.0.0.0/8 and ::1) or none. */
const ITEM = /^([0-9a-fA-F:.]+)(?:\/(\d{1,3}))?$/;

/** Parses "loopback, 10.0.0.0/8, ::1, 192.168.1.5" (empty or "none": nobody); throws naming the bad entry. */
export function parseAddressList(spec: string): BlockList {
  const list = new BlockList();
  for (const raw of spec.split(",")) {
    const item = raw.trim();
    if (item === "" || item === "none") continue;
    if (item === "loopback") {
      list.addSubnet("127.0.0.0", 8, "ipv4");
      list.addAddress("::1", "ipv6");
      continue;
    }
    const m = ITEM.exec(item);
    const family = m ? isIP(m[1]!) : 0;
    if (!m || family === 0) throw new Error(`not an address: ${item}`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (m[2] === undefined) list.addAddress(m[1]!, type);
    else {
      const prefix = Number(m[2]);
      if (prefix > (family === 4 ? 32 : 128)) throw new Error(`not an address range: ${item}`);
      list.addSubnet(m[1]!, prefix, type);
    }
  }
  return list;
}

export function isAddressList(spec: string): boolean {
  try {
    parseAddressList(spec);
    return true;
  } catch {
    return false;
  }
}

/** An address as a peer or a proxy writes it: brackets and an IPv4 port taken off; null when it is not one. */
export function normalizeAddress(raw: string): string | null {
  let a = raw.trim();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracket) a = bracket[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(":"));
  return isIP(a) ? a : null;
}

export function listed(list: BlockList, address: string): boolean {
  const a = normalizeAddress(address);
  if (!a) return false;
  return list.check(a, isIP(a) === 4 ? "ipv4" : "ipv6");
}

export type ClientInfo = { ip: string; https: boolean };

/**
 * Who sent a request. From a trusted peer, X-Forwarded-For is read from the
 * right: the first address that is not itself a trusted proxy is the client;
 * X-Forwarded-Proto's first value says whether the client used TLS. From any
 * other peer both headers are ignored: anyone can write them.
 */
export function resolveClient(trusted: BlockList, peer: string, headers: { get(name: string): string | null }): ClientInfo {
  if (!listed(trusted, peer)) return { ip: peer, https: false };
  let ip = peer;
  const hops = (headers.get("x-forwarded-for") ?? "").split(",").map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(hops[i]!);
    if (!hop) break; // garbage: keep the last address we could check
    ip = hop;
    if (!listed(trusted, hop)) break;
  }
  const proto = (headers.get("x-forwarded-proto") ?? "").split(",")[0]!.trim().toLowerCase();
  return { ip, https: proto === "https" };
}
