// Scenario 1, the headline: the latency that data localisation adds. For clients in ten cities on every continent and
// each regional customer of the default scenario (or of the one given with --config), the measured latency of the
// customer against its twin (same origin, no region, keys everywhere, no log boundary), next to the planner's modelled
// values.
import { SimError } from '../../src/core/errors.ts'
import { loadTopology } from '../../src/core/topology.ts'
import type { World } from '../../src/core/types.ts'
import { HEADLINE_CITIES } from '../../src/cli/commands/matrix.ts'
import { sized, type Ctx } from '../lib/context.ts'
import type { CannonStream, JobResult, StreamResult } from '../lib/loadgen.ts'
import { modelled, routeOf, worldOf } from '../lib/model.ts'
import { benchScenario, defaultYaml, twinHost } from '../lib/scenario-yaml.ts'
import type { SimInfo } from '../lib/servers.ts'
import { median, pool, round, spread, summarise, timingMismatch } from '../lib/stats.ts'

/** The client cities, on every continent: the rows `rsim matrix` models too. */
export const CITIES = HEADLINE_CITIES

/**
 * A client city as the scenario can locate it: its PoP's IATA code, or that PoP's coordinates when the scenario leaves
 * the PoP out (network.pops).
 */
export function clientOf (code: string, world: World): string {
  if (world.topology.byId.has(code)) return code
  const pop = loadTopology().byId.get(code)
  if (pop === undefined) throw new Error(`no PoP ${code}`)
  return `${pop.lat},${pop.lon}`
}

/**
 * The scenario the added scenario runs (the embedded default, or `file`), with its twins, checked whole before any
 * load: it has a customer with a processing region, and the planner serves every client city and such customer (a
 * refused route has no latency to measure). Throws SIM_ERR_INPUT_INVALID naming `file`.
 */
export function addedScenario (yaml: string, file?: string) {
  const where = file ?? 'config/default.yaml'
  let bench: ReturnType<typeof benchScenario>
  let world: World
  try {
    bench = benchScenario(yaml, { gkm: false, ...(file === undefined ? {} : { file }) })
    world = worldOf(bench.scenario)
  } catch (err) {
    // Schema errors name the file and line already; consistency errors (regions, key policies) do not.
    const message = (err as Error).message
    throw new SimError('SIM_ERR_INPUT_INVALID', ['--config', message.includes(where) ? message : `${where}: ${message}`])
  }
  if (bench.regional.length === 0) throw new SimError('SIM_ERR_INPUT_INVALID', ['--config', `${where} has no customer with a processing region (customers[].region): there is no data localisation to measure`])
  for (const c of CITIES) {
    for (const h of bench.regional) {
      try {
        modelled(world, clientOf(c.code, world), h, false)
        modelled(world, clientOf(c.code, world), twinHost(h), false)
      } catch (err) {
        throw new SimError('SIM_ERR_INPUT_INVALID', ['--config', `in ${where}, ${h} from ${c.city} (${c.code}) is not served, so its latency cannot be measured: ${(err as Error).message}`])
      }
    }
  }
  return { bench, world }
}

export interface AddedRow {
  readonly client: string
  readonly city: string
  readonly host: string
  readonly region: string
  readonly route: string
  readonly baselineRoute: string
  readonly modelled: { readonly ms: number, readonly baselineMs: number, readonly twinMs: number, readonly addedMs: number }
  /** Measured, in real (rescaled) ms: medians over trials of each trial's percentile; p99 also pooled over trials. */
  readonly measured: {
    readonly p50: number, readonly p90: number, readonly p99: number, readonly p99Pooled: number
    readonly baselineP50: number, readonly baselineP90: number, readonly baselineP99: number
    readonly addedP50: number, readonly addedP50Trials: readonly number[]
    readonly samples: number, readonly baselineSamples: number, readonly non2xx: number
  }
  /** Measured at the simulator's time scale, before rescaling (equal to `measured` at time scale 1). */
  readonly raw: { readonly p50: number, readonly baselineP50: number }
  readonly errorP50Ms: number
}

export async function runAdded (ctx: Ctx) {
  const { settings } = ctx
  const q = settings.quick
  const trials = q ? 1 : Math.max(1, Math.round(sized(settings, 3, 1)))
  const blockS = sized(settings, 20, 2, 0.5)
  const warmS = sized(settings, 5, 1, 0.25)
  const connections = 1
  const cities = q ? CITIES.filter((c) => ['SYD', 'EWR', 'FRA'].includes(c.code)) : CITIES
  const { bench, world } = addedScenario(settings.scenario?.yaml ?? await defaultYaml(), settings.scenario?.file)
  const ts = settings.timeScale

  ctx.progress('added', `starting the simulation (latency on, time scale ${ts})`)
  const info = await ctx.servers.call<SimInfo>('startSim', { yaml: bench.yaml, latency: true, timeScale: ts })
  const streams = (twin: boolean): CannonStream[] => cities.flatMap((c) => bench.regional.map((h) => ({
    id: `${c.code} ${h}`,
    url: info.edgeUrl,
    headers: { host: twin ? twinHost(h) : h, 'x-sim-client': clientOf(c.code, world) },
    connections
  })))

  const regional = new Map<string, Float64Array[]>()
  const baseline = new Map<string, Float64Array[]>()
  const trialsA: Record<string, number[]>[] = []
  const non2xx = new Map<string, number>()
  const timed = new Map<string, StreamResult[]>()
  const cpu: { servers: number[], loadgen: number[] } = { servers: [], loadgen: [] }
  async function block (twin: boolean, label: string, seconds: number): Promise<JobResult<StreamResult[]>> {
    const done = ctx.watch('added', label)
    await ctx.servers.call('mark')
    try {
      const r = await ctx.loadgen.call<JobResult<StreamResult[]>>('cannon', { streams: streams(twin), durationS: seconds })
      const serversCpu = await ctx.servers.call<number>('cpu')
      cpu.servers.push(serversCpu)
      cpu.loadgen.push(r.cpu)
      return r
    } finally { done() }
  }

  await block(false, `warm-up ${warmS} s`, warmS)
  await block(true, `warm-up (baseline twins) ${warmS} s`, warmS)
  for (let t = 0; t < trials; t++) {
    // A B A B: the regional customers, then their twins, in each trial.
    const a = await block(false, `trial ${t + 1}/${trials} regional customers (${cities.length * bench.regional.length} streams, ${blockS} s)`, blockS)
    const b = await block(true, `trial ${t + 1}/${trials} baseline twins (${blockS} s)`, blockS)
    const added: Record<string, number[]> = {}
    for (const [i, r] of a.results.entries()) {
      const rb = b.results[i] as StreamResult
      regional.set(r.id, [...regional.get(r.id) ?? [], r.samplesMs])
      baseline.set(r.id, [...baseline.get(r.id) ?? [], rb.samplesMs])
      non2xx.set(r.id, (non2xx.get(r.id) ?? 0) + r.non2xx + r.errors + rb.non2xx + rb.errors)
      timed.set(r.id, [...timed.get(r.id) ?? [], r])
      timed.set(rb.id, [...timed.get(rb.id) ?? [], rb])
      added[r.id] = [summarise(r.samplesMs).p50 - summarise(rb.samplesMs).p50]
    }
    trialsA.push(added)
    const rps = a.results.reduce((s, r) => s + r.rps, 0)
    ctx.progress('added', `trial ${t + 1}/${trials}: ${Math.round(rps)} rps (regional), load generator CPU ${a.cpu}, servers CPU ${cpu.servers.at(-2) ?? 0}`)
  }
  const closeMs = await ctx.servers.call<number>('stopSim')

  const rows: AddedRow[] = []
  const r = (x: number): number => round(x / ts, 2)
  for (const c of cities) {
    for (const h of bench.regional) {
      const id = `${c.code} ${h}`
      // Kept-alive connections: after each connection's first request (one full handshake, then session resumption)
      // no request pays a key operation, so the model is the resumed plan. Scenario 4 measures the handshakes.
      const p = modelled(world, clientOf(c.code, world), h, false)
      const twin = modelled(world, clientOf(c.code, world), twinHost(h), false)
      const perTrial = (regional.get(id) ?? []).map((s) => summarise(s))
      const perTrialB = (baseline.get(id) ?? []).map((s) => summarise(s))
      const addedTrials = trialsA.map((t) => (t[id] ?? [Number.NaN])[0] as number)
      const p50 = median(perTrial.map((s) => s.p50))
      const bp50 = median(perTrialB.map((s) => s.p50))
      rows.push({
        client: c.code,
        city: c.city,
        host: h,
        region: world.customers.get(h)?.region?.id ?? '',
        route: routeOf(p),
        baselineRoute: routeOf(twin),
        modelled: { ms: p.modelledMs, baselineMs: p.baselineMs, twinMs: twin.modelledMs, addedMs: p.addedMs },
        measured: {
          p50: r(p50),
          p90: r(median(perTrial.map((s) => s.p90))),
          p99: r(median(perTrial.map((s) => s.p99))),
          p99Pooled: r(summarise(pool(regional.get(id) ?? [])).p99),
          baselineP50: r(bp50),
          baselineP90: r(median(perTrialB.map((s) => s.p90))),
          baselineP99: r(median(perTrialB.map((s) => s.p99))),
          addedP50: r(median(addedTrials)),
          addedP50Trials: addedTrials.map(r),
          samples: perTrial.reduce((s, x) => s + x.count, 0),
          baselineSamples: perTrialB.reduce((s, x) => s + x.count, 0),
          non2xx: non2xx.get(id) ?? 0
        },
        raw: { p50: round(p50, 3), baselineP50: round(bp50, 3) },
        errorP50Ms: round(p50 / ts - p.modelledMs, 2)
      })
    }
  }
  const errors = rows.map((x) => x.errorP50Ms)
  const addedErr = rows.map((x) => x.measured.addedP50 - x.modelled.addedMs)
  return {
    scenario: 'added-latency',
    settings: { scenario: settings.scenario?.file ?? 'config/default.yaml', trials, blockSeconds: blockS, warmupSeconds: warmS, connectionsPerStream: connections, timeScale: ts, latency: 'on', cities: cities.map((c) => c.code), customers: bench.regional, order: 'per trial: all regional streams at once, then all twin streams (A B A B)' },
    simulation: { pops: info.pops, startupMs: round(info.startupMs, 0), rssMiB: info.rssMiB, closeMs },
    cpu: { servers: cpu.servers, loadgen: cpu.loadgen },
    noise: {
      /** Median over client/customer pairs of the range (max - min) of the per-trial added p50, ms; none (NaN) from one trial. */
      addedP50TrialRangeMs: trials < 2 ? Number.NaN : round(median(rows.map((x) => Math.max(...x.measured.addedP50Trials) - Math.min(...x.measured.addedP50Trials))), 2),
      /** The same for the regional p50 relative to its value: the run-to-run spread of a latency (NaN from one trial). */
      p50TrialSpread: round(median(rows.map((x) => spread((regional.get(`${x.client} ${x.host}`) ?? []).map((s) => summarise(s).p50)))), 4)
    },
    summary: {
      medianErrorP50Ms: round(median(errors), 2),
      maxAbsErrorP50Ms: round(Math.max(...errors.map(Math.abs)), 2),
      medianAddedErrorMs: round(median(addedErr), 2),
      maxAbsAddedErrorMs: round(Math.max(...addedErr.map(Math.abs)), 2),
      twinMatchesBaseline: rows.every((x) => Math.abs(x.modelled.twinMs - x.modelled.baselineMs) < 0.01),
      non2xx: rows.reduce((s, x) => s + x.measured.non2xx, 0)
    },
    /** Streams whose response times cannot be the requests' own (bench/lib/stats.ts timingMismatch); empty when all add up. */
    timingWarnings: [...timed].map(([id, runs]) => timingMismatch(id, runs)).filter((x) => x !== undefined),
    rows
  }
}

export type AddedResult = Awaited<ReturnType<typeof runAdded>>
