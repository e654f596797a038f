// What one xDS client can make the server hold, and why each bound is where
// it is. Envoy itself stays far below all of them: one ADS stream per proxy,
// one or two responses in flight per type, names only of resources we sent.
export const XDS_LIMITS = {
  /** Concurrent ADS streams across all clients: about 4x a large deployment's proxies. */
  maxStreams: 20_000,
  /** HTTP/2 streams per connection: Envoy opens one ADS stream on its own connection. */
  maxStreamsPerConnection: 8,
  /** One request message: a Delta reconnect lists every resource it holds (about 100 bytes each). */
  maxRequestBytes: 4 * 1024 * 1024,
  /** node.id and node.cluster: Istio-style ids are about 100 characters. */
  maxNodeIdLength: 1024,
  /** Names one stream may subscribe to (or report holding) per type: above any snapshot's size (5,000 listeners, plus per-proxy additions). */
  maxNamesPerType: 16_384,
  /** Delta responses awaiting an ACK per type; older ones are dropped (Envoy answers in order). */
  maxPendingPerType: 16,
} as const;
