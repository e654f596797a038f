// The mediamesh RTP filter as a UDP listener filter: Envoy's dynamic-module
// extension loading libmediamesh_rtp_filter.so (envoy-filters/dynamic-module).
import type { AsyncDataSource } from '../gen/envoy/config/core/v3/base.js';
import type { ListenerFilter } from '../gen/envoy/config/listener/v3/listener_components.js';
import { StringValue } from '../gen/google/protobuf/wrappers.js';
import { DynamicModuleUdpListenerFilter } from '../gen/mediamesh/envoy/dynamic_modules.js';
import type { UdpListenerModel } from '../model/ir.js';
import { packAny } from '../xds/resources.js';
import { type ExtensionFile, extensionDataSource } from './proto-values.js';

export const RTP_FILTER_MODULE_NAME = 'mediamesh_rtp_filter';
/** Every RTP stat is <namespace>.rtp.<route>.<name>. */
export const RTP_METRICS_NAMESPACE = 'mediamesh';

/** Where Envoy gets the filter's shared object. */
export type RtpModuleSource = { kind: 'search-path' } | ExtensionFile;

/** The route key in stat names: <namespace>.<name>. */
export function rtpStatRoute(model: UdpListenerModel): string {
  return `${model.route.namespace}.${model.route.name}`;
}

export function rtpListenerFilter(model: UdpListenerModel, source: RtpModuleSource): ListenerFilter {
  return rtpFilterFor(rtpStatRoute(model), model.clockRates, source);
}

/** The filter with `route` as its stats' route key: mediamesh.rtp.<route>.*. */
export function rtpFilterFor(route: string, clockRates: Readonly<Record<string, number>>, source: RtpModuleSource): ListenerFilter {
  const filterConfig = {
    route,
    clock_rates: Object.fromEntries(Object.entries(clockRates).map(([pt, hz]) => [pt, hz])),
  };
  const config = DynamicModuleUdpListenerFilter.fromPartial({
    dynamicModuleConfig: {
      name: RTP_FILTER_MODULE_NAME,
      metricsNamespace: RTP_METRICS_NAMESPACE,
      // Unloading a module that live filters still point into is never worth the risk.
      doNotClose: true,
      module: moduleSource(source),
      nackOnCacheMiss: source.kind === 'remote',
    },
    filterName: 'rtp',
    filterConfig: packAny('google.protobuf.StringValue', { value: JSON.stringify(filterConfig) }, StringValue),
  });
  return {
    name: 'envoy.filters.udp_listener.dynamic_modules',
    configType: { $case: 'typedConfig', value: packAny('envoy.extensions.filters.udp.dynamic_modules.v3.DynamicModuleUdpListenerFilter', config, DynamicModuleUdpListenerFilter) },
  };
}

function moduleSource(source: RtpModuleSource): AsyncDataSource | undefined {
  return source.kind === 'search-path' ? undefined : extensionDataSource(source);
}
