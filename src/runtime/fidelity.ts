// The simulation's own check that it keeps up with its model. With latency on, a request served along its whole plan
// is held until its modelled total has passed (the settling in ingress.ts); a response that leaves later than that
// carries time the model does not have: the machine was too busy. The monitor counts such responses and, when most
// of a window's are late (its median response breaks the tolerance, isLate in core/latency.ts), says so in the log
// with the event-loop delay of the same window, so that figures taken from an overloaded run are not mistaken for the
// model's. Some late responses are normal: timers and the machine put a tail on every run (4-8% of responses at a
// steady 200-1,000 requests/s on a 2-core VM whose median stayed within 1.1 ms of the model; up to 18% at the rates
// the fidelity benchmark judged faithful).
import type { EventEmitter } from 'node:events'
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { FidelitySnapshot } from '../services/control/runtime.ts'
import type { RequestRecord, RuntimeEvents } from '../services/records.ts'

/** Interval of the loop-delay sampling timer, ms. */
export const LOOP_SAMPLE_MS = 20

/**
 * How late the event loop ran a sampling timer of `resolutionMs`, in ms, from a reading of a `monitorEventLoopDelay`
 * histogram (ns): Node records the whole time between the timer's runs, the interval included (an idle loop sampled
 * every 20 ms reads about 20 ms), so the delay is what is beyond the interval.
 */
export function loopDelayMs (readingNs: number, resolutionMs: number): number {
  return Math.round(Math.max(0, readingNs / 1e6 - resolutionMs) * 100) / 100
}

/** How many of the latest settled responses `recent` covers. */
export const RECENT = 100

export interface FidelityMonitor {
  snapshot (): FidelitySnapshot
  close (): void
}

export interface FidelityOptions {
  readonly events: EventEmitter<RuntimeEvents>
  readonly logger: Logger
  /** Length of a window, ms: at most one warning per window. Default 10 s. */
  readonly windowMs?: number
  /**
   * A window warns when more than this share of its settled responses were late (and at least `minLate`). Default
   * one half: the window's median response was late.
   */
  readonly warnShare?: number
  readonly minLate?: number
}

export function createFidelityMonitor (opts: FidelityOptions): FidelityMonitor {
  const windowMs = opts.windowMs ?? 10_000
  const warnShare = opts.warnShare ?? 0.5
  const minLate = opts.minLate ?? 5
  let settled = 0
  let late = 0
  let maxLateMs = 0
  let warnings = 0
  let windowSettled = 0
  let windowLate = 0
  let windowMaxLateMs = 0
  // A ring of the latest responses' verdicts (1: late), and how many of those in it are late.
  const ring = new Uint8Array(RECENT)
  let ringLate = 0
  // Sampled every 20 ms: coarse, cheap, and enough to tell a loop that stalls for tens of ms from one that keeps up.
  const loopDelay: ELDHistogram = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
  loopDelay.enable()

  function onRequest (record: RequestRecord): void {
    const s = record.settle
    if (s === undefined) return
    const slot = settled % RECENT
    ringLate += (s.late ? 1 : 0) - (ring[slot] as number)
    ring[slot] = s.late ? 1 : 0
    settled++
    windowSettled++
    if (s.lateMs > maxLateMs) maxLateMs = s.lateMs
    if (s.lateMs > windowMaxLateMs) windowMaxLateMs = s.lateMs
    if (s.late) {
      late++
      windowLate++
    }
  }

  function endWindow (): void {
    if (windowLate >= minLate && windowLate > warnShare * windowSettled) {
      warnings++
      opts.logger.warn({
        windowS: windowMs / 1000,
        settled: windowSettled,
        late: windowLate,
        lateShare: Math.round(windowLate / windowSettled * 1000) / 1000,
        maxLateMs: Math.round(windowMaxLateMs * 10) / 10,
        eventLoopDelayP99Ms: loopDelayMs(loopDelay.percentile(99), LOOP_SAMPLE_MS)
      }, 'simulation behind its model: most responses left later than their modelled time (the machine is too busy for this load; lower the request rate or the time scale)')
    }
    windowSettled = 0
    windowLate = 0
    windowMaxLateMs = 0
    loopDelay.reset()
  }

  opts.events.on('request', onRequest)
  const timer = setInterval(endWindow, windowMs)
  timer.unref()

  return {
    snapshot: () => ({ settled, late, maxLateMs, warnings, recent: { responses: Math.min(settled, RECENT), late: ringLate } }),
    close () {
      clearInterval(timer)
      loopDelay.disable()
      opts.events.off('request', onRequest)
    }
  }
}
