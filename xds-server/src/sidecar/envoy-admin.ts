// Reads a running Envoy's admin API: stats, listeners, config dump.
export class EnvoyAdmin {
  constructor(readonly url: string) {}

  async get(pathAndQuery: string): Promise<string> {
    const res = await fetch(new URL(pathAndQuery, this.url), { signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    if (!res.ok) throw new Error(`Envoy admin ${pathAndQuery} answered ${res.status}: ${body.slice(0, 200)}`);
    return body;
  }

  /** Counters and gauges as name → value (histograms are left out). */
  async stats(filter?: string): Promise<Map<string, number>> {
    const text = await this.get(`/stats${filter ? `?filter=${encodeURIComponent(filter)}` : ''}`);
    const out = new Map<string, number>();
    for (const line of text.split('\n')) {
      const m = /^(.+?): (-?\d+(?:\.\d+)?)$/.exec(line);
      if (m) out.set(m[1]!, Number(m[2]));
    }
    return out;
  }

  async stat(name: string): Promise<number> {
    const stats = await this.stats(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    return stats.get(name) ?? 0;
  }

  /** Names of active listeners. */
  async listenerNames(): Promise<string[]> {
    const json = JSON.parse(await this.get('/listeners?format=json')) as { listener_statuses?: { name: string }[] };
    return (json.listener_statuses ?? []).map((l) => l.name);
  }

  async configDump(resource?: string): Promise<{ configs: Record<string, unknown>[] }> {
    return JSON.parse(await this.get(`/config_dump${resource ? `?resource=${resource}` : ''}`)) as { configs: Record<string, unknown>[] };
  }

  /** Dynamic listeners Envoy runs (active state), with the version_info they came with. */
  async dynamicListeners(): Promise<{ name: string; versionInfo: string; errorState?: unknown }[]> {
    const dump = await this.configDump('dynamic_listeners');
    return dump.configs.map((c) => {
      const entry = c as { name: string; active_state?: { version_info: string }; error_state?: unknown };
      return { name: entry.name, versionInfo: entry.active_state?.version_info ?? '', errorState: entry.error_state };
    });
  }
}
