// Modelled propagation delay for live hops: one-way = RTT / 2 (DESIGN.md, latency model), times the time scale,
// with seeded jitter so runs are reproducible; nothing at all when latency is off (pure software overhead).
import { setTimeout as sleep } from 'node:timers/promises'
import { jittered, mulberry32 } from '../core/latency.ts'

export interface DelayOptions {
  readonly enabled: boolean
  readonly timeScale: number
  /** Fraction of each round trip, 0..1. */
  readonly jitter: number
  readonly seed: number
}

export interface Delay {
  readonly enabled: boolean
  readonly timeScale: number
  /** Wall-clock ms to wait for one direction of a hop whose modelled round trip is `rttMs`. */
  oneWayMs (rttMs: number): number
  /** Wall-clock ms for a modelled duration that is not split by direction (origin service time, a key round trip). */
  scaledMs (ms: number): number
  wait (ms: number): Promise<void>
}

export function createDelay (opts: DelayOptions): Delay {
  const rng = mulberry32(opts.seed)
  const scale = opts.enabled ? opts.timeScale : 0
  return {
    enabled: opts.enabled,
    timeScale: opts.timeScale,
    oneWayMs (rttMs) {
      if (scale === 0) return 0
      return (jittered(rttMs, opts.jitter, rng) / 2) * scale
    },
    scaledMs (ms) {
      return scale === 0 ? 0 : jittered(ms, opts.jitter, rng) * scale
    },
    wait (ms) {
      // Timers have 1 ms granularity in Node; sub-millisecond waits are skipped rather than rounded up to 1 ms.
      return ms >= 0.5 ? sleep(ms) : Promise.resolve()
    }
  }
}

/** Monotonic ms, for measuring hops (performance.now is immune to wall-clock steps). */
export function nowMs (): number {
  return performance.now()
}
