// Go/Kubernetes-style durations ("1m30s", "250ms") as the CRs spell them,
// bounded to what Envoy's protobuf Duration accepts.
const unitMs: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 };

/** google.protobuf.Duration's upper bound (10,000 years), in milliseconds. */
export const MAX_DURATION_MS = 315_576_000_000 * 1000;
const ONE_NANOSECOND_MS = 0.000001;

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
  return pos === 0 || !Number.isFinite(total) ? undefined : total;
}

/** Why a duration cannot be given to Envoy, if it cannot: unparsable, zero, below 1ns or beyond 10,000 years. */
export function durationProblem(text: string): string | undefined {
  const ms = parseDurationMs(text);
  if (ms === undefined) return `"${text}" is not a duration such as 60s, 1m30s or 500ms`;
  if (ms < ONE_NANOSECOND_MS) return `"${text}" must be at least 1ns`;
  if (ms > MAX_DURATION_MS) return `"${text}" is longer than Envoy accepts (at most 315576000000s)`;
  return undefined;
}
