// Go/Kubernetes-style durations ("1m30s", "250ms") as the CRs spell them.
const unitMs: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 };

/** Milliseconds for a duration string, or undefined if it does not parse. */
export function parseDurationMs(text: string): number | undefined {
  const part = /([0-9]+(?:\.[0-9]+)?)(h|ms|m|s|us|ns)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    part.lastIndex = pos;
    const m = part.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * unitMs[m[2]!]!;
    pos = part.lastIndex;
  }
  return pos === 0 ? undefined : total;
}
