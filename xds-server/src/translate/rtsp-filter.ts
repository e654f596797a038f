// The mediamesh RTSP filter as a network filter: Envoy's Wasm filter running
// mediamesh_rtsp_filter.wasm (envoy-filters/wasm), with the route's match
// table as its plugin configuration (JSON; the filter's own shape, see
// envoy-filters/wasm/filter_config.h).
import type { Filter } from '../gen/envoy/config/listener/v3/listener_components.js';
import { StringValue } from '../gen/google/protobuf/wrappers.js';
import { WasmFailurePolicy, WasmNetworkFilter } from '../gen/mediamesh/envoy/wasm.js';
import type { RtspListenerModel, RtspPathMatchModel, RtspRuleModel } from '../model/ir.js';
import { packAny } from '../xds/resources.js';
import { RTSP_REJECT_CLUSTER, rtspClusterName, rtspListenerName, rtspStatRoute } from './names.js';
import { type ExtensionFile, extensionDataSource } from './proto-values.js';

/** Every connection of every RtspRoute shares one VM per worker (different plugin configurations). */
export const RTSP_FILTER_VM_ID = 'mediamesh_rtsp';
export const RTSP_FILTER_ROOT_ID = 'mediamesh_rtsp';
export const RTSP_FILTER_NAME = 'envoy.filters.network.wasm';

/** Where Envoy gets the filter's .wasm. */
export type RtspFilterSource = ExtensionFile;

/**
 * UDP transport through relays: the bootstrap cluster of the control plane's
 * relay API, how long a SETUP may wait for its relays, and what the client is
 * told to send its media to: the address it connected to ("local": a
 * gateway) or its own ("client": a sidecar shares the client's network
 * namespace, and its redirected connections keep the Service's address as
 * their local one).
 */
export interface RtspRelaysConfig {
  cluster: string;
  timeout_ms: number;
  source: 'local' | 'client';
}

/** The plugin configuration: matches in precedence order (the filter takes the first that matches). */
export interface RtspFilterConfig {
  route: string;
  hostnames?: string[];
  matches: { path: RtspPathMatchModel; rule: number; cluster: string; transport: RtspRuleModel['transport'] }[];
  reject_cluster: string;
  relays?: RtspRelaysConfig;
}

const MATCH_PRECEDENCE: Record<RtspPathMatchModel['type'], number> = { Exact: 0, RegularExpression: 1, PathPrefix: 2 };

/**
 * Gateway API's precedence, as Envoy Gateway orders HTTPRoute matches:
 * Exact paths first, then regular expressions (in rule order; Gateway API
 * leaves their precedence to the implementation), then path prefixes,
 * longest first (equal ones in rule order). A rule without matches is a
 * PathPrefix "/", so it is the last resort whatever its position.
 */
export function orderedMatches(model: RtspListenerModel): RtspFilterConfig['matches'] {
  const entries = model.rules.flatMap((rule) => {
    const matches = rule.matches.length > 0 ? rule.matches : [{ type: 'PathPrefix' as const, value: '/' }];
    return matches.map((path) => ({ path, rule: rule.index, cluster: rtspClusterName(model.route, model.port, rule.index), transport: rule.transport }));
  });
  const prefixLength = (value: string) => value.replace(/\/+$/, '').length;
  return entries
    .map((entry, position) => ({ entry, position }))
    .sort((a, b) => {
      const [pa, pb] = [a.entry.path, b.entry.path];
      if (pa.type !== pb.type) return MATCH_PRECEDENCE[pa.type] - MATCH_PRECEDENCE[pb.type];
      if (pa.type === 'PathPrefix') return prefixLength(pb.value) - prefixLength(pa.value) || a.position - b.position;
      return a.position - b.position;
    })
    .map(({ entry }) => entry);
}

export function rtspFilterConfig(model: RtspListenerModel, relays?: RtspRelaysConfig): RtspFilterConfig {
  return {
    route: rtspStatRoute(model.route),
    ...(model.hostnames.length > 0 ? { hostnames: model.hostnames } : {}),
    matches: orderedMatches(model),
    reject_cluster: RTSP_REJECT_CLUSTER,
    ...(relays ? { relays } : {}),
  };
}

export function rtspNetworkFilter(model: RtspListenerModel, source: RtspFilterSource, relays?: RtspRelaysConfig): Filter {
  // Envoy's logs name the plugin: "wasm log rtsp~ns~route~port mediamesh_rtsp ...".
  return rtspWasmFilter(rtspListenerName(model.route, model.port), rtspFilterConfig(model, relays), source);
}

/** The Wasm network filter running the RTSP filter with one plugin configuration. */
export function rtspWasmFilter(pluginName: string, pluginConfig: RtspFilterConfig, source: RtspFilterSource): Filter {
  const config = WasmNetworkFilter.fromPartial({
    config: {
      name: pluginName,
      rootId: RTSP_FILTER_ROOT_ID,
      vmConfig: {
        vmId: RTSP_FILTER_VM_ID,
        runtime: 'envoy.wasm.runtime.v8',
        code: extensionDataSource(source),
      },
      configuration: packAny('google.protobuf.StringValue', { value: JSON.stringify(pluginConfig) }, StringValue),
      // A VM that traps is replaced; the connection it was serving is closed.
      failurePolicy: WasmFailurePolicy.FAIL_RELOAD,
    },
  });
  return {
    name: RTSP_FILTER_NAME,
    configType: { $case: 'typedConfig', value: packAny('envoy.extensions.filters.network.wasm.v3.Wasm', config, WasmNetworkFilter) },
  };
}
