// How long mediamesh took from reading its sources to the first push of each
// applied change: the `buildMs` of its "config changed" log lines. That work
// runs on the thread that then writes every push, so it delays them all.
/** The buildMs of every "config changed" line, oldest first; lines that are not such JSON are skipped. */
export function buildTimesMs(logLines: readonly string[]): number[] {
  const times: number[] = [];
  for (const line of logLines) {
    if (!line.includes('"config changed"')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: unknown; buildMs?: unknown };
      if (entry.msg === 'config changed' && typeof entry.buildMs === 'number') times.push(entry.buildMs);
    } catch {
      // A line cut short by a crash: not a measurement.
    }
  }
  return times;
}
