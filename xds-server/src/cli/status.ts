// `mediamesh status`: every proxy the control plane knows, per resource type
// the version it ACKed and its last NACK with Envoy's own error text.
import type { NodeStatusJson } from '../xds/node-status.js';

interface NodesResponse {
  nodes: NodeStatusJson[];
  config: { source: string; ready: boolean; snapshotVersion: string; rejected: string[] };
}

export async function fetchNodes(adminUrl: string): Promise<NodesResponse> {
  const url = new URL('/debug/nodes', adminUrl);
  let res: globalThis.Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new Error(`cannot reach the control plane admin at ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return (await res.json()) as NodesResponse;
}

/** `media/sidecar`, `gateway`; `-` from a control plane that does not report views. */
function viewText(view: NodeStatusJson['view'] | undefined): string {
  if (!view) return '-';
  return view.namespace === undefined ? view.role : `${view.namespace}/${view.role}`;
}

export function formatStatus(data: NodesResponse): string {
  const rows: string[][] = [['NODE', 'CLUSTER', 'STATE', 'XDS', 'VIEW', 'IDENTITY', 'TYPE', 'SENT', 'ACKED', 'LAST NACK']];
  for (const node of [...data.nodes].sort((a, b) => a.id.localeCompare(b.id))) {
    const types = Object.entries(node.types);
    const first = [node.id, node.cluster, node.connected ? 'connected' : 'gone', node.protocol, viewText(node.view), node.identity ?? '-'];
    if (types.length === 0) rows.push([...first, '-', '-', '-', '-']);
    types.forEach(([type, t], i) => {
      const nack = t.lastNack ? `${t.lastNack.version} at ${t.lastNack.at}: ${t.lastNack.error.replace(/\s+/g, ' ')}` : '-';
      rows.push([...(i === 0 ? first : first.map(() => '')), type, t.sentVersion ?? '-', t.ackedVersion ?? '-', nack]);
    });
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (c === r.length - 1 ? 0 : r[c]!.length))));
  const table = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
  const config = data.config;
  const lines = [`config: ${config.source}, snapshot ${config.snapshotVersion}${config.ready ? '' : ' (not ready)'}`, `proxies: ${data.nodes.filter((n) => n.connected).length} connected, ${data.nodes.length} known`, '', table];
  if (config.rejected.length > 0) lines.push('', `rejected config (${config.rejected.length}):`, ...config.rejected.map((r) => `  ${r}`));
  return lines.join('\n') + '\n';
}
