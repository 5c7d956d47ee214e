// Scenario 2, fidelity: measured minus modelled latency under increasing fixed request rates, latency on. Requests are
// sent open-loop at a fixed rate, so a simulator that falls behind shows it in the latency instead of silently being
// sent less. The verdict times each request from the moment the generator actually sent it (its own lag behind the
// schedule, Node's millisecond timers, is not the simulation's); the error from the intended send time (coordinated
// omission corrected, as wrk2 does) is kept beside it.
import { sized, type Ctx } from '../lib/context.ts'
import { speedProbe } from '../lib/machine.ts'
import type { JobResult, PacedResult, RatedResult } from '../lib/loadgen.ts'
import { modelled, worldOf } from '../lib/model.ts'
import { benchScenario, defaultYaml } from '../lib/scenario-yaml.ts'
import type { SimFidelity, SimInfo } from '../lib/servers.ts'
import { LOOP_DELAY_SAMPLE_MS, median, round, summarise } from '../lib/stats.ts'
import { CITIES } from './added.ts'

/** Faithful: the p50 error is within 1 ms, or within 5% of the modelled value (whichever allows more). */
export function faithful (errorMs: number, modelledMs: number): boolean {
  return Math.abs(errorMs) <= Math.max(1, 0.05 * modelledMs)
}

interface Workload {
  readonly name: string
  readonly description: string
  readonly routes: readonly { client: string, host: string, modelledMs: number }[]
}

export interface FidelityStep {
  readonly workload: string
  readonly trial: number
  readonly targetRps: number
  readonly achievedRps: number
  readonly samples: number
  readonly non2xx: number
  readonly errors: number
  /**
   * Median over requests of measured minus modelled (ms), measured from the moment each request was sent, and of that
   * error over the modelled value.
   */
  readonly p50ErrorMs: number
  readonly p50RelError: number
  readonly p99ErrorMs: number
  readonly modelledP50Ms: number
  readonly measuredP50Ms: number
  /** The same errors measured from each request's intended send time: the generator's lag included (ms). */
  readonly scheduleP50ErrorMs: number
  readonly scheduleP99ErrorMs: number
  /** How long after its intended time the generator sent a request: median and p99 (ms). */
  readonly sendLagP50Ms: number
  readonly sendLagP99Ms: number
  readonly faithful: boolean
  readonly cpu: { readonly servers: number, readonly loadgen: number }
  readonly maxSendLagMs: number
  /** The speed probe (bench/lib/machine.ts) just before the step's load, ms: how fast the machine was running. */
  readonly speedProbeMs: number
  /**
   * The simulation's own verdict over the step, warm-up included (runtime/fidelity.ts): responses it held to their
   * modelled time, how many of them left late, and how far its event loop fell behind.
   */
  readonly simulator?: { readonly settled: number, readonly late: number, readonly lateShare: number, readonly loopDelayP99Ms: number, readonly loopDelayMaxMs: number }
}

/** One rate of the cross-check with autocannon's own fixed-rate mode (single route, first trial). */
export interface AutocannonStep {
  readonly targetRps: number
  readonly achievedRps: number
  /** autocannon's histogram p50 (whole ms, its coordinated-omission correction) minus the model. */
  readonly correctedP50ErrorMs: number
  readonly correctedP99ErrorMs: number
  /** The p50 of its per-response times minus the model. */
  readonly responseP50ErrorMs: number
  /** The paced engine's p50 error at the same rate and trial. */
  readonly pacedP50ErrorMs: number
  readonly non2xx: number
  readonly errors: number
}

/** The simulation's own counts over a step: the difference of its cumulative counters, and the loop delay. */
function simulatorVerdict (before: SimFidelity, after: SimFidelity): NonNullable<FidelityStep['simulator']> {
  const settled = after.settled - before.settled
  const late = after.late - before.late
  return { settled, late, lateShare: settled === 0 ? 0 : round(late / settled, 4), loopDelayP99Ms: after.loopDelayP99Ms, loopDelayMaxMs: after.loopDelayMaxMs }
}

export async function runFidelity (ctx: Ctx) {
  const q = ctx.settings.quick
  const rates = q ? [50, 200] : [100, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000]
  // Three trials: the median of an odd count is one real trial, so a single stalled trial cannot decide a rate.
  const trials = q ? 1 : Math.max(1, Math.round(sized(ctx.settings, 3, 1)))
  const stepS = sized(ctx.settings, 6, 1.5, 0.5)
  const warmS = sized(ctx.settings, 1.5, 0.5, 0.2)
  const bench = benchScenario(await defaultYaml())
  const world = worldOf(bench.scenario)
  // Kept-alive pool connections: resumed sessions, no key operation (as in scenario 1).
  const route = (client: string, host: string) => ({ client, host, modelledMs: modelled(world, client, host, false).modelledMs })
  const workloads: Workload[] = [
    {
      name: 'single',
      description: 'one route: eu-shop.example from New York (ingress EWR, relayed to the EU, origin FRA)',
      routes: [route('EWR', 'eu-shop.example')]
    },
    {
      name: 'mix',
      description: `every regional customer from ${CITIES.length} cities (${CITIES.length * bench.regional.length} routes, round robin)`,
      routes: CITIES.flatMap((c) => bench.regional.map((h) => route(c.code, h)))
    }
  ]

  ctx.progress('fidelity', 'starting the simulation (latency on, time scale 1)')
  const info = await ctx.servers.call<SimInfo>('startSim', { yaml: bench.yaml, latency: true, timeScale: 1 })
  const steps: FidelityStep[] = []
  const autocannonSteps: AutocannonStep[] = []
  // The saturated workloads stop climbing: more load on a simulator that is already behind only adds minutes.
  const stopped = new Set<string>()
  for (let t = 0; t < trials; t++) {
    stopped.clear()
    for (const rate of rates) {
      for (const w of workloads) {
        if (stopped.has(w.name)) continue
        // Per route: enough connections for twice the modelled concurrency of its share of the rate.
        const maxModelled = Math.max(...w.routes.map((r) => r.modelledMs))
        const connections = Math.min(2048, Math.max(4, Math.ceil(rate / w.routes.length * maxModelled / 1000 * 2)))
        const probe = speedProbe()
        const done = ctx.watch('fidelity', `trial ${t + 1}/${trials} ${w.name} at ${rate} rps (${stepS} s)`)
        const before = await ctx.servers.call<SimFidelity | null>('simFidelity')
        await ctx.servers.call('mark')
        let res: JobResult<PacedResult>
        try {
          res = await ctx.loadgen.call<JobResult<PacedResult>>('paced', {
            url: info.edgeUrl,
            requests: w.routes.map((r) => ({ headers: { host: r.host, 'x-sim-client': r.client } })),
            rate,
            durationS: stepS,
            warmupS: warmS,
            connections
          })
        } finally { done() }
        const serversCpu = await ctx.servers.call<number>('cpu')
        const after = await ctx.servers.call<SimFidelity | null>('simFidelity')
        const p = res.results
        // Each request's latency from the moment the generator sent it: the generator's own lag behind its schedule
        // (Node's millisecond timers) is not the simulation's. From the schedule itself (the coordinated-omission view,
        // that lag included) as well, beside it.
        const n = p.samplesMs.length
        const err = new Float64Array(n)
        const rel = new Float64Array(n)
        const mod = new Float64Array(n)
        const fromSchedule = new Float64Array(n)
        const fromSend = new Float64Array(n)
        const lag = p.sendLagMs
        for (let i = 0; i < n; i++) {
          const m = (w.routes[p.route[i] as number] as { modelledMs: number }).modelledMs
          mod[i] = m
          fromSend[i] = (p.samplesMs[i] as number) - (lag[i] as number)
          fromSchedule[i] = (p.samplesMs[i] as number) - m
          err[i] = (fromSend[i] as number) - m
          rel[i] = (err[i] as number) / m
        }
        const e = summarise(err)
        const sched = summarise(fromSchedule)
        const lagged = summarise(lag)
        const relP50 = summarise(rel).p50
        const modP50 = summarise(mod).p50
        const step: FidelityStep = {
          workload: w.name,
          trial: t + 1,
          targetRps: rate,
          achievedRps: round(p.achievedRps, 0),
          samples: p.samplesMs.length,
          non2xx: p.non2xx,
          errors: p.errors,
          p50ErrorMs: round(e.p50, 2),
          p50RelError: round(relP50, 4),
          p99ErrorMs: round(e.p99, 2),
          modelledP50Ms: round(modP50, 2),
          measuredP50Ms: round(summarise(fromSend).p50, 2),
          scheduleP50ErrorMs: round(sched.p50, 2),
          scheduleP99ErrorMs: round(sched.p99, 2),
          sendLagP50Ms: round(lagged.p50, 3),
          sendLagP99Ms: round(lagged.p99, 3),
          faithful: p.errors === 0 && p.non2xx === 0 && (Math.abs(e.p50) <= 1 || Math.abs(relP50) <= 0.05),
          speedProbeMs: probe,
          cpu: { servers: serversCpu, loadgen: res.cpu },
          maxSendLagMs: round(p.maxSendLagMs, 1),
          ...(before === null || after === null ? {} : { simulator: simulatorVerdict(before, after) })
        }
        steps.push(step)
        const own = step.simulator === undefined ? '' : `; the simulation counted ${(step.simulator.lateShare * 100).toFixed(1)}% of its responses late, loop delay p99 ${step.simulator.loopDelayP99Ms} ms`
        ctx.progress('fidelity', `${w.name} ${rate} rps: achieved ${step.achievedRps}, p50 error ${step.p50ErrorMs} ms (${(step.p50RelError * 100).toFixed(1)}%; ${step.scheduleP50ErrorMs} ms from the schedule, generator lag p50 ${step.sendLagP50Ms} ms), ${step.faithful ? 'faithful' : 'NOT faithful'}; CPU servers ${serversCpu}, load generator ${res.cpu}${own}`)
        if (t === 0 && w.name === 'single') {
          // The same rate through autocannon's own fixed-rate mode, as a cross-check of the paced engine.
          const route = w.routes[0] as { client: string, host: string, modelledMs: number }
          const doneA = ctx.watch('fidelity', `single at ${rate} rps through autocannon's overallRate (${stepS} s)`)
          let a: JobResult<RatedResult>
          try {
            a = await ctx.loadgen.call<JobResult<RatedResult>>('rated', {
              url: `${info.edgeUrl}/`,
              headers: { host: route.host, 'x-sim-client': route.client },
              rate,
              durationS: stepS,
              warmupS: warmS,
              connections: Math.min(rate, connections)
            })
          } finally { doneA() }
          const r = a.results
          autocannonSteps.push({
            targetRps: rate,
            achievedRps: round(r.achievedRps, 0),
            correctedP50ErrorMs: round(r.correctedP50Ms - route.modelledMs, 2),
            correctedP99ErrorMs: round(r.correctedP99Ms - route.modelledMs, 2),
            responseP50ErrorMs: round(r.responseP50Ms - route.modelledMs, 2),
            pacedP50ErrorMs: step.p50ErrorMs,
            non2xx: r.non2xx,
            errors: r.errors
          })
          ctx.progress('fidelity', `single ${rate} rps via autocannon overallRate: achieved ${round(r.achievedRps, 0)}, p50 error ${round(r.correctedP50Ms - route.modelledMs, 2)} ms (its corrected histogram), ${round(r.responseP50Ms - route.modelledMs, 2)} ms (its response times)`)
        }
        if (Math.abs(step.p50RelError) > 0.5 || step.achievedRps < rate * 0.8 || step.errors > 0) stopped.add(w.name)
      }
    }
  }
  const closeMs = await ctx.servers.call<number>('stopSim')

  // Per workload and rate: medians over trials; the threshold is the highest rate below which every rate was faithful.
  const table = workloads.map((w) => {
    const rows = rates.map((rate) => {
      const s = steps.filter((x) => x.workload === w.name && x.targetRps === rate)
      if (s.length === 0) return undefined
      const errMs = median(s.map((x) => x.p50ErrorMs))
      const rel = median(s.map((x) => x.p50RelError))
      return {
        targetRps: rate,
        /** Trials that reached this rate: a trial stops climbing a workload once it has collapsed (see `stopped`). */
        trials: s.length,
        achievedRps: round(median(s.map((x) => x.achievedRps)), 0),
        p50ErrorMs: round(errMs, 2),
        p50RelError: round(rel, 4),
        p99ErrorMs: round(median(s.map((x) => x.p99ErrorMs)), 2),
        scheduleP50ErrorMs: round(median(s.map((x) => x.scheduleP50ErrorMs)), 2),
        sendLagP50Ms: round(median(s.map((x) => x.sendLagP50Ms)), 3),
        modelledP50Ms: s[0]?.modelledP50Ms ?? Number.NaN,
        faithful: s.every((x) => x.faithful) || (Math.abs(errMs) <= 1 || Math.abs(rel) <= 0.05) && s.every((x) => x.errors === 0 && x.non2xx === 0),
        serversCpu: round(median(s.map((x) => x.cpu.servers)), 2),
        loadgenCpu: round(median(s.map((x) => x.cpu.loadgen)), 2),
        speedProbeMs: round(median(s.map((x) => x.speedProbeMs)), 1),
        ...(s.every((x) => x.simulator !== undefined)
          ? {
              simLateShare: round(median(s.map((x) => x.simulator?.lateShare ?? 0)), 4),
              loopDelayP99Ms: round(median(s.map((x) => x.simulator?.loopDelayP99Ms ?? 0)), 1)
            }
          : {})
      }
    }).filter((x) => x !== undefined)
    let faithfulUpTo = 0
    for (const row of rows) { if (row.faithful) faithfulUpTo = row.targetRps; else break }
    const firstUnfaithful = rows.find((x) => !x.faithful)?.targetRps ?? null
    // Error that load adds on top of the idle error (timer granularity): where load itself starts to matter.
    const idle = rows[0]?.p50ErrorMs ?? 0
    const loadFaithfulUpTo = (() => {
      let up = 0
      for (const row of rows) {
        if (faithful(row.p50ErrorMs - idle, row.modelledP50Ms)) up = row.targetRps
        else break
      }
      return up
    })()
    return { workload: w.name, description: w.description, routes: w.routes.length, rows, faithfulUpToRps: faithfulUpTo, firstUnfaithfulRps: firstUnfaithful, idleErrorMs: idle, loadAddedErrorFaithfulUpToRps: loadFaithfulUpTo }
  })
  return {
    scenario: 'fidelity',
    settings: {
      rates, trials, stepSeconds: stepS, warmupSeconds: warmS, latency: 'on', timeScale: 1,
      criterion: 'faithful when |p50(measured - modelled)| <= 1 ms or <= 5% of the modelled value; every request answered 2xx',
      loadGenerator: 'open loop at a fixed rate (undici pool, uniform spacing); latency from the moment each request was sent, and from its intended send time (the coordinated-omission correction of wrk2), which adds the generator\'s own lag behind its schedule (Node\'s timers run at whole milliseconds and late)',
      loopDelay: `how late the simulation's event loop ran a ${LOOP_DELAY_SAMPLE_MS} ms sampling timer, the interval itself not counted`
    },
    simulation: { pops: info.pops, startupMs: round(info.startupMs, 0), rssMiB: info.rssMiB, closeMs },
    workloads: table,
    steps,
    autocannon: autocannonSteps
  }
}

export type FidelityResult = Awaited<ReturnType<typeof runFidelity>>
