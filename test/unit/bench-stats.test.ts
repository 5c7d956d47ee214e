// The bootstrap interval of a median (bench/lib/stats.ts medianCi) that the benchmark's concurrent pairs report, the
// verdict on a target that their interval gives (judged), and the rate an open-loop run achieved (achievedRate).
import { describe, expect, it } from 'vitest'
import { achievedRate, groupedMedianCi, judged, median, medianCi, MIN_ROUNDS, spread } from '../../bench/lib/stats.ts'

/** Seeded uniform numbers in [0, 1), so the data of every test is the same on every run. */
function uniform (seed: number): () => number {
  let x = seed
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    return x / 4294967296
  }
}

describe('medianCi', () => {
  it('is the same interval for the same rounds, and brackets their median', () => {
    const xs = [1.31, 1.52, 1.47, 1.9, 1.44, 1.6, 1.38, 1.55]
    const [lo, hi] = medianCi(xs)
    expect(medianCi(xs)).toEqual([lo, hi])
    expect(lo).toBeLessThanOrEqual(median(xs))
    expect(hi).toBeGreaterThanOrEqual(median(xs))
    // Every bound is one of the resampled medians, so it lies within the data.
    expect(lo).toBeGreaterThanOrEqual(Math.min(...xs))
    expect(hi).toBeLessThanOrEqual(Math.max(...xs))
  })

  it('is one point for identical rounds, NaN for none, and ignores rounds that are not numbers', () => {
    expect(medianCi([1.2, 1.2, 1.2])).toEqual([1.2, 1.2])
    expect(medianCi([])).toEqual([Number.NaN, Number.NaN])
    expect(medianCi([1.2, Number.NaN, 1.2, Number.POSITIVE_INFINITY, 1.2])).toEqual([1.2, 1.2])
  })

  it('is none below three rounds, and the verdict on it undecided: one round is not an interval', () => {
    expect(MIN_ROUNDS).toBe(3)
    expect(medianCi([1.36])).toEqual([Number.NaN, Number.NaN])
    expect(medianCi([1.36, 1.5, Number.NaN])).toEqual([Number.NaN, Number.NaN])
    expect(judged(medianCi([1.36]), 1.25)).toBe('undecided')
    expect(judged(medianCi([1.36, 1.4]), 1.25)).toBe('undecided')
    expect(judged(medianCi([1.36, 1.4, 1.38]), 1.25)).toBe('not met')
  })
})

describe('groupedMedianCi', () => {
  it('widens the interval by what differs between groups (pairs of processes) that rounds within one never show', () => {
    // Three pairs of processes, tight within each, one of them 6% off: pooled as if independent, the rounds give an
    // interval that excludes 1.00; by groups, it includes it.
    const groups = [[0.99, 1.0, 1.01, 1.0], [1.05, 1.06, 1.07, 1.06], [0.99, 1.0, 1.0, 1.01]]
    const pooled = medianCi(groups.flat())
    const grouped = groupedMedianCi(groups)
    expect(grouped[0]).toBeLessThanOrEqual(pooled[0])
    expect(grouped[1]).toBeGreaterThan(pooled[1])
    expect(grouped[1]).toBeGreaterThanOrEqual(1.05)
    expect(groupedMedianCi(groups)).toEqual(grouped)
  })

  it('is medianCi for one group, and none below three values in all', () => {
    const xs = [1.31, 1.52, 1.47, 1.9, 1.44]
    expect(groupedMedianCi([xs])).toEqual(medianCi(xs))
    expect(groupedMedianCi([[1.2], [1.3]])).toEqual([Number.NaN, Number.NaN])
    expect(groupedMedianCi([[1.2, Number.NaN], [], [1.3, 1.25]])).not.toEqual([Number.NaN, Number.NaN])
    expect(groupedMedianCi([])).toEqual([Number.NaN, Number.NaN])
  })
})

describe('spread over trials', () => {
  it('is none (NaN, printed n/a) from a single trial, not 0', () => {
    expect(spread([120])).toBeNaN()
    expect(spread([])).toBeNaN()
    expect(spread([120, Number.NaN])).toBeNaN()
    expect(spread([90, 100, 120])).toBeCloseTo(0.3, 10)
  })

  it('narrows with more rounds and widens with more scatter', () => {
    const next = uniform(7)
    const draw = (n: number, scale: number): number[] => Array.from({ length: n }, () => 1.5 + (next() - 0.5) * scale)
    const width = ([lo, hi]: [number, number]): number => hi - lo
    expect(width(medianCi(draw(80, 0.4)))).toBeLessThan(width(medianCi(draw(8, 0.4))))
    expect(width(medianCi(draw(20, 0.1)))).toBeLessThan(width(medianCi(draw(20, 0.8))))
  })

  it('covers the true median in most of many samples (a 95% interval)', () => {
    const next = uniform(11)
    let covered = 0
    const samples = 200
    for (let k = 0; k < samples; k++) {
      // Uniform on [1, 2]: the true median is 1.5.
      const xs = Array.from({ length: 15 }, () => 1 + next())
      const [lo, hi] = medianCi(xs, 0.95, 1000, k + 1)
      if (lo <= 1.5 && 1.5 <= hi) covered++
    }
    expect(covered / samples).toBeGreaterThan(0.85)
    // A 50% interval covers it less often: the level is honoured, not ignored.
    let coveredHalf = 0
    for (let k = 0; k < samples; k++) {
      const xs = Array.from({ length: 15 }, () => 1 + next())
      const [lo, hi] = medianCi(xs, 0.5, 1000, k + 1)
      if (lo <= 1.5 && 1.5 <= hi) coveredHalf++
    }
    expect(coveredHalf).toBeLessThan(covered)
  })
})

describe('judged: a target on a ratio by its 95% interval', () => {
  it('is met only when the whole interval keeps to the target, not met only when none of it does', () => {
    expect(judged([1.1, 1.25], 1.25)).toBe('met')
    expect(judged([1.26, 1.4], 1.25)).toBe('not met')
    expect(judged([1.2, 1.3], 1.25)).toBe('undecided')
    // Strictly below: an interval reaching the target itself does not meet it.
    expect(judged([0.9, 0.99], 1, true)).toBe('met')
    expect(judged([0.9, 1], 1, true)).toBe('undecided')
    expect(judged([1, 1.1], 1, true)).toBe('not met')
    expect(judged([Number.NaN, 1.1], 1)).toBe('undecided')
    expect(judged([], 1)).toBe('undecided')
  })
})

describe('achievedRate: an open loop\'s rate from its completions', () => {
  /** Completion times (ms) of `n` requests sent every 1000 / `rate` ms, each answered `latency(i)` ms later. */
  const completions = (rate: number, n: number, latency: (i: number) => number): number[] =>
    Array.from({ length: n }, (_, i) => i * 1000 / rate + latency(i)).sort((a, b) => a - b)
  const of = (ends: number[]): number => achievedRate(ends)

  it.each([
    // rate, requests, latency: a server that keeps up reads the offered rate, however slow its answers.
    [50, 75, () => 108],
    [50, 500, () => 108],
    [200, 300, () => 5],
    [1000, 6000, (i: number) => 40 + (i % 7) * 0.3]
  ])('reads %d requests/s for a server that keeps up (%d requests)', (rate, n, latency) => {
    expect(of(completions(rate, n, latency))).toBeCloseTo(rate, 0)
  })

  it('does not count a response time into the window: a short run at 50 requests/s answered in 108 ms is not collapsed', () => {
    const ends = completions(50, 75, () => 108)
    expect(of(ends)).toBeGreaterThan(0.8 * 50)
    // The old reading, kept over the span from the first intended send: 75 / 1.588 s, 47 requests/s.
    expect(75 / ((ends[74] as number) / 1000)).toBeLessThan(48)
  })

  it('drops to the server\'s own pace when it falls behind', () => {
    // Offered 100 requests/s to a server that answers one every 25 ms (40/s): a queue builds, completions 25 ms apart.
    const ends = Array.from({ length: 400 }, (_, i) => 50 + (i + 1) * 25)
    expect(of(ends)).toBeCloseTo(40, 5)
  })

  it('reads the offered rate on a mix of routes whose latencies differ (round robin over 60 routes, 8 to 257 ms)', () => {
    const latency = (i: number): number => 8 + (i % 60) * (249 / 59)
    const ends = completions(1000, 4500, latency)
    expect(of(ends)).toBeCloseTo(1000, -1)
    // The whole span holds the slowest route's latency beyond the fastest's: 4,499 over 4.748 s, 948 requests/s.
    expect(4499 / (((ends[4499] as number) - (ends[0] as number)) / 1000)).toBeLessThan(950)
  })

  it('takes completions in any order', () => {
    const ends = completions(200, 300, () => 5)
    expect(of([...ends].reverse())).toBeCloseTo(200, 0)
  })

  it('is 0 without two completions', () => {
    expect(achievedRate([])).toBe(0)
    expect(achievedRate([120])).toBe(0)
    expect(achievedRate([120, 120])).toBe(0)
  })
})
