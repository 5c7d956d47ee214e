// Markdown summary and SVG charts from the scenario results in a results folder, so a run of one scenario (--only)
// refreshes its own tables and keeps the others'.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddedResult } from '../scenarios/added.ts'
import type { FidelityResult } from '../scenarios/fidelity.ts'
import type { HandshakeResult } from '../scenarios/handshake.ts'
import type { OverheadResult } from '../scenarios/overhead.ts'
import { bestOfTrials, type HopCosts } from './best-of.ts'
import type { Machine } from './machine.ts'
import { FULL_RUN_MINUTES } from './run-options.ts'
import { judged, LOOP_DELAY_SAMPLE_MS, MIN_ROUNDS, type Verdict } from './stats.ts'
import { groupedBars, lineChart } from './svg.ts'

export interface Envelope<T> {
  readonly name: string
  readonly date: string
  readonly command: string
  readonly machine: Machine
  readonly machineAfter: Machine
  /** The commit measured and any uncommitted source files (absent in results written before it was recorded). */
  readonly code?: { readonly commit: string, readonly dirty: readonly string[] }
  readonly durationS: number
  readonly result: T
}

export const FILES = { added: 'added-latency.json', fidelity: 'fidelity.json', overhead: 'overhead.json', handshake: 'handshake.json' } as const

async function readJson<T> (path: string): Promise<T | undefined> {
  try { return JSON.parse(await readFile(path, 'utf8')) as T } catch { return undefined }
}

const f = (x: number, d = 1): string => Number.isFinite(x) ? x.toFixed(d) : '-'
const signed = (x: number, d = 1): string => Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(d)}` : '-'
const pct = (x: number): string => Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '-'
/** A spread or range over trials: none from a single trial (stored as NaN, read back from JSON as null). */
const overTrials = (x: number | null, text: (x: number) => string): string => x !== null && Number.isFinite(x) ? text(x) : 'n/a'

function machineLine (e: Envelope<unknown>): string {
  const m = e.machine
  const code = e.code === undefined ? '' : `commit ${e.code.commit.slice(0, 7)}${e.code.dirty.length > 0 ? ` with ${e.code.dirty.length} uncommitted source files` : ''}, `
  const probe = m.speedProbeMs === undefined || e.machineAfter.speedProbeMs === undefined
    ? ''
    : `; speed probe (a fixed piece of CPU work, best of five; higher is slower) ${f(m.speedProbeMs, 1)} ms before, ${f(e.machineAfter.speedProbeMs, 1)} ms after`
  return `${e.date.slice(0, 16).replace('T', ' ')} UTC, ${code}\`${e.command}\`, ${e.durationS} s on ${m.cpu} (${m.cores} cores), Node ${m.node}, load average before ${m.loadAverage.join(' / ')}, after ${e.machineAfter.loadAverage.join(' / ')}${probe}`
}

function addedSection (e: Envelope<AddedResult>): string[] {
  const r = e.result
  const s = r.settings
  const out = [
    '## 1. Added latency (the headline)',
    '',
    machineLine(e),
    '',
    `${s.scenario === undefined || s.scenario === 'config/default.yaml' ? '' : `The regional customers of ${s.scenario}. `}Latency on, time scale ${s.timeScale}${s.timeScale === 1 ? ' (real milliseconds, nothing rescaled)' : ` (measured values divided by ${s.timeScale} back to real ms; raw values in the JSON)`}. ` +
      `Each cell: ${s.trials} trials of ${s.blockSeconds} s, all ${s.cities.length * s.customers.length} client/customer streams at once (1 connection each), ` +
      'regional customers then their twins (same origin, no region, keys everywhere, no log boundary) in each trial; medians of the trials. ' +
      '"added" is measured regional p50 minus measured twin p50; "model" is the planner (`addedMs`) for resumed TLS sessions, as the kept-alive connections pay one handshake each and then none (scenario 4 measures handshakes). Route: ingress>inspection PoP.',
    '',
    '| client | customer | route | p50 | p90 | p99 | twin p50 | added (measured) | added (model) | p50 - model |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|'
  ]
  for (const x of r.rows) {
    out.push(`| ${x.city} (${x.client}) | ${x.host} | ${x.route} | ${f(x.measured.p50)} | ${f(x.measured.p90)} | ${f(x.measured.p99)} | ${f(x.measured.baselineP50)} | **${f(x.measured.addedP50)}** | ${f(x.modelled.addedMs)} | ${f(x.errorP50Ms)} |`)
  }
  out.push('', `All figures in ms. Measured p50 minus modelled: median ${f(r.summary.medianErrorP50Ms, 2)} ms, worst ${f(r.summary.maxAbsErrorP50Ms, 2)} ms; ` +
    `added latency, measured minus modelled: median ${f(r.summary.medianAddedErrorMs, 2)} ms, worst ${f(r.summary.maxAbsAddedErrorMs, 2)} ms. ` +
    `Non-2xx or failed responses: ${r.summary.non2xx}. Noise: median range of the added p50 over trials ${overTrials(r.noise.addedP50TrialRangeMs, (x) => `${f(x, 2)} ms`)}; median spread of a p50 over trials ${overTrials(r.noise.p50TrialSpread, pct)}. ` +
    `CPU share during the runs (1 = one core): servers ${r.cpu.servers.join(', ')}; load generator ${r.cpu.loadgen.join(', ')}.`,
  '', ...timingLines((r as Partial<AddedResult>).timingWarnings), '![added latency by client city and customer](added-latency.svg)', '')
  return out
}

/** The recorder's check of a closed-loop scenario (results written before it have none). */
function timingLines (warnings: readonly string[] | undefined): string[] {
  if (warnings === undefined) return []
  if (warnings.length === 0) return ['Timing check: in every run, the response times add up to no more than the time its connections had, as they must for requests sent one after another on each connection.', '']
  return ['**Timing check failed** (each connection waits for a response before it sends the next request, so its response times cannot add up to more than its time):', '', ...warnings.map((w) => `- ${w}`), '']
}

/**
 * The highest rate up to which every rate was faithful by the stricter reading of the criterion: the p50 within 1 ms
 * of the model whatever 5% of it allows (0 when the lowest rate is already over).
 */
export function withinOneMsUpTo (rows: readonly { readonly targetRps: number, readonly p50ErrorMs: number, readonly faithful: boolean }[]): number {
  let up = 0
  for (const row of rows) {
    if (!row.faithful || Math.abs(row.p50ErrorMs) > 1) break
    up = row.targetRps
  }
  return up
}

/** "up to 1500 rps", or "at no rate tested" when the lowest rate already missed (a threshold of 0). */
export function upToText (rps: number): string {
  return rps > 0 ? `up to ${rps} rps` : 'at no rate tested'
}

function fidelitySection (e: Envelope<FidelityResult>): string[] {
  const r = e.result
  // Results written before the speed probe existed have none: no column for it then.
  const probed = r.workloads.some((w) => w.rows.some((x) => (x as { speedProbeMs?: number }).speedProbeMs !== undefined))
  // Results written before the generator's send lag was recorded measured from the schedule only.
  const lagged = r.workloads.some((w) => w.rows.some((x) => (x as { sendLagP50Ms?: number }).sendLagP50Ms !== undefined))
  const lagCells = (x: object): string => {
    const o = x as { scheduleP50ErrorMs?: number, sendLagP50Ms?: number }
    return lagged ? ` ${f(o.scheduleP50ErrorMs ?? Number.NaN, 2)} | ${f(o.sendLagP50Ms ?? Number.NaN, 2)} |` : ''
  }
  // Likewise the simulation's own count of late responses (runtime/fidelity.ts).
  const own = r.workloads.some((w) => w.rows.some((x) => (x as { simLateShare?: number }).simLateShare !== undefined))
  // Results written before the sampling interval was taken off the loop delay (no `loopDelay` setting) hold it still.
  const intervalIn = (r.settings as { loopDelay?: string }).loopDelay === undefined ? LOOP_DELAY_SAMPLE_MS : 0
  const ownCells = (x: object): string => {
    const o = x as { simLateShare?: number, loopDelayP99Ms?: number }
    return own ? ` ${pct(o.simLateShare ?? Number.NaN)} | ${f(Math.max(0, (o.loopDelayP99Ms ?? Number.NaN) - intervalIn), 1)} |` : ''
  }
  // How many trials reached a rate, from the steps themselves (results written before rows counted them have steps).
  const trialsOf = (workload: string, rate: number): number => r.steps.filter((x) => x.workload === workload && x.targetRps === rate).length
  const verdict = (workload: string, x: { faithful: boolean, targetRps: number }): string => {
    const n = trialsOf(workload, x.targetRps)
    return `${x.faithful ? 'yes' : '**no**'}${n < r.settings.trials ? ` (${n} of ${r.settings.trials} trials)` : ''}`
  }
  const out = ['## 2. Fidelity under load', '', machineLine(e), '', `${r.settings.loadGenerator}. ${r.settings.criterion}. ${r.settings.trials} trial(s) of ${r.settings.stepSeconds} s per rate (first ${r.settings.warmupSeconds} s dropped); medians of trials. ${lagged ? 'Errors are measured from the moment each request was sent; from its intended send time (the coordinated-omission view) they also hold the generator\'s own lag behind its schedule, shown beside them: Node\'s timers run at whole milliseconds and late, about half a millisecond at the median on an idle machine, which is the generator\'s, not the simulation\'s.' : 'Errors are measured from each request\'s intended send time, so they hold the generator\'s own lag behind its schedule too (Node\'s timers: about half a millisecond at the median; results written since keep it apart).'} Achieved: the answered requests between the 10th and the 90th percentile of their completion times over that span (the ends hold the routes' own latencies), the offered rate while the simulation keeps up. A trial stops climbing a workload once it collapses (p50 more than 50% over the model, under 80% of the rate achieved, or failed requests): a rate above that has fewer trials, as its verdict says.${probed ? ' Speed probe: a fixed piece of CPU work timed just before each step (median over the trials; higher is a slower machine).' : ''}${own ? ' Late (own count): the share of responses the simulation itself counted as leaving more than 1 ms and 5% after their modelled time (its fidelity monitor, warm-up included; it cannot see time a request spends queued before the simulation reads it); loop delay: the p99 of how late its event loop ran a ' + LOOP_DELAY_SAMPLE_MS + ' ms sampling timer over the step (the interval itself not counted).' : ''}`, '']
  for (const w of r.workloads) {
    out.push(`**${w.workload}**: ${w.description}. Faithful **${upToText(w.faithfulUpToRps)}**${w.firstUnfaithfulRps === null ? ' (every rate tested)' : `; first unfaithful rate ${w.firstUnfaithfulRps} rps`}; by the 1 ms bound alone, ${upToText(withinOneMsUpTo(w.rows))}. ` +
      `Error at the lowest rate (timer granularity, no load): ${f(w.idleErrorMs, 2)} ms; the error load adds on top of it stays within the criterion ${upToText(w.loadAddedErrorFaithfulUpToRps)}.`, '',
    `| target rps | achieved | modelled p50 | p50 error | relative | p99 error |${lagged ? ' p50 error from schedule | generator lag p50 |' : ''} faithful | servers CPU | load gen CPU |${probed ? ' speed probe ms |' : ''}${own ? ' late (own count) | loop delay p99 ms |' : ''}`, `|---:|---:|---:|---:|---:|---:|${lagged ? '---:|---:|' : ''}---|---:|---:|${probed ? '---:|' : ''}${own ? '---:|---:|' : ''}`)
    for (const x of w.rows) out.push(`| ${x.targetRps} | ${x.achievedRps} | ${f(x.modelledP50Ms, 1)} | ${f(x.p50ErrorMs, 2)} | ${pct(x.p50RelError)} | ${f(x.p99ErrorMs, 1)} |${lagCells(x)} ${verdict(w.workload, x)} | ${f(x.serversCpu, 2)} | ${f(x.loadgenCpu, 2)} |${probed ? ` ${f((x as { speedProbeMs?: number }).speedProbeMs ?? Number.NaN, 1)} |` : ''}${ownCells(x)}`)
    out.push('')
  }
  const ac = r.autocannon ?? []
  if (ac.length > 0) {
    out.push('**Cross-check with autocannon\'s own fixed rate** (single route, first trial, right after the paced step at the same rate; `overallRate` with its coordinated-omission correction; errors against the model, ms):', '',
      '| target rps | achieved | p50 error, autocannon histogram (corrected) | p99 error, same | p50 error, its response times | p50 error, paced engine |', '|---:|---:|---:|---:|---:|---:|')
    for (const x of ac) out.push(`| ${x.targetRps} | ${x.achievedRps} | ${f(x.correctedP50ErrorMs, 2)} | ${f(x.correctedP99ErrorMs, 1)} | ${f(x.responseP50ErrorMs, 2)} | ${f(x.pacedP50ErrorMs, 2)} |`)
    out.push('')
  }
  out.push('Why not autocannon\'s own fixed rate: with `overallRate` it paces each connection in a burst at the start of every second (a per-connection quota reset by a 1 s interval), and its coordinated-omission correction calls `recordValueWithExpectedInterval(responseTime, Math.ceil(1 / rate))` with `rate` in requests per second per connection, so the expected interval is 1 ms whatever the rate and every response slower than 1 ms is padded with phantom samples (autocannon 9.0.0, lib/run.js). The paced generator above sends uniformly and times each request from its intended send time instead.', '',
    '![fidelity against load](fidelity.svg)', '')
  return out
}

/** The machine's speed trial by trial, and the two-hop ratios computed within each trial (older results have neither). */
function pairedLines (r: OverheadResult): string[] {
  const out: string[] = []
  const probes = (r as Partial<OverheadResult>).speedProbeMsTrials
  if (probes !== undefined && probes.length > 0) {
    const lo = Math.min(...probes)
    const hi = Math.max(...probes)
    out.push(`Machine speed: the speed probe (a fixed piece of CPU work) took ${f(lo, 1)} to ${f(hi, 1)} ms as the trials started (${probes.map((x) => f(x, 1)).join(', ')}): the machine ran up to ${f(hi / lo, 2)}x slower in one trial than in another.`, '')
  }
  const p = (r as Partial<OverheadResult>).pairedRatios
  if (p === undefined) return out
  const band = (x: { median: number, min: number, max: number }): string => `${f(x.median, 2)}x (${f(x.min, 2)} to ${f(x.max, 2)})`
  const line = (name: string, x: typeof p.vsPlain): string => x === null ? '' : `against ${name}: CPU ${band(x.cpuTwoHopsEach)}, latency ${band(x.latencyTwoHopsEach)}`
  // Results written before the buffered plain forwarder existed have no ratio against it.
  const buffered = (p as { vsPlainBuffered?: typeof p.vsPlain }).vsPlainBuffered ?? null
  const parts = [line('the plain forwarder', p.vsPlain), line('the buffered plain forwarder', buffered), line('@fastify/http-proxy', p.vsHttpProxy)].filter((x) => x !== '')
  if (parts.length === 0) return out
  return [...out, `The same two-hop ratios computed within each trial (every variant measured within about a minute), median over the trials and their range: ${parts.join('; ')}. The range is how much the machine's drift between trials moves a ratio.`, '']
}

type Concurrent = NonNullable<OverheadResult['concurrent']['vsPlain']>
type RatioBand = Concurrent['cpuTwoHopsEach']

/** A ratio's 95% interval, or why there is none (fewer than MIN_ROUNDS rounds: the JSON holds null bounds). */
function intervalText (b: RatioBand, rounds: number, named = true): string {
  const [lo, hi] = [b.ci95[0] ?? Number.NaN, b.ci95[1] ?? Number.NaN]
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return `no ${named ? '95% ' : ''}interval from ${rounds} round${rounds === 1 ? '' : 's'}`
  return `${named ? '95% interval ' : ''}${f(lo, 2)} to ${f(hi, 2)}`
}

/** A verdict by the pairs' interval; with too few rounds for one, it says so. */
function verdictText (v: Verdict, rounds: number): string {
  return rounds < MIN_ROUNDS ? 'undecided (too few rounds)' : v
}

/** Per-hop CPU ratios from residency-sim and a peer loaded at the same time (results before it have none). */
function concurrentLines (r: OverheadResult): string[] {
  const c = (r as Partial<OverheadResult>).concurrent
  if (c === undefined) return []
  // The ratio is the paired statistic (each round's two sides under the same conditions); the µs beside it are each
  // side's own median over the rounds, whose quotient need not be that ratio.
  const one = (name: string, x: Concurrent | null): string => x === null
    ? ''
    : `against ${name}: median of the per-round ratios ${f(x.cpuTwoHopsEach.median, 2)}x (${intervalText(x.cpuTwoHopsEach, x.rounds)}); medians of each side ${f(x.simUsPerHop, 0)} µs per hop for residency-sim and ${f(x.peerUsPerHop, 0)} for the peer`
  const parts = [one('the plain forwarder', c.vsPlain), one('the buffered plain forwarder', c.vsPlainBuffered), one('@fastify/http-proxy', c.vsHttpProxy)].filter((x) => x !== '')
  if (parts.length === 0) return []
  // Results before the rounds ran in several pairs of processes have one pair, the trials', and a plain bootstrap.
  const pairs = (c as Partial<typeof c>).processPairs ?? 1
  const rounds = pairs > 1
    ? `${pairs} pairs of processes (the first the trials', the others started fresh and warmed up) of ${c.roundsPerPair} rounds each`
    : `${c.rounds} round${c.rounds === 1 ? '' : 's'}`
  const interval = pairs > 1
    ? 'the interval is a two-stage bootstrap of the median over the pairs of processes and their rounds, so that what differs between two processes of the same code (a few per cent for as long as they live) widens it'
    : 'the interval is a bootstrap of the median of the per-round ratios, within one pair of processes'
  const byPair = pairs > 1 && c.vsPlain !== null && c.vsPlain.cpuTwoHopsEach.byProcessPair !== undefined
    ? ` By pair of processes, against the plain forwarder: ${c.vsPlain.cpuTwoHopsEach.byProcessPair.map((x) => `${f(x, 2)}x`).join(', ')}.`
    : ''
  // Results before this check have no count of the loads that fell behind.
  const kept = (c as Partial<typeof c>).behind
  const keptUp = kept === undefined
    ? ''
    : kept.length === 0
      ? ` All ${c.loads} counted loads of a pair kept to their schedule (p90 from it within 2% of the load's length, the requests answered at the rate sent).`
      : ` ${kept.length} of the ${c.loads} counted loads of a pair fell behind their schedule, so that their CPU per request reads high (${kept.slice(0, 4).map((x) => `p90 ${f(x.p90Ms, 0)} ms, ${f(x.answeredRps, 0)} requests/s answered`).join('; ')}${kept.length > 4 ? '; ...' : ''}): the rate is too high for this machine as it ran.`
  return [`Concurrent pairs (residency-sim's two-hop chain and a peer's loaded at the same time, ${c.rateRps} requests/s each${c.load === 'paced' ? ', evenly spaced and alternating between the two (the paced engine)' : ' by autocannon\'s overallRate (each connection\'s quota for a second sent as that second starts: the same shape of load for both)'}, ${c.runSeconds} s, each process's CPU time per request over the same seconds, the direct paths measured the same way right before each pair${c.pinning === undefined ? '' : `; ${c.pinning}`}; ${rounds}): process CPU per hop of two ${parts.join('; ')}. Both sides of each ratio ran under the same machine conditions, so the drift between trials above does not enter it; ${interval}.${byPair}${keptUp}`, '', ...hopSplitLines(c), ...latencyPairLines(c)]
}

type LatencyPair = Concurrent['latency']

/** A peer's latency pair, or none (results written before the pairs measured latency have none). */
function latencyOf (x: Concurrent | null): LatencyPair | undefined {
  return x === null ? undefined : (x as Partial<Concurrent>).latency
}

/** The latency a hop adds, residency-sim's and a peer's measured together at one request in flight, each round. */
function latencyPairLines (c: OverheadResult['concurrent']): string[] {
  const peers = [['the plain forwarder', c.vsPlain], ['the buffered plain forwarder', c.vsPlainBuffered], ['@fastify/http-proxy', c.vsHttpProxy]] as const
  const parts = peers.flatMap(([name, x]) => {
    const l = latencyOf(x)
    return x === null || l === undefined ? [] : [`against ${name}: median of the per-round ratios ${f(l.ratio.median, 2)}x (${intervalText(l.ratio, x.rounds)}); medians of each side ${f(l.simUs, 0)} µs per hop for residency-sim and ${f(l.peerUs, 0)} for the peer`]
  })
  if (parts.length === 0) return []
  return [`Latency per hop of two at one request in flight, measured together: in each round, right after a peer's CPU pairs, one request at a time in turn over the two direct paths and both systems' one- and two-hop chains for ${c.runSeconds} s (the load generator's alternating engine), the p50 of the two-hop chain minus the direct path's, halved. Every request finds its servers idle since their last one, as sporadic traffic does, where the interleaved trials' closed loop on one route keeps them hot, so the µs are larger than in the table above; both sides of a ratio are measured within the same milliseconds. Residency-sim's hop as a multiple of the peer's: ${parts.join('; ')}.`, '']
}

type HopSplit = NonNullable<Concurrent['firstHop']>

/** The concurrent pairs' two hops apart (results written before the one-hop pairs have no split). */
function hopSplitLines (c: OverheadResult['concurrent']): string[] {
  const peers = [['the plain forwarder', c.vsPlain], ['the buffered plain forwarder', c.vsPlainBuffered], ['@fastify/http-proxy', c.vsHttpProxy]] as const
  const one = (x: HopSplit, rounds: number): string => `${f(x.cpu.median, 2)}x (${intervalText(x.cpu, rounds, false)}; medians ${f(x.simUs, 0)} and ${f(x.peerUs, 0)} µs)`
  const rows = peers.flatMap(([name, x]) => x?.firstHop === undefined || x.secondHop === undefined ? [] : [`| ${name} | ${one(x.firstHop, x.rounds)} | ${one(x.secondHop, x.rounds)} |`])
  if (rows.length === 0) return []
  return ['The same pairs\' two hops apart, each round\'s one-hop chains measured between its direct paths and its two-hop chains: the first hop (the one-hop chain minus the direct path; for residency-sim it also carries the work a request needs once: planning, inspection, Server-Timing, its records and log line) and the second (two hops minus one; for residency-sim the relay alone, signed at the ingress and verified at the inspection PoP). Process CPU, residency-sim\'s as a multiple of the peer\'s: the median of the per-round ratios with its 95% interval, then the medians of each side (residency-sim\'s, the peer\'s µs), whose quotient need not be that ratio:', '',
    '| against | first hop | second hop (the relay) |', '|---|---:|---:|', ...rows, '']
}

/**
 * The targets judged by the concurrent pairs' 95% intervals: as stored, or computed from the stored intervals for
 * results before they were stored; none without the pairs.
 */
function pairTargets (r: OverheadResult): { withinOneQuarterOfPlain: Verdict | null, fasterThanHttpProxy: Verdict | null } | undefined {
  const c = (r as Partial<OverheadResult>).concurrent
  if (c === undefined) return undefined
  const stored = (r.targets as Partial<OverheadResult['targets']>).concurrent
  if (stored !== undefined) return stored
  return {
    withinOneQuarterOfPlain: c.vsPlain === null ? null : judged(c.vsPlain.cpuTwoHopsEach.ci95, 1.25),
    fasterThanHttpProxy: c.vsHttpProxy === null ? null : judged(c.vsHttpProxy.cpuTwoHopsEach.ci95, 1, true)
  }
}

function pairTargetsText (r: OverheadResult): string {
  const t = pairTargets(r)
  if (t === undefined) return ''
  const c = r.concurrent
  const band = (x: Concurrent | null): string => x === null ? '' : ` (median of the per-round ratios ${f(x.cpuTwoHopsEach.median, 2)}x, ${intervalText(x.cpuTwoHopsEach, x.rounds)})`
  const parts = [
    t.withinOneQuarterOfPlain === null || c.vsPlain === null ? '' : `within 1.25x of the plain forwarder ${verdictText(t.withinOneQuarterOfPlain, c.vsPlain.rounds)}${band(c.vsPlain)}`,
    t.fasterThanHttpProxy === null || c.vsHttpProxy === null ? '' : `faster than @fastify/http-proxy ${verdictText(t.fasterThanHttpProxy, c.vsHttpProxy.rounds)}${band(c.vsHttpProxy)}`
  ].filter((x) => x !== '')
  const byCpu = parts.length === 0 ? '' : `By the concurrent pairs (process CPU per hop of two, judged by the 95% interval: met when all of it keeps to the target, not met when none of it does, undecided otherwise): ${parts.join('; ')}.`
  return [byCpu, pairLatencyTargetsText(r)].filter((x) => x !== '').join(' ')
}

/** The same targets judged by the latency pairs' intervals (results before the latency pairs have none). */
function pairLatencyTargetsText (r: OverheadResult): string {
  const c = (r as Partial<OverheadResult>).concurrent
  if (c === undefined) return ''
  const stored = (r.targets as Partial<OverheadResult['targets']>).concurrent?.latency
  const plain = latencyOf(c.vsPlain)
  const proxy = latencyOf(c.vsHttpProxy)
  const band = (l: LatencyPair): string => ` (median of the per-round ratios ${f(l.ratio.median, 2)}x, ${intervalText(l.ratio, c.vsPlain?.rounds ?? 0)})`
  const parts = [
    plain === undefined || c.vsPlain === null ? '' : `within 1.25x of the plain forwarder ${verdictText(stored?.withinOneQuarterOfPlain ?? judged(plain.ratio.ci95, 1.25), c.vsPlain.rounds)}${band(plain)}`,
    proxy === undefined || c.vsHttpProxy === null ? '' : `faster than @fastify/http-proxy ${verdictText(stored?.fasterThanHttpProxy ?? judged(proxy.ratio.ci95, 1, true), c.vsHttpProxy.rounds)}${band(proxy)}`
  ].filter((x) => x !== '')
  return parts.length === 0 ? '' : `By latency per hop of two at one request in flight, measured together (judged the same way): ${parts.join('; ')}.`
}

function concurrentKey (r: OverheadResult): string {
  const c = (r as Partial<OverheadResult>).concurrent
  if (c === undefined || c.vsPlain === null) return ''
  const proxy = c.vsHttpProxy === null ? '' : `, ${f(c.vsHttpProxy.cpuTwoHopsEach.median, 2)}x @fastify/http-proxy (${intervalText(c.vsHttpProxy.cpuTwoHopsEach, c.vsHttpProxy.rounds, false)})`
  const split = (name: string, x: Concurrent | null): string => x?.secondHop === undefined ? '' : `${f(x.secondHop.cpu.median, 2)}x ${name}`
  const seconds = [split('the plain forwarder', c.vsPlain), split('@fastify/http-proxy', c.vsHttpProxy)].filter((x) => x !== '')
  const relay = seconds.length === 0 ? '' : ` The second hop alone (the relay): ${seconds.join(', ')}.`
  const latencyPlain = latencyOf(c.vsPlain)
  const latencyProxy = latencyOf(c.vsHttpProxy)
  const latency = latencyPlain === undefined
    ? ''
    : ` Latency per hop at one request in flight, measured together: ${f(latencyPlain.ratio.median, 2)}x the plain forwarder (${intervalText(latencyPlain.ratio, c.vsPlain.rounds, false)})${latencyProxy === undefined || c.vsHttpProxy === null ? '' : `, ${f(latencyProxy.ratio.median, 2)}x @fastify/http-proxy (${intervalText(latencyProxy.ratio, c.vsHttpProxy.rounds, false)})`}.`
  return ` Loaded at the same time at ${c.rateRps} requests/s each, process CPU per hop, the median of the per-round ratios: ${f(c.vsPlain.cpuTwoHopsEach.median, 2)}x the plain forwarder (${intervalText(c.vsPlain.cpuTwoHopsEach, c.vsPlain.rounds)})${proxy}.${relay}${latency}`
}

const PEER_NAMES: Record<string, string> = { plain: 'plain', 'plain-buffered': 'buffered plain', 'http-proxy': '@fastify/http-proxy', nginx: 'nginx' }

/** Per-hop CPU from each variant's cheapest trial, and the second hop alone (computed from the rows for older results). */
export function bestOfLines (r: OverheadResult): string[] {
  const b = (r as Partial<OverheadResult>).bestOfTrials ?? bestOfTrials(r.rows)
  const sim = b?.systems.find((x) => x.system === 'residency-sim')
  if (b === null || b === undefined || sim === undefined) return []
  const peers = b.systems.filter((x) => x.system !== 'residency-sim')
  const list = (k: keyof HopCosts): string => peers.map((p) => `${PEER_NAMES[p.system] ?? p.system} ${f(p.cpuUs[k], 0)} (${f(sim.cpuUs[k] / p.cpuUs[k], 2)}x)`).join(', ')
  const plain = peers.find((p) => p.system === 'plain')
  return [`Best of ${b.trials} trials (each variant's cheapest trial: noise on a shared machine only adds time, so the minimum is the closest reading of the code's own cost), process CPU added per request: ` +
    `per hop of two, residency-sim ${f(sim.cpuUs.twoHopsEach, 0)} µs against ${list('twoHopsEach')}; ` +
    `the second hop alone (two hops minus one; for residency-sim the relay from the ingress to the inspection PoP, signed there and verified on arrival), residency-sim ${f(sim.cpuUs.secondHop, 0)} µs against ${list('secondHop')}; ` +
    `the first hop, which for residency-sim also carries the work a request needs once (planning, inspection, its records), residency-sim ${f(sim.cpuUs.oneHop, 0)} µs${plain === undefined ? '' : ` against the plain forwarder's ${f(plain.cpuUs.oneHop, 0)}`}.`, '']
}

function bestOfKey (r: OverheadResult): string {
  const b = (r as Partial<OverheadResult>).bestOfTrials ?? bestOfTrials(r.rows)
  const plain = b?.ratios.vsPlain
  const proxy = b?.ratios.vsHttpProxy
  if (b === null || b === undefined || plain === null || plain === undefined) return ''
  return ` Best of ${b.trials} trials, process CPU per hop: ${f(plain.cpuTwoHopsEach, 2)}x the plain forwarder${proxy === null || proxy === undefined ? '' : `, ${f(proxy.cpuTwoHopsEach, 2)}x @fastify/http-proxy`}.`
}

function pairedKey (r: OverheadResult): string {
  const p = (r as Partial<OverheadResult>).pairedRatios?.vsPlain
  if (p === undefined || p === null) return ''
  return ` Within each trial, CPU per hop against the plain forwarder: median ${f(p.cpuTwoHopsEach.median, 2)}x, from ${f(p.cpuTwoHopsEach.min, 2)} to ${f(p.cpuTwoHopsEach.max, 2)}x over ${p.trials} trials.`
}

/** The plain forwarder on residency-sim's own buffered exchange: the floor without the simulator's features. */
function bufferedKey (r: OverheadResult): string {
  const hop = r.perHop.find((x) => x.system === 'plain-buffered')
  const ratio = (r.ratios as { vsPlainBuffered?: typeof r.ratios.vsPlain }).vsPlainBuffered
  if (hop === undefined || ratio === undefined || ratio === null) return ''
  return ` The plain forwarder answering through residency-sim's buffered exchange: ${f(hop.latencyUsPerHop.twoHopsEach, 0)} µs latency / ${f(hop.cpuUsPerHop.twoHopsEach, 0)} µs CPU per hop; residency-sim ${f(ratio.latencyTwoHopsEach, 2)}x latency, ${f(ratio.cpuTwoHopsEach, 2)}x CPU of it.`
}

function overheadSection (e: Envelope<OverheadResult>): string[] {
  const r = e.result
  const byPairs = pairTargetsText(r)
  // Results written before the processes' CPU time was measured per request have none of its columns.
  const measured = r.perHop.some((x) => (x as { processCpuUsPerHop?: unknown }).processCpuUsPerHop !== undefined)
  const out = ['## 3. Per-hop software overhead (latency off)', '', machineLine(e), '',
    `${r.settings.trials} interleaved trials of ${r.settings.runSeconds} s per variant; latency at 1 connection, throughput at ${r.settings.throughputConnections} connections; medians. ${r.settings.processes}. ${r.settings.timing}. nginx: ${r.nginx}`, '',
    `| variant | route | p50 µs | p90 µs | p99 µs | throughput rps (spread) | servers CPU |${measured ? ' servers CPU µs per request |' : ''} load gen CPU |`, `|---|---|---:|---:|---:|---:|---:|${measured ? '---:|' : ''}---:|`]
  const servers = (x: typeof r.rows[number]): string => {
    const nginx = (x.cpu as { nginxAtThroughput?: number }).nginxAtThroughput
    return nginx === undefined ? f(x.cpu.serversAtThroughput, 2) : `${f(x.cpu.serversAtThroughput, 2)} + nginx ${f(nginx, 2)}`
  }
  const perRequest = (x: typeof r.rows[number]): string => measured ? ` ${f((x.cpu as { usPerRequest?: number }).usPerRequest ?? Number.NaN, 0)} |` : ''
  for (const x of r.rows) out.push(`| ${x.variant} | ${x.route} | ${f(x.latencyUs.p50, 0)} | ${f(x.latencyUs.p90, 0)} | ${f(x.latencyUs.p99, 0)} | ${x.throughputRps} (${overTrials(x.throughputSpread, pct)}) | ${servers(x)} |${perRequest(x)} ${f(x.cpu.loadgenAtThroughput, 2)} |`)
  const processCpu = (x: typeof r.perHop[number], k: 'oneHop' | 'twoHopsEach'): string => measured ? ` ${f((x as { processCpuUsPerHop?: Record<string, number> }).processCpuUsPerHop?.[k] ?? Number.NaN, 0)} |` : ''
  out.push('', 'Added per hop (minus the direct path; two-hop figures divided by two). Latency: p50 at 1 connection. CPU: server time per request from saturated throughput, 10^6 / rps' +
    (measured ? '; process CPU: the CPU time the serving processes (nginx\'s included) used per request, measured, which is the same for a process that was saturated and the only right figure for one that was not.' : '.'), '',
    `| system | latency µs, 1 hop | latency µs per hop, 2 hops | CPU µs, 1 hop | CPU µs per hop, 2 hops |${measured ? ' process CPU µs, 1 hop | process CPU µs per hop, 2 hops |' : ''}`, `|---|---:|---:|---:|---:|${measured ? '---:|---:|' : ''}`)
  for (const x of r.perHop) out.push(`| ${x.system} | ${f(x.latencyUsPerHop.oneHop, 0)} | ${f(x.latencyUsPerHop.twoHopsEach, 0)} | ${f(x.cpuUsPerHop.oneHop, 0)} | ${f(x.cpuUsPerHop.twoHopsEach, 0)} |${processCpu(x, 'oneHop')}${processCpu(x, 'twoHopsEach')}`)
  const ratio = (name: string, x: typeof r.ratios.vsPlain): string => x === null
    ? `| ${name} | - | - | - | - | - |${measured ? ' - |' : ''}`
    : `| ${name} | ${f(x.latencyOneHop, 2)} | ${f(x.latencyTwoHopsEach, 2)} | ${f(x.cpuOneHop, 2)} | ${f(x.cpuTwoHopsEach, 2)} |${measured ? ` ${f((x as { processCpuTwoHopsEach?: number }).processCpuTwoHopsEach ?? Number.NaN, 2)} |` : ''} ${f(x.throughputTwoHops, 2)} |`
  out.push('', 'residency-sim\'s cost per hop as a multiple of each peer\'s (lower is better; throughput: higher is better).', '',
    `| against | latency, 1 hop | latency, 2 hops | CPU, 1 hop | CPU, 2 hops |${measured ? ' process CPU, 2 hops |' : ''} throughput, 2 hops |`, `|---|---:|---:|---:|---:|${measured ? '---:|' : ''}---:|`,
    ratio('plain undici + fastify', r.ratios.vsPlain),
    ...((r.ratios as { vsPlainBuffered?: typeof r.ratios.vsPlain }).vsPlainBuffered === undefined ? [] : [ratio('plain, buffered (residency-sim\'s exchange)', r.ratios.vsPlainBuffered)]),
    ratio('@fastify/http-proxy', r.ratios.vsHttpProxy), ratio('nginx', r.ratios.vsNginx), '',
    ...pairedLines(r), ...concurrentLines(r), ...bestOfLines(r), ...timingLines((r as Partial<OverheadResult>).timingWarnings), `Targets by the medians of the interleaved trials: within 1.25x of the plain forwarder per hop (two-hop figures): latency ${r.targets.withinOneQuarterOfPlain?.latency ? 'met' : 'not met'}, CPU ${r.targets.withinOneQuarterOfPlain?.cpu ? 'met' : 'not met'}; ` +
    `faster than @fastify/http-proxy: latency ${r.targets.fasterThanHttpProxy?.latency ? 'met' : 'not met'}, CPU ${r.targets.fasterThanHttpProxy?.cpu ? 'met' : 'not met'}. ` +
    `${byPairs}${byPairs === '' ? '' : ' '}Load generator: ${r.loadGenerator.bottleneck} (highest CPU share ${r.loadGenerator.maxCpuAtThroughput}).`, '')
  return out
}

function handshakeSection (e: Envelope<HandshakeResult>): string[] {
  const r = e.result
  const out = ['## 4. TLS handshakes: new against resumed connections', '', machineLine(e), '', `Status: **${r.status}**.`, '',
    '| key mode | client | customer | route | model new | model resumed | measured new p50 | measured kept-alive p50 | key hops (new / kept-alive) |', '|---|---|---|---|---:|---:|---:|---:|---|']
  for (const x of r.rows) out.push(`| ${x.mode} | ${x.client} | ${x.host} | ${x.route} | ${f(x.modelled.newConnectionMs)} | ${f(x.modelled.resumedMs)} | ${f(x.measured.newConnectionP50)} | ${f(x.measured.resumedP50)} | ${x.keyHopsInServerTiming.newConnections} / ${x.keyHopsInServerTiming.resumed} |`)
  out.push('')
  if (r.tls !== undefined) {
    out.push('**Real TLS through the TLS edge** (client ' + r.tls.settings.client + '). Model: the planner\'s round trip without a key operation, plus one round trip over the access hop and the relay for the TLS 1.3 handshake of a new or resumed connection. ' + r.tls.settings.runs.join('; ') + '.', '',
      '| customer | route | handshake round trip (model) | connection | model | measured p50 | measured - model | x-sim-tls-handshake |', '|---|---|---:|---|---:|---:|---:|---|')
    for (const x of r.tls.rows) {
      for (const run of x.runs) {
        const ops = Object.entries(run.handshakeHeaders).map(([op, n]) => `${op} ${n}`).join(', ')
        out.push(`| ${x.host} | ${x.route} | ${f(x.handshakeRttMs)} | ${run.run} | ${f(run.modelledMs)} | ${f(run.measuredP50)} | ${signed(run.errorMs)} | ${ops} |`)
      }
    }
    out.push('')
  }
  return out
}

/** The figures a reader wants first, each with where it comes from. */
function keyFigures (added?: Envelope<AddedResult>, fidelity?: Envelope<FidelityResult>, overhead?: Envelope<OverheadResult>, handshake?: Envelope<HandshakeResult>): string[] {
  const out = ['## Key figures', '']
  if (added) {
    const rows = added.result.rows
    const worst = [...rows].sort((a, b) => b.measured.addedP50 - a.measured.addedP50)[0]
    out.push(`- Added latency (p50, measured): median ${f(medianOf(rows.map((x) => x.measured.addedP50)))} ms over ${rows.length} client/customer pairs; largest ${f(worst?.measured.addedP50 ?? Number.NaN)} ms (${worst?.host ?? ''} from ${worst?.city ?? ''}, modelled ${f(worst?.modelled.addedMs ?? Number.NaN)} ms). Measured minus modelled added latency: median ${f(added.result.summary.medianAddedErrorMs, 2)} ms.`)
  }
  if (fidelity) {
    for (const w of fidelity.result.workloads) out.push(`- Fidelity, ${w.workload} (${w.description}): faithful ${upToText(w.faithfulUpToRps)}${w.firstUnfaithfulRps === null ? ' (every rate tested)' : `, not at ${w.firstUnfaithfulRps} rps`} (p50 within 1 ms or 5% of the model; within 1 ms alone ${upToText(withinOneMsUpTo(w.rows))}); p50 error at the lowest rate ${f(w.idleErrorMs, 2)} ms.`)
  }
  if (overhead) {
    const r = overhead.result
    const byPairs = pairTargetsText(r)
    const sim = r.perHop.find((x) => x.system === 'residency-sim')
    const plain = r.perHop.find((x) => x.system === 'plain')
    const proxy = r.perHop.find((x) => x.system === 'http-proxy')
    out.push(`- Per hop, latency off (two-hop chains, per hop): residency-sim ${f(sim?.latencyUsPerHop.twoHopsEach ?? Number.NaN, 0)} µs latency / ${f(sim?.cpuUsPerHop.twoHopsEach ?? Number.NaN, 0)} µs CPU; plain forwarder ${f(plain?.latencyUsPerHop.twoHopsEach ?? Number.NaN, 0)} / ${f(plain?.cpuUsPerHop.twoHopsEach ?? Number.NaN, 0)} µs; @fastify/http-proxy ${f(proxy?.latencyUsPerHop.twoHopsEach ?? Number.NaN, 0)} / ${f(proxy?.cpuUsPerHop.twoHopsEach ?? Number.NaN, 0)} µs. ` +
      `Ratio to the plain forwarder ${f(r.ratios.vsPlain?.latencyTwoHopsEach ?? Number.NaN, 2)}x latency, ${f(r.ratios.vsPlain?.cpuTwoHopsEach ?? Number.NaN, 2)}x CPU (target 1.25x by these medians: ${r.targets.withinOneQuarterOfPlain?.latency && r.targets.withinOneQuarterOfPlain.cpu ? 'met' : 'not met'}); to @fastify/http-proxy ${f(r.ratios.vsHttpProxy?.latencyTwoHopsEach ?? Number.NaN, 2)}x latency, ${f(r.ratios.vsHttpProxy?.cpuTwoHopsEach ?? Number.NaN, 2)}x CPU (target below 1 by these medians: ${r.targets.fasterThanHttpProxy?.latency && r.targets.fasterThanHttpProxy.cpu ? 'met' : 'not met'}). nginx: ${r.ratios.vsNginx ? `${f(r.ratios.vsNginx.latencyTwoHopsEach, 2)}x latency` : 'not measured'}.` +
      pairedKey(r) + concurrentKey(r) + (byPairs === '' ? '' : ` ${byPairs}`) + bestOfKey(r) + bufferedKey(r))
  }
  if (handshake) {
    const h = handshake.result
    out.push(`- Handshakes: ${h.status}${h.available ? ': ' + h.rows.map((x) => `${x.mode} ${signed(x.measured.differenceP50)} ms on a new connection (modelled ${signed(x.modelled.newConnectionMs - x.modelled.resumedMs)})`).join('; ') : ''}.`)
    if (h.tls !== undefined) {
      out.push(`- Real TLS through the TLS edge, measured minus modelled p50: ${h.tls.rows.map((x) => `${x.host} (${x.route}) ${x.runs.map((r) => `${r.run} ${signed(r.errorMs)} ms`).join(', ')}`).join('; ')}.`)
    }
  }
  out.push('')
  return out
}

function medianOf (xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

export async function writeReport (dir: string): Promise<string[]> {
  const added = await readJson<Envelope<AddedResult>>(join(dir, FILES.added))
  const fidelity = await readJson<Envelope<FidelityResult>>(join(dir, FILES.fidelity))
  const overhead = await readJson<Envelope<OverheadResult>>(join(dir, FILES.overhead))
  const handshake = await readJson<Envelope<HandshakeResult>>(join(dir, FILES.handshake))
  const md = ['# residency-sim benchmark results', '', `Reproduce with \`npm run bench\` (everything, about ${FULL_RUN_MINUTES} minutes) or \`node bench/run.ts --only added|fidelity|overhead|handshake\`; \`--help\` lists the options. Every figure below is in the JSON files next to this one.`, '']
  md.push(...keyFigures(added, fidelity, overhead, handshake))
  const written: string[] = []
  if (added) {
    md.push(...addedSection(added))
    const r = added.result
    const hosts = r.settings.customers
    const cities = [...new Set(r.rows.map((x) => x.client))]
    await writeFile(join(dir, 'added-latency.svg'), groupedBars({
      title: 'Latency added by data localisation (measured p50, ms), by client city and customer region',
      yLabel: 'added ms (regional p50 - twin p50)',
      series: hosts.map((h) => `${h} (${r.rows.find((x) => x.host === h)?.region ?? ''})`),
      groups: cities.map((c) => ({
        label: r.rows.find((x) => x.client === c)?.city ?? c,
        values: hosts.map((h) => r.rows.find((x) => x.client === c && x.host === h)?.measured.addedP50 ?? Number.NaN),
        markers: hosts.map((h) => r.rows.find((x) => x.client === c && x.host === h)?.modelled.addedMs ?? Number.NaN)
      })),
      markerLabel: 'modelled'
    }))
    written.push('added-latency.svg')
  }
  if (fidelity) {
    md.push(...fidelitySection(fidelity))
    const series = fidelity.result.workloads.flatMap((w) => [
      { name: `${w.workload}: p50 error (ms)`, points: w.rows.map((x) => [x.targetRps, x.p50ErrorMs] as const) },
      { name: `${w.workload}: tolerance max(1 ms, 5%)`, dashed: true, points: w.rows.map((x) => [x.targetRps, Math.max(1, 0.05 * x.modelledP50Ms)] as const) }
    ])
    // The interesting part is near the tolerance: the saturated rates (errors of seconds) are drawn off scale.
    const tol = Math.max(1, ...fidelity.result.workloads.flatMap((w) => w.rows.map((x) => 0.05 * x.modelledP50Ms)))
    await writeFile(join(dir, 'fidelity.svg'), lineChart({ title: 'Fidelity against load: measured p50 minus modelled', xLabel: 'requests per second (fixed rate)', yLabel: 'p50 error, ms', series, yMax: Math.ceil(tol * 4) }))
    written.push('fidelity.svg')
  }
  if (overhead) md.push(...overheadSection(overhead))
  if (handshake) md.push(...handshakeSection(handshake))
  await writeFile(join(dir, 'summary.md'), md.join('\n'))
  written.push('summary.md')
  return written
}
