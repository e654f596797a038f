// Messages between the bench coordinator and its client worker processes
// (node:child_process IPC, structured as plain JSON).
import type { Expectation } from './expectation.js';
import type { ProxySpec } from './views.js';

/** What a proxy must hold, by its view key (views.ts): proxies of one view get the same resources. */
export type ExpectationsByView = Record<string, Expectation>;

export type XdsProtocol = 'sotw' | 'delta';

export interface StartMessage {
  kind: 'start';
  /** host:port of the ADS server. */
  address: string;
  protocol: XdsProtocol;
  /** SotW: the node on every request (Envoy's default) instead of the first only (what `mediamesh bootstrap` configures). */
  nodeOnEveryRequest: boolean;
  proxies: ProxySpec[];
  /** Simulated proxies per gRPC channel (1: one HTTP/2 connection each, like Envoy). */
  clientsPerChannel: number;
  /** Channels opened per ramp step, and the pause between steps. */
  rampBatch: number;
  rampIntervalMs: number;
  /** What every proxy must hold before it counts as synced. */
  initial: ExpectationsByView;
}

export interface ArmMessage {
  kind: 'arm';
  round: number;
  expect: ExpectationsByView;
}

export interface StopMessage {
  kind: 'stop';
}

export type ToWorker = StartMessage | ArmMessage | StopMessage;

export interface ProgressMessage {
  kind: 'progress';
  streams: number;
  synced: number;
  /** Proxies that ACKed the armed round's config. */
  converged: number;
}

export interface SyncedMessage {
  kind: 'synced';
  count: number;
  /** CPU this worker used (user+system seconds) since it started. */
  cpuS: number;
}

export interface ArmedMessage {
  kind: 'armed';
  round: number;
}

export interface ConvergedMessage {
  kind: 'converged';
  round: number;
  /** Wall-clock ms (clock.ts) at which each proxy wrote its ACK of the new config. */
  ackAtMs: number[];
  cpuS: number;
}

export interface FailedMessage {
  kind: 'failed';
  error: string;
}

export type FromWorker = ProgressMessage | SyncedMessage | ArmedMessage | ConvergedMessage | FailedMessage;
