// Prometheus metrics for the control plane, fed by cache events.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ControlPlane } from '../control-plane.js';
import { shortTypeName, type TypeUrl } from '../xds/type-urls.js';

export function createMetrics(controlPlane: ControlPlane): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mediamesh_process_' });
  const cache = controlPlane.cache;

  new Gauge({
    name: 'mediamesh_xds_connected_proxies',
    help: 'Proxies with at least one open ADS stream.',
    registers: [registry],
    collect() {
      this.set(cache.connectedCount());
    },
  });
  new Gauge({
    name: 'mediamesh_xds_disconnected_proxies',
    help: 'Disconnected proxies still remembered (forgotten after --forget-after; at most 10,000).',
    registers: [registry],
    collect() {
      this.set(cache.disconnectedCount());
    },
  });
  new Gauge({
    name: 'mediamesh_route_conditions',
    help: 'Route parents by condition (Accepted, ResolvedRefs, Programmed) and status (True, False, Unknown).',
    labelNames: ['type', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const route of controlPlane.routeStatuses()) {
        for (const parent of route.status.parents) for (const c of parent.conditions) this.inc({ type: c.type, status: c.status });
      }
    },
  });
  const pushes = new Counter({ name: 'mediamesh_xds_pushes_total', help: 'Discovery responses sent, by type.', labelNames: ['type'], registers: [registry] });
  const acks = new Counter({ name: 'mediamesh_xds_acks_total', help: 'Responses the proxy accepted, by type.', labelNames: ['type'], registers: [registry] });
  const nacks = new Counter({ name: 'mediamesh_xds_nacks_total', help: 'Responses the proxy rejected, by type.', labelNames: ['type'], registers: [registry] });
  const latency = new Histogram({
    name: 'mediamesh_xds_push_latency_seconds',
    help: 'From sending a response to the proxy ACKing or NACKing it.',
    labelNames: ['type'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'mediamesh_config_errors',
    help: 'Config documents currently rejected (bad YAML, schema or references).',
    registers: [registry],
    collect() {
      this.set(controlPlane.configStatus().problems.length);
    },
  });
  const reloads = new Counter({
    name: 'mediamesh_config_reloads_total',
    help: 'Times the config was rebuilt from its source; when="early" for edits applied before the debounce.',
    labelNames: ['when'],
    registers: [registry],
  });
  controlPlane.onReload((status) => reloads.inc({ when: status.loadedBy ?? 'settled' }));

  // Every push and ACK lands here: look each type's labelled series up once, not per event.
  const perType = <T>(make: (type: string) => T): ((typeUrl: TypeUrl) => T) => {
    const children = new Map<TypeUrl, T>();
    return (typeUrl) => {
      let child = children.get(typeUrl);
      if (!child) children.set(typeUrl, (child = make(shortTypeName(typeUrl))));
      return child;
    };
  };
  const pushesOf = perType((type) => pushes.labels({ type }));
  const acksOf = perType((type) => acks.labels({ type }));
  const nacksOf = perType((type) => nacks.labels({ type }));
  const latencyOf = perType((type) => latency.labels({ type }));

  // Send times of responses awaiting an answer: node → type → (version, time).
  // Times are performance.now() (monotonic milliseconds): a push to every proxy lands here, and a double costs less than a bigint.
  const pending = new Map<string, Map<TypeUrl, { version: string; at: number }>>();
  const observe = (nodeId: string, typeUrl: TypeUrl, version: string): void => {
    const byType = pending.get(nodeId);
    const sent = byType?.get(typeUrl);
    if (sent && sent.version === version) {
      latencyOf(typeUrl).observe((performance.now() - sent.at) / 1e3);
      byType!.delete(typeUrl);
    }
  };
  cache.addEvents({
    pushed(nodeId, typeUrl, version) {
      pushesOf(typeUrl).inc();
      let byType = pending.get(nodeId);
      if (!byType) pending.set(nodeId, (byType = new Map()));
      byType.set(typeUrl, { version, at: performance.now() });
    },
    acked(nodeId, typeUrl, version) {
      acksOf(typeUrl).inc();
      observe(nodeId, typeUrl, version);
    },
    nacked(nodeId, typeUrl, version) {
      nacksOf(typeUrl).inc();
      observe(nodeId, typeUrl, version);
    },
    nodeDisconnected(nodeId) {
      pending.delete(nodeId);
    },
    nodeForgotten(nodeId) {
      pending.delete(nodeId);
    },
  });
  return registry;
}
