// Port lists as the injector reads and writes them: "554,8554" or ranges
// "5004-5005", the form the interception script takes; and Istio's
// exclusion annotations, which take single ports only.

/** An inclusive range; a single port has from === to. */
export interface PortRange {
  from: number;
  to: number;
}

export type PortListResult = { ok: true; ranges: PortRange[] } | { ok: false; error: string };

/** More ports than this in one list is surely a mistake (the whole port space is 65535). */
const MAX_ENTRIES = 256;

function portNumber(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * Parses "554, 8554,5004-5005". Blank means none. Entries are normalized:
 * sorted, overlapping and adjacent ranges merged.
 */
export function parsePortList(text: string): PortListResult {
  const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length > MAX_ENTRIES) return { ok: false, error: `more than ${MAX_ENTRIES} entries` };
  const ranges: PortRange[] = [];
  for (const entry of entries) {
    const dash = entry.indexOf('-');
    const [fromText, toText] = dash < 0 ? [entry, entry] : [entry.slice(0, dash).trim(), entry.slice(dash + 1).trim()];
    const from = portNumber(fromText);
    const to = portNumber(toText);
    if (from === undefined || to === undefined) return { ok: false, error: `"${entry}" is not a port (1-65535) or a range such as 5004-5005` };
    if (to < from) return { ok: false, error: `"${entry}" is a range written backwards` };
    ranges.push({ from, to });
  }
  return { ok: true, ranges: normalizeRanges(ranges) };
}

/** Sorted, with overlapping and adjacent ranges merged. */
export function normalizeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from || a.to - b.to);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

/** "554,8554,5004-5005" (the interception script's form). */
export function formatPortList(ranges: readonly PortRange[]): string {
  return ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(',');
}

export function portCount(ranges: readonly PortRange[]): number {
  return ranges.reduce((n, r) => n + r.to - r.from + 1, 0);
}

export function singlePorts(ranges: readonly PortRange[]): number[] {
  const out: number[] = [];
  for (const r of ranges) for (let p = r.from; p <= r.to; p++) out.push(p);
  return out;
}

/**
 * Adds ports to a comma-separated annotation value (Istio's
 * traffic.sidecar.istio.io/exclude*Ports) without removing or reordering
 * anything a user wrote: their entries first, as written, then the ports
 * not already listed, ascending. An entry of the user's that is not a plain
 * port is kept as it is.
 */
export function mergeCommaList(existing: string | undefined, ports: readonly number[]): string {
  const kept = (existing ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');
  const present = new Set(kept.map((e) => portNumber(e)).filter((n) => n !== undefined));
  const added = [...new Set(ports)].filter((p) => !present.has(p)).sort((a, b) => a - b);
  return [...kept, ...added.map(String)].join(',');
}
