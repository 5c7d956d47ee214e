// The benchmark summary (bench/lib/report.ts): a fidelity rate that fewer trials reached says so, since its median is
// then over fewer runs (rendered from the committed results with one rate's later trials removed); the 1 ms reading of
// the fidelity criterion; per-hop costs from each variant's cheapest trial (bench/lib/best-of.ts).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bestOfTrials, DIRECT_PEERS, DIRECT_SIM, type TrialRow } from '../../bench/lib/best-of.ts'
import { bestOfLines, FILES, upToText, withinOneMsUpTo, writeReport } from '../../bench/lib/report.ts'
import type { OverheadResult } from '../../bench/scenarios/overhead.ts'

interface Step { workload: string, trial: number, targetRps: number }

describe('benchmark summary: fidelity trials per rate', () => {
  let dir = ''
  afterAll(async () => { if (dir) await rm(dir, { recursive: true, force: true }) })

  it('marks a rate reached by fewer trials than the run had, and no other', async () => {
    const committed = JSON.parse(await readFile(new URL(`../../bench/results/${FILES.fidelity}`, import.meta.url), 'utf8')) as { result: { settings: { trials: number }, steps: Step[] } }
    const { trials } = committed.result.settings
    expect(trials).toBeGreaterThan(1)
    const single = committed.result.steps.filter((s) => s.workload === 'single')
    // A rate every trial reached, then cut back to the first trial only.
    const full = [...new Set(single.map((s) => s.targetRps))].filter((rate) => single.filter((s) => s.targetRps === rate).length === trials)
    const rate = full[1] as number
    committed.result.steps = committed.result.steps.filter((s) => !(s.workload === 'single' && s.targetRps === rate && s.trial > 1))
    dir = await mkdtemp(join(tmpdir(), 'rsim-report-'))
    await writeFile(join(dir, FILES.fidelity), JSON.stringify(committed))
    await writeReport(dir)
    const summary = await readFile(join(dir, 'summary.md'), 'utf8')
    const section = summary.slice(summary.indexOf('**single**'), summary.indexOf('**mix**'))
    const row = section.split('\n').find((l) => l.startsWith(`| ${rate} |`))
    expect(row).toMatch(new RegExp(`\\| (yes|\\*\\*no\\*\\*) \\(1 of ${trials} trials\\) \\|`))
    const others = section.split('\n').filter((l) => full.some((r) => r !== rate && l.startsWith(`| ${r} |`)))
    expect(others.length).toBe(full.length - 1)
    for (const l of others) expect(l).not.toContain('trials)')
  })
})

describe('benchmark summary: the 1 ms reading of the fidelity criterion', () => {
  const row = (targetRps: number, p50ErrorMs: number, faithful = true) => ({ targetRps, p50ErrorMs, faithful })

  it('stops at the first rate over 1 ms, even one the 5% bound let through', () => {
    expect(withinOneMsUpTo([row(100, 0.9), row(250, -0.4), row(500, 1.85), row(750, 0.8)])).toBe(250)
    expect(withinOneMsUpTo([row(100, 0.9), row(250, 0.95, false)])).toBe(100)
    expect(withinOneMsUpTo([row(100, 1.02), row(250, 0.5)])).toBe(0)
    expect(withinOneMsUpTo([row(100, 1), row(250, 1)])).toBe(250)
  })
})

describe('benchmark summary: per-hop costs from each variant\'s cheapest trial', () => {
  const row = (variant: string, system: string, hops: number, cpu: number[] | undefined, p50: number[]): TrialRow => ({
    variant, system, hops, latencyUs: { p50Trials: p50 }, cpu: cpu === undefined ? {} : { usPerRequestTrials: cpu }
  })
  const rows = [
    row(DIRECT_SIM, 'direct', 0, [50, 40, 60], [70, 60, 65]),
    row(DIRECT_PEERS, 'direct', 0, [45, 30, Number.NaN], [50, 55, 52]),
    row('residency-sim 1 hop', 'residency-sim', 1, [300, 190, 250], [300, 260, 280]),
    row('residency-sim 2 hops', 'residency-sim', 2, [400, 320, 600], [500, 460, 470]),
    row('plain 1 hop', 'plain', 1, [150, 110, 120], [150, 140, 145]),
    row('plain 2 hops', 'plain', 2, [250, 190, 200], [260, 230, 240])
  ]

  it('subtracts the cheapest direct trial from the cheapest chain trials, per system', () => {
    const b = bestOfTrials(rows)
    expect(b?.trials).toBe(3)
    expect(b?.systems.map((s) => s.system)).toEqual(['residency-sim', 'plain'])
    // residency-sim: direct 40, one hop 190, two hops 320. plain: direct 30 (NaN skipped), 110, 190.
    expect(b?.systems[0]?.cpuUs).toEqual({ oneHop: 150, twoHopsEach: 140, secondHop: 130 })
    expect(b?.systems[1]?.cpuUs).toEqual({ oneHop: 80, twoHopsEach: 80, secondHop: 80 })
    expect(b?.systems[0]?.latencyUs).toEqual({ oneHop: 200, twoHopsEach: 200, secondHop: 200 })
    expect(b?.ratios.vsPlain).toEqual({ cpuTwoHopsEach: 1.75, cpuSecondHop: 1.63, latencyTwoHopsEach: 2.22, latencySecondHop: 2.22 })
    expect(b?.ratios.vsHttpProxy).toBeNull()
  })

  it('has nothing to say without residency-sim\'s chain or without CPU time per trial', () => {
    expect(bestOfTrials(rows.filter((r) => r.system !== 'residency-sim'))).toBeNull()
    expect(bestOfTrials(rows.map((r) => ({ ...r, cpu: {} })))).toBeNull()
  })

  it('is in the summary of the committed results, which were written before it was stored', async () => {
    const committed = JSON.parse(await readFile(new URL(`../../bench/results/${FILES.overhead}`, import.meta.url), 'utf8')) as { result: OverheadResult }
    const lines = bestOfLines(committed.result)
    expect(lines[0]).toMatch(/^Best of \d+ trials .* per hop of two, residency-sim \d+ µs against plain \d+ \(\d\.\d\dx\)/)
    expect(lines[0]).toContain('the second hop alone')
    // And in the key figures at the top of the summary.
    const dir = await mkdtemp(join(tmpdir(), 'rsim-report-'))
    try {
      await writeFile(join(dir, FILES.overhead), JSON.stringify(committed))
      await writeReport(dir)
      expect(await readFile(join(dir, 'summary.md'), 'utf8')).toMatch(/Best of \d+ trials, process CPU per hop: \d\.\d\dx the plain forwarder, \d\.\d\dx @fastify\/http-proxy\./)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('benchmark summary: concurrent pairs', () => {
  it('reports each peer\'s ratio with its interval, in the section and the key figures, and nothing for older results', async () => {
    const stored = JSON.parse(await readFile(new URL(`../../bench/results/${FILES.overhead}`, import.meta.url), 'utf8')) as { result: OverheadResult }
    // The committed results without the pairs' stored verdicts: the pairs below are made up, and judged as they are.
    const { concurrent: _verdicts, ...targets } = stored.result.targets
    const committed = { ...stored, result: { ...stored.result, targets: targets as OverheadResult['targets'] } }
    const dir = await mkdtemp(join(tmpdir(), 'rsim-report-'))
    try {
      // Results written before the concurrent pairs existed, with or without verdicts of their own: nothing of them.
      const { concurrent: _measured, ...older } = stored.result
      await writeFile(join(dir, FILES.overhead), JSON.stringify({ ...stored, result: older }))
      await writeReport(dir)
      expect(await readFile(join(dir, 'summary.md'), 'utf8')).not.toContain('By the concurrent pairs')
      await writeFile(join(dir, FILES.overhead), JSON.stringify({ ...committed, result: older }))
      await writeReport(dir)
      expect(await readFile(join(dir, 'summary.md'), 'utf8')).not.toContain('Concurrent pairs')
      const pair = (median: number, lo: number, hi: number, sim: number, peer: number) =>
        ({ rounds: 8, cpuTwoHopsEach: { median, ci95: [lo, hi], rounds: [] }, simUsPerHop: sim, peerUsPerHop: peer })
      const concurrent = { rateRps: 850, rounds: 8, runSeconds: 2, pinning: 'both servers on CPU 1, the load generator on CPU 0 (taskset)', vsPlain: pair(1.6, 1.52, 1.71, 160, 100), vsPlainBuffered: null, vsHttpProxy: pair(1.21, 1.1, 1.3, 160, 132.2) }
      await writeFile(join(dir, FILES.overhead), JSON.stringify({ ...committed, result: { ...committed.result, concurrent } }))
      await writeReport(dir)
      const summary = await readFile(join(dir, 'summary.md'), 'utf8')
      expect(summary).toContain('Concurrent pairs (residency-sim\'s two-hop chain and a peer\'s loaded at the same time, 850 requests/s each by autocannon\'s overallRate (each connection\'s quota for a second sent as that second starts: the same shape of load for both), 2 s,')
      // The ratio is the median of the per-round ratios; the µs beside it are each side's own median, and say so.
      expect(summary).toContain('right before each pair; both servers on CPU 1, the load generator on CPU 0 (taskset); 8 rounds): process CPU per hop of two against the plain forwarder: median of the per-round ratios 1.60x (95% interval 1.52 to 1.71); medians of each side 160 µs per hop for residency-sim and 100 for the peer; against @fastify/http-proxy: median of the per-round ratios 1.21x (95% interval 1.10 to 1.30); medians of each side 160 µs per hop for residency-sim and 132 for the peer.')
      expect(summary).not.toContain('at the start of each round')
      expect(summary).not.toContain('against the buffered plain forwarder 1.')
      // The targets by the pairs' intervals, in the section and the key figures alike (computed for results that did not store them).
      const byPairs = 'By the concurrent pairs (process CPU per hop of two, judged by the 95% interval: met when all of it keeps to the target, not met when none of it does, undecided otherwise): within 1.25x of the plain forwarder not met (median of the per-round ratios 1.60x, 95% interval 1.52 to 1.71); faster than @fastify/http-proxy not met (median of the per-round ratios 1.21x, 95% interval 1.10 to 1.30).'
      expect(summary.split(byPairs).length).toBe(3)
      expect(summary).toContain('Loaded at the same time at 850 requests/s each, process CPU per hop, the median of the per-round ratios: 1.60x the plain forwarder (95% interval 1.52 to 1.71), 1.21x @fastify/http-proxy (1.10 to 1.30).')
      // Results of the paced engine say so.
      await writeFile(join(dir, FILES.overhead), JSON.stringify({ ...committed, result: { ...committed.result, concurrent: { ...concurrent, load: 'paced' } } }))
      await writeReport(dir)
      const paced = await readFile(join(dir, 'summary.md'), 'utf8')
      expect(paced).toContain('loaded at the same time, 850 requests/s each, evenly spaced and alternating between the two (the paced engine), 2 s,')
      // Written before the check of the pairs' schedule: nothing said about it.
      expect(paced).not.toContain('counted loads of a pair')
      // With it: that every load kept up, or how many fell behind and how far.
      await writeFile(join(dir, FILES.overhead), JSON.stringify({ ...committed, result: { ...committed.result, concurrent: { ...concurrent, load: 'paced', loads: 36, behind: [] } } }))
      await writeReport(dir)
      expect(await readFile(join(dir, 'summary.md'), 'utf8')).toContain('All 36 counted loads of a pair kept to their schedule (p90 from it within 2% of the load\'s length, the requests answered at the rate sent).')
      const late = [{ label: 'round 2/4: the direct paths', p90Ms: 412.6, answeredRps: 1530 }, { label: 'round 3/4: two hops', p90Ms: 61.2, answeredRps: 1702 }]
      await writeFile(join(dir, FILES.overhead), JSON.stringify({ ...committed, result: { ...committed.result, concurrent: { ...concurrent, load: 'paced', loads: 36, behind: late } } }))
      await writeReport(dir)
      expect(await readFile(join(dir, 'summary.md'), 'utf8')).toContain('2 of the 36 counted loads of a pair fell behind their schedule, so that their CPU per request reads high (p90 413 ms, 1530 requests/s answered; p90 61 ms, 1702 requests/s answered): the rate is too high for this machine as it ran.')
      // Written before the one-hop pairs: no split of the two hops.
      expect(paced).not.toContain('two hops apart')
      expect(paced).not.toContain('The second hop alone (the relay)')
      // With them: each peer's first and second hop, in the section and (the relay) in the key figures.
      const split = (first: number, second: number) => ({
        firstHop: { cpu: { median: first, ci95: [first - 0.1, first + 0.1], rounds: [] }, simUs: 120, peerUs: 80 },
        secondHop: { cpu: { median: second, ci95: [second - 0.05, second + 0.05], rounds: [] }, simUs: 95, peerUs: 90 }
      })
      const withSplit = { ...concurrent, load: 'paced', vsPlain: { ...concurrent.vsPlain, ...split(1.5, 1.06) }, vsHttpProxy: { ...concurrent.vsHttpProxy, ...split(1.2, 0.9) } }
      await writeFile(join(dir, FILES.overhead), JSON.stringify({ ...committed, result: { ...committed.result, concurrent: withSplit } }))
      await writeReport(dir)
      const splitSummary = await readFile(join(dir, 'summary.md'), 'utf8')
      // Stored verdicts are the ones shown.
      await writeFile(join(dir, FILES.overhead), JSON.stringify({ ...committed, result: { ...committed.result, concurrent: withSplit, targets: { ...committed.result.targets, concurrent: { withinOneQuarterOfPlain: 'met', fasterThanHttpProxy: 'undecided' } } } }))
      await writeReport(dir)
      expect(await readFile(join(dir, 'summary.md'), 'utf8')).toContain('within 1.25x of the plain forwarder met (median of the per-round ratios 1.60x, 95% interval 1.52 to 1.71); faster than @fastify/http-proxy undecided (median of the per-round ratios 1.21x')
      expect(splitSummary).toContain('| the plain forwarder | 1.50x (1.40 to 1.60; medians 120 and 80 µs) | 1.06x (1.01 to 1.11; medians 95 and 90 µs) |')
      expect(splitSummary).toContain('| @fastify/http-proxy | 1.20x (1.10 to 1.30; medians 120 and 80 µs) | 0.90x (0.85 to 0.95; medians 95 and 90 µs) |')
      expect(splitSummary).toContain('the median of the per-round ratios with its 95% interval, then the medians of each side')
      expect(splitSummary).not.toContain('| the buffered plain forwarder |')
      expect(splitSummary).toContain('1.21x @fastify/http-proxy (1.10 to 1.30). The second hop alone (the relay): 1.06x the plain forwarder, 0.90x @fastify/http-proxy.')
      // Written before the pairs measured latency: none of it.
      expect(splitSummary).not.toContain('at one request in flight')

      // With the latency pairs: their ratios in the section, their verdicts (stored, or judged from the intervals) next
      // to the CPU's, and the ratios in the key figures.
      const latency = (median: number, lo: number, hi: number, sim: number, peer: number) => ({ latency: { ratio: { median, ci95: [lo, hi], rounds: [], byProcessPair: [] }, simUs: sim, peerUs: peer } })
      const withLatency = { ...withSplit, vsPlain: { ...withSplit.vsPlain, ...latency(1.42, 1.3, 1.55, 170, 120) }, vsHttpProxy: { ...withSplit.vsHttpProxy, ...latency(0.93, 0.9, 0.97, 170, 183) } }
      await writeFile(join(dir, FILES.overhead), JSON.stringify({ ...committed, result: { ...committed.result, concurrent: withLatency } }))
      await writeReport(dir)
      const withLat = await readFile(join(dir, 'summary.md'), 'utf8')
      expect(withLat).toContain('Residency-sim\'s hop as a multiple of the peer\'s: against the plain forwarder: median of the per-round ratios 1.42x (95% interval 1.30 to 1.55); medians of each side 170 µs per hop for residency-sim and 120 for the peer; against @fastify/http-proxy: median of the per-round ratios 0.93x (95% interval 0.90 to 0.97); medians of each side 170 µs per hop for residency-sim and 183 for the peer.')
      const byLatency = 'By latency per hop of two at one request in flight, measured together (judged the same way): within 1.25x of the plain forwarder not met (median of the per-round ratios 1.42x, 95% interval 1.30 to 1.55); faster than @fastify/http-proxy met (median of the per-round ratios 0.93x, 95% interval 0.90 to 0.97).'
      expect(withLat.split(byLatency).length).toBe(3)
      expect(withLat).toContain('Latency per hop at one request in flight, measured together: 1.42x the plain forwarder (1.30 to 1.55), 0.93x @fastify/http-proxy (0.90 to 0.97).')
      await writeFile(join(dir, FILES.overhead), JSON.stringify({ ...committed, result: { ...committed.result, concurrent: withLatency, targets: { ...committed.result.targets, concurrent: { withinOneQuarterOfPlain: 'undecided', fasterThanHttpProxy: 'undecided', latency: { withinOneQuarterOfPlain: 'undecided', fasterThanHttpProxy: 'not met' } } } } }))
      await writeReport(dir)
      expect(await readFile(join(dir, 'summary.md'), 'utf8')).toContain('within 1.25x of the plain forwarder undecided (median of the per-round ratios 1.42x, 95% interval 1.30 to 1.55); faster than @fastify/http-proxy not met (median of the per-round ratios 0.93x')

      // One round (a quick run): no interval and no verdict, said as such, not "1.36 to 1.36".
      const lone = (median: number) => ({ rounds: 1, cpuTwoHopsEach: { median, ci95: [null, null], rounds: [median] }, simUsPerHop: 225, peerUsPerHop: 164 })
      const quick = { ...concurrent, rounds: 1, load: 'paced', vsPlain: lone(1.36), vsHttpProxy: lone(1.1) }
      await writeFile(join(dir, FILES.overhead), JSON.stringify({ ...committed, result: { ...committed.result, concurrent: quick, targets: { ...committed.result.targets, concurrent: { withinOneQuarterOfPlain: 'undecided', fasterThanHttpProxy: 'undecided' } } } }))
      await writeReport(dir)
      const one = await readFile(join(dir, 'summary.md'), 'utf8')
      expect(one).toContain('within 1.25x of the plain forwarder undecided (too few rounds) (median of the per-round ratios 1.36x, no 95% interval from 1 round); faster than @fastify/http-proxy undecided (too few rounds)')
      expect(one).toContain('against the plain forwarder: median of the per-round ratios 1.36x (no 95% interval from 1 round); medians of each side 225 µs per hop for residency-sim and 164 for the peer')
      expect(one).not.toMatch(/interval 1\.36 to 1\.36|NaN|null/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('benchmark summary: noise from a single trial', () => {
  it('prints n/a for a spread or range over trials that a single trial cannot give, not 0', async () => {
    const added = JSON.parse(await readFile(new URL(`../../bench/results/${FILES.added}`, import.meta.url), 'utf8')) as { result: { noise: Record<string, unknown> } }
    const overhead = JSON.parse(await readFile(new URL(`../../bench/results/${FILES.overhead}`, import.meta.url), 'utf8')) as { result: { rows: { throughputSpread: unknown }[] } }
    // As a one-trial run stores them: NaN, which JSON writes as null.
    added.result.noise = { addedP50TrialRangeMs: Number.NaN, p50TrialSpread: Number.NaN }
    for (const row of overhead.result.rows) row.throughputSpread = Number.NaN
    const dir = await mkdtemp(join(tmpdir(), 'rsim-report-'))
    try {
      await writeFile(join(dir, FILES.added), JSON.stringify(added))
      await writeFile(join(dir, FILES.overhead), JSON.stringify(overhead))
      await writeReport(dir)
      const summary = await readFile(join(dir, 'summary.md'), 'utf8')
      expect(summary).toContain('Noise: median range of the added p50 over trials n/a; median spread of a p50 over trials n/a.')
      expect(summary).toMatch(/\| residency-sim 2 hops \| [^|]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| \d+ \(n\/a\) \|/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('benchmark summary: a fidelity threshold of no rate', () => {
  it('says "at no rate tested", not "up to 0 rps"', async () => {
    const fidelity = JSON.parse(await readFile(new URL(`../../bench/results/${FILES.fidelity}`, import.meta.url), 'utf8')) as { result: { workloads: { faithfulUpToRps: number, loadAddedErrorFaithfulUpToRps: number, rows: { p50ErrorMs: number, faithful: boolean }[] }[] } }
    // The lowest rate of the first workload already 1.5 ms off, and unfaithful.
    const w = fidelity.result.workloads[0]
    if (w === undefined) throw new Error('no workload')
    w.faithfulUpToRps = 0
    w.loadAddedErrorFaithfulUpToRps = 0
    w.rows = w.rows.map((r, i) => i === 0 ? { ...r, p50ErrorMs: 1.5, faithful: false } : r)
    const dir = await mkdtemp(join(tmpdir(), 'rsim-report-'))
    try {
      await writeFile(join(dir, FILES.fidelity), JSON.stringify(fidelity))
      await writeReport(dir)
      const summary = await readFile(join(dir, 'summary.md'), 'utf8')
      expect(summary).toContain('Faithful **at no rate tested**')
      expect(summary).toContain('by the 1 ms bound alone, at no rate tested.')
      expect(summary).toContain('within 1 ms alone at no rate tested)')
      expect(summary).toContain('stays within the criterion at no rate tested.')
      expect(summary).not.toMatch(/up to 0 rps/)
      expect(upToText(1500)).toBe('up to 1500 rps')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
