// `mediamesh status`: every proxy the control plane knows, per resource type
// the version it ACKed and its last NACK with Envoy's own error text.
// Below the proxies, every route with its Accepted / ResolvedRefs / Programmed
// conditions per parent, and the message of each condition that is not True.
import type { RouteStatusEntry } from '../status/route-status.js';
import type { NodeStatusJson } from '../xds/node-status.js';

interface NodesResponse {
  nodes: NodeStatusJson[];
  config: { source: string; ready: boolean; snapshotVersion: string; rejected: string[] };
  routes?: RouteStatusEntry[];
}

async function getJson<T>(adminUrl: string, path: string): Promise<T> {
  const url = new URL(path, adminUrl);
  let res: globalThis.Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new Error(`cannot reach the control plane admin at ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as T;
}

export async function fetchNodes(adminUrl: string): Promise<NodesResponse> {
  const [nodes, routes] = await Promise.all([getJson<NodesResponse>(adminUrl, '/debug/nodes'), getJson<{ routes: RouteStatusEntry[] }>(adminUrl, '/debug/routes')]);
  return { ...nodes, routes: routes.routes };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (c === r.length - 1 ? 0 : r[c]!.length))));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

export function formatRoutes(routes: readonly RouteStatusEntry[]): string {
  const rows: string[][] = [['ROUTE', 'GEN', 'PARENT', 'ACCEPTED', 'RESOLVEDREFS', 'PROGRAMMED']];
  const notes: string[] = [];
  for (const route of routes) {
    const id = `${route.kind} ${route.namespace}/${route.name}`;
    const gen = route.servedGeneration !== undefined && route.servedGeneration !== route.generation ? `${route.generation} (serving ${route.servedGeneration})` : String(route.generation);
    route.status.parents.forEach((parent, i) => {
      const ref = parent.parentRef;
      const where = `${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}:${ref.port}${ref.endPort ? `-${ref.endPort}` : ''}`;
      const cell = (type: string) => {
        const c = parent.conditions.find((x) => x.type === type);
        return c ? (c.status === 'True' ? 'True' : `${c.status} (${c.reason})`) : '-';
      };
      rows.push([i === 0 ? id : '', i === 0 ? gen : '', where, cell('Accepted'), cell('ResolvedRefs'), cell('Programmed')]);
      for (const c of parent.conditions) if (c.status !== 'True') notes.push(`  ${id} ${where} ${c.type}=${c.status} ${c.reason}: ${c.message.replace(/\s+/g, ' ')}`);
    });
  }
  if (routes.length === 0) return 'routes: none\n';
  return [`routes: ${routes.length}`, '', table(rows), ...(notes.length ? ['', ...notes] : [])].join('\n') + '\n';
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
  const config = data.config;
  const lines = [`config: ${config.source}, snapshot ${config.snapshotVersion}${config.ready ? '' : ' (not ready)'}`, `proxies: ${data.nodes.filter((n) => n.connected).length} connected, ${data.nodes.length} known`, '', table(rows)];
  if (config.rejected.length > 0) lines.push('', `rejected config (${config.rejected.length}):`, ...config.rejected.map((r) => `  ${r}`));
  return lines.join('\n') + '\n' + (data.routes ? '\n' + formatRoutes(data.routes) : '');
}
