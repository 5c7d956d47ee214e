// Modelled propagation delay for live hops: one-way = RTT / 2 (docs/design.md, latency model), times the time scale,
// with seeded jitter so runs are reproducible; nothing at all when latency is off (pure software overhead).
import { AsyncLocalStorage } from 'node:async_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { jittered, mulberry32 } from '../core/latency.ts'

export interface DelayOptions {
  readonly enabled: boolean
  readonly timeScale: number
  /** Fraction of each round trip, 0..1. */
  readonly jitter: number
  readonly seed: number
}

/** The jitter drawn during one piece of work (drawn minus modelled, wall-clock ms): what its deadline must add. */
export interface JitterRecord {
  jitterMs: number
}

export interface Delay {
  readonly enabled: boolean
  readonly timeScale: number
  /** Fraction of each modelled duration a draw may vary by (0: none). */
  readonly jitter: number
  /** Wall-clock ms to wait for one direction of a hop whose modelled round trip is `rttMs`. */
  oneWayMs (rttMs: number): number
  /** Wall-clock ms for a modelled duration that is not split by direction (origin service time, a key round trip). */
  scaledMs (ms: number): number
  wait (ms: number): Promise<void>
  /**
   * Waits until `deadline` (a `nowMs()` time) with the timer-lateness correction of `wait`; not at all once it has
   * passed. Settles a request against its modelled total: time the simulation has already spent is not waited again.
   */
  waitUntil (deadline: number): Promise<void>
  /**
   * Runs `fn` with a record of the jitter drawn inside it (by `oneWayMs` and `scaledMs`, across every await), so that
   * a request can be settled against its modelled total plus the jitter it was actually given. Without jitter the
   * record stays 0 and nothing is tracked.
   */
  tracked<T> (fn: (record: JitterRecord) => Promise<T>): Promise<T>
  /** Adds jitter drawn elsewhere (reported by the next hop) to the record of the enclosing `tracked` call, if any. */
  addJitter (ms: number): void
}

/** What `wait` needs of the outside world; tests pass fakes. */
export interface DelayClock {
  now (): number
  sleep (ms: number): Promise<unknown>
}

const REAL_CLOCK: DelayClock = { now: () => performance.now(), sleep: (ms) => sleep(ms) }

/** Weight of each new observation in the running estimate of timer lateness (an exponentially weighted mean). */
export const LATENESS_WEIGHT = 0.05

/**
 * Timers fire late: Node schedules them from the event loop's cached clock at millisecond granularity, and a busy
 * loop adds its own delay, so a chain of six waits per relayed request would add several milliseconds that the model
 * does not have. `wait` therefore keeps a running mean of how late its timers fire and asks for that much less, so
 * waits are right on average (the median matters: the benchmarks compare p50s). Waits shorter than the expected
 * lateness are not slept at all; their time is carried over and added to the next wait, so nothing is lost.
 */
export function createWaiter (clock: DelayClock = REAL_CLOCK): { wait (ms: number): Promise<void>, until (deadline: number): Promise<void>, lateness (): number } {
  let lateness = 1
  let owed = 0
  async function sleep (ask: number): Promise<void> {
    const start = clock.now()
    await clock.sleep(ask)
    const late = clock.now() - start - ask
    // Bounded so that one long stall (a GC pause, a busy loop) cannot make later waits vanish.
    lateness += LATENESS_WEIGHT * (Math.min(Math.max(late, 0), 5) - lateness)
  }
  return {
    lateness: () => lateness,
    async wait (ms) {
      const total = ms + owed
      const ask = total - lateness
      if (ask < 0.5) {
        owed = Math.max(0, total)
        return
      }
      owed = 0
      await sleep(ask)
    },
    async until (deadline) {
      // Nothing is owed to a deadline: a moment too short to sleep is simply not slept.
      const ask = deadline - clock.now() - lateness
      if (ask >= 0.5) await sleep(ask)
    }
  }
}

export function createDelay (opts: DelayOptions, clock: DelayClock = REAL_CLOCK): Delay {
  const rng = mulberry32(opts.seed)
  const scale = opts.enabled ? opts.timeScale : 0
  const waiter = createWaiter(clock)
  // Only a run with jitter keeps records: without it every wait is its modelled value and there is nothing to add.
  const records = opts.jitter > 0 && scale > 0 ? new AsyncLocalStorage<JitterRecord>() : undefined
  function drawn (value: number, modelled: number): number {
    const r = records?.getStore()
    if (r !== undefined) r.jitterMs += value - modelled
    return value
  }
  return {
    enabled: opts.enabled,
    timeScale: opts.timeScale,
    jitter: opts.jitter > 0 ? opts.jitter : 0,
    oneWayMs (rttMs) {
      if (scale === 0) return 0
      return drawn((jittered(rttMs, opts.jitter, rng) / 2) * scale, (rttMs / 2) * scale)
    },
    scaledMs (ms) {
      return scale === 0 ? 0 : drawn(jittered(ms, opts.jitter, rng) * scale, ms * scale)
    },
    wait (ms) {
      return scale === 0 || ms <= 0 ? Promise.resolve() : waiter.wait(ms)
    },
    waitUntil (deadline) {
      return scale === 0 ? Promise.resolve() : waiter.until(deadline)
    },
    tracked (fn) {
      if (records === undefined) return fn({ jitterMs: 0 })
      const record: JitterRecord = { jitterMs: 0 }
      return records.run(record, () => fn(record))
    },
    addJitter (ms) {
      const r = records?.getStore()
      if (r !== undefined && Number.isFinite(ms)) r.jitterMs += ms
    }
  }
}

/**
 * How far an exchange that started at `start` (a `nowMs()` time) has run past the `expected` ms it accounts for (its
 * modelled outbound wait and the far end's reported time): the simulation's own time on the way, which the response
 * direction's wait then leaves out, as the ingress's settling does for a whole request. Never negative.
 */
export function overrun (start: number, expected: number): number {
  return Math.max(0, nowMs() - start - expected)
}

/** Monotonic ms, for measuring hops (performance.now is immune to wall-clock steps). */
export function nowMs (): number {
  return performance.now()
}
