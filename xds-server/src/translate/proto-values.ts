// Small builders for protobuf values the translator repeats.
import type { AsyncDataSource } from '../gen/envoy/config/core/v3/base.js';
import type { Duration } from '../gen/google/protobuf/duration.js';

export function durationFromMs(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1_000_000) };
}

/** An extension's file (the RTP module, the RTSP filter): on the proxy's disk, or fetched from the control plane's admin and checked by sha256. */
export type ExtensionFile =
  | { kind: 'local'; path: string }
  | { kind: 'remote'; uri: string; cluster: string; sha256: string };

export function extensionDataSource(file: ExtensionFile): AsyncDataSource {
  switch (file.kind) {
    case 'local':
      return { specifier: { $case: 'local', value: { specifier: { $case: 'filename', value: file.path }, watchedDirectory: undefined } } };
    case 'remote':
      return {
        specifier: {
          $case: 'remote',
          value: { httpUri: { uri: file.uri, httpUpstreamType: { $case: 'cluster', value: file.cluster }, timeout: durationFromMs(10_000) }, sha256: file.sha256, retryPolicy: undefined },
        },
      };
  }
}
