// The one clock every bench process uses for cross-process intervals.
//
// performance.timeOrigin is the wall-clock time (ms since the epoch, with
// sub-millisecond precision) at which this process started; adding the
// monotonic performance.now() gives a wall-clock reading that processes on
// one machine can compare. The coordinator stamps the config file write with
// it and every worker stamps its ACKs with it.
import { performance } from 'node:perf_hooks';

export function wallNowMs(): number {
  return performance.timeOrigin + performance.now();
}
