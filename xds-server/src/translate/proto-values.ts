// Small builders for protobuf well-known values.
import type { Duration } from '../gen/google/protobuf/duration.js';

export function durationFromMs(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1_000_000) };
}
