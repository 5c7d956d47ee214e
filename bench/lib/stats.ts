// Exact percentiles from recorded samples (bounded counts, so every sample is kept), medians of trials and the spread
// that says how noisy a run was.

/** Nearest-rank percentile (p in 0..100) of an ascending array; NaN when empty. */
export function percentileSorted (sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))
  return sorted[rank] as number
}

export interface Summary { readonly count: number, readonly p50: number, readonly p90: number, readonly p99: number, readonly mean: number }

export function summarise (samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (const x of sorted) sum += x
  return {
    count: sorted.length,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length
  }
}

export function median (xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/** Spread of trial values around their median: (max - min) / median; NaN (none to tell, "n/a") for fewer than two. */
export function spread (xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x))
  if (s.length < 2) return Number.NaN
  const m = median(s)
  return m === 0 ? 0 : (Math.max(...s) - Math.min(...s)) / Math.abs(m)
}

export function round (x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/**
 * The rate an open-loop run achieved, from its responses' completion times (ms): the count of intervals between the
 * completions at the 10th and the 90th percentile of their times over their span. A server that keeps up completes the
 * requests one send interval apart whatever its latency, so this is the offered rate; one that falls behind spreads
 * its completions over a longer span, and it drops to the server's own pace. The ends are left out because there the
 * routes' own latencies show: on a mix of routes answered in 8 to 260 ms, the first completions are the fast routes'
 * and the last the slow routes', and the whole span, (n - 1) / (last - first), read 5% under the offered rate. (Counting
 * every answer over the span from the first intended send would add one response time to it and read low too: a 50
 * requests/s run answered in 108 ms read 46.) Under 20 completions, the whole span. 0 without two completions.
 */
export function achievedRate (endsMs: ArrayLike<number>): number {
  const n = endsMs.length
  if (n < 2) return 0
  const ends = Float64Array.from(endsMs).sort()
  const lo = n < 20 ? 0 : Math.floor(0.1 * (n - 1))
  const hi = n < 20 ? n - 1 : Math.ceil(0.9 * (n - 1))
  const spanS = ((ends[hi] as number) - (ends[lo] as number)) / 1000
  return spanS > 0 ? (hi - lo) / spanS : 0
}

/** Concatenates sample arrays (trials pooled for tail percentiles). */
export function pool (parts: readonly ArrayLike<number>[]): Float64Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Float64Array(n)
  let o = 0
  for (const p of parts) { out.set(p as Float64Array, o); o += p.length }
  return out
}

/** How often the bench servers sample their event loop's delay, ms (bench/lib/servers.ts, the fidelity scenario). */
export const LOOP_DELAY_SAMPLE_MS = 10

/** Response times adding up to more than this share of their connections' time cannot be right (loadgen `timedShare`). */
export const TIMED_SHARE_LIMIT = 1.02

/**
 * A line for a closed-loop measurement whose runs' response times add up to more than their connections had time for
 * (`timedShare` above the limit in any run): its latency figures are not the requests' own, since autocannon matched
 * responses to requests queued before a reconnection. Undefined when every run adds up.
 */
export function timingMismatch (what: string, runs: readonly { readonly timedShare: number }[]): string | undefined {
  const bad = runs.filter((r) => r.timedShare > TIMED_SHARE_LIMIT)
  if (bad.length === 0) return undefined
  const worst = Math.max(...bad.map((r) => r.timedShare))
  return `${what}: in ${bad.length} of ${runs.length} runs the response times add up to more than the time its connections had (up to ${round(worst, 2)}x), so they are not the requests' own (the server closed kept-alive connections and autocannon kept requests queued from them): its latency figures are not valid`
}

/**
 * Fewer rounds than this give no interval: a bootstrap of one or two values only repeats them ("1.36 to 1.36"), and
 * a verdict on it would be decided by a single round.
 */
/**
 * How far behind its schedule a paced load may run before its CPU per answered request reads high: the requests still
 * queued at the end of a load are its CPU's too, and a p90 response time (from each request's intended send time)
 * above this share of the load's length puts about that share of them after it.
 */
export const BEHIND_SHARE = 0.02

/** How a paced load of `offeredRps` for `seconds` fell behind (p90 from the schedule, answered rate), or undefined. */
export function fellBehind (samplesMs: ArrayLike<number>, achievedRps: number, offeredRps: number, seconds: number): { p90Ms: number, answeredRps: number } | undefined {
  const p90Ms = summarise(samplesMs).p90
  if (p90Ms > BEHIND_SHARE * seconds * 1000 || achievedRps < 0.95 * offeredRps) return { p90Ms, answeredRps: achievedRps }
  return undefined
}

export const MIN_ROUNDS = 3

/** mulberry32: a small, well-mixed 32-bit generator, seeded, giving numbers in [0, 1). */
function seeded (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The `level` interval's bounds out of bootstrap medians. */
function percentileBounds (medians: Float64Array, level: number): [number, number] {
  medians.sort()
  const tail = (1 - level) / 2
  return [percentileSorted(medians, tail * 100), percentileSorted(medians, (1 - tail) * 100)]
}

/**
 * A percentile bootstrap confidence interval for the median of `xs` (`level` 0.95: the 2.5th and 97.5th percentiles of
 * the medians of `resamples` resamples drawn with replacement). Seeded, so one result always gives the same interval.
 * NaN bounds for fewer than MIN_ROUNDS values, which `judged` calls undecided.
 */
export function medianCi (xs: readonly number[], level = 0.95, resamples = 4000, seed = 1): [number, number] {
  const s = xs.filter((x) => Number.isFinite(x))
  if (s.length < MIN_ROUNDS) return [Number.NaN, Number.NaN]
  const next = seeded(seed)
  const medians = new Float64Array(resamples)
  const draw = new Array<number>(s.length)
  for (let k = 0; k < resamples; k++) {
    for (let i = 0; i < s.length; i++) draw[i] = s[Math.floor(next() * s.length)] as number
    medians[k] = median(draw)
  }
  return percentileBounds(medians, level)
}

/**
 * The same interval for values that come in groups: rounds measured in several fresh pairs of processes. Two
 * processes running the same code can differ by a few per cent for as long as they live (their heaps, their JIT's
 * choices), which rounds within one pair never show; so each resample draws groups with replacement and then values
 * within each drawn group with replacement (a two-stage bootstrap), and the interval widens by what varies from one
 * pair of processes to the next. One group is `medianCi` of its values. NaN bounds below MIN_ROUNDS values in all.
 */
export function groupedMedianCi (groups: readonly (readonly number[])[], level = 0.95, resamples = 4000, seed = 1): [number, number] {
  const gs = groups.map((g) => g.filter((x) => Number.isFinite(x))).filter((g) => g.length > 0)
  if (gs.length <= 1) return medianCi(gs[0] ?? [], level, resamples, seed)
  const total = gs.reduce((n, g) => n + g.length, 0)
  if (total < MIN_ROUNDS) return [Number.NaN, Number.NaN]
  const next = seeded(seed)
  const medians = new Float64Array(resamples)
  const draw: number[] = []
  for (let k = 0; k < resamples; k++) {
    draw.length = 0
    for (let j = 0; j < gs.length; j++) {
      const g = gs[Math.floor(next() * gs.length)] as number[]
      for (let i = 0; i < g.length; i++) draw.push(g[Math.floor(next() * g.length)] as number)
    }
    medians[k] = median(draw)
  }
  return percentileBounds(medians, level)
}

export type Verdict = 'met' | 'not met' | 'undecided'

/**
 * A target on a ratio ("at most `target`", or "below `target`" when `strict`), judged by the ratio's 95% interval:
 * met when the whole interval keeps to it, not met when the whole interval misses it, undecided when the interval
 * straddles it or there is none (the run cannot tell; fewer than MIN_ROUNDS rounds give none).
 */
export function judged (ci: readonly number[], target: number, strict = false): Verdict {
  const [lo, hi] = ci as [number, number]
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return 'undecided'
  const keeps = (x: number): boolean => strict ? x < target : x <= target
  if (keeps(hi)) return 'met'
  if (!keeps(lo)) return 'not met'
  return 'undecided'
}
