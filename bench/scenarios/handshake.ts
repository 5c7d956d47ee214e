// Scenario 4, TLS handshakes: requests on new connections (a full handshake, with a private-key operation) against
// requests on a kept-alive connection (resumed: no key operation), for a key used locally, Geo Key Manager remote
// signing and Keyless SSL. It needs the connection-aware key-locality handshake (issue 4): when the live simulation
// still performs the key operation on every request, the scenario says so instead of reporting a difference that is
// not there.
import { sized, type Ctx } from '../lib/context.ts'
import type { JobResult, SequentialResult } from '../lib/loadgen.ts'
import { modelled, routeOf, worldOf } from '../lib/model.ts'
import { benchScenario, defaultYaml, GKM_REMOTE_HOST } from '../lib/scenario-yaml.ts'
import type { SimInfo } from '../lib/servers.ts'
import { median, round, summarise } from '../lib/stats.ts'

export const NOT_AVAILABLE = 'not available: needs the key-locality handshake'

const CASES = [
  { mode: 'local key', client: 'FRA', host: 'eu-shop.example' },
  { mode: 'Geo Key Manager remote signing', client: 'LHR', host: GKM_REMOTE_HOST },
  { mode: 'keyless', client: 'SJC', host: 'us-bank.example' }
] as const

function hasKeyHop (serverTiming: string): boolean {
  return /(^|,\s*)(key|handshake)[;,]/.test(serverTiming) || /(^|,\s*)(key|handshake)$/.test(serverTiming)
}

export async function runHandshake (ctx: Ctx) {
  const q = ctx.settings.quick
  const trials = q ? 1 : Math.max(1, Math.round(sized(ctx.settings, 3, 1)))
  const count = Math.max(3, Math.round(sized(ctx.settings, 15, 4)))
  const bench = benchScenario(await defaultYaml())
  const world = worldOf(bench.scenario)
  ctx.progress('handshake', 'starting the simulation (latency on, time scale 1)')
  const info = await ctx.servers.call<SimInfo>('startSim', { yaml: bench.yaml, latency: true, timeScale: 1, tls: true })
  const samples = new Map<string, { fresh: number[], reused: number[], freshKey: number, reusedKey: number, reusedN: number, freshN: number, non2xx: number }>()
  for (let t = 0; t < trials; t++) {
    for (const c of CASES) {
      const acc = samples.get(c.mode) ?? { fresh: [], reused: [], freshKey: 0, reusedKey: 0, reusedN: 0, freshN: 0, non2xx: 0 }
      for (const fresh of [true, false]) {
        ctx.progress('handshake', `trial ${t + 1}/${trials} ${c.mode}: ${count} requests on ${fresh ? 'new connections' : 'one kept-alive connection'}`)
        const r = await ctx.loadgen.call<JobResult<SequentialResult>>('sequential', {
          url: info.edgeUrl, headers: { host: c.host, 'x-sim-client': c.client }, count, newConnections: fresh
        })
        const s = r.results
        // On one kept-alive connection the first request is the full handshake; the rest are resumed.
        const from = fresh ? 0 : 1
        const lat = [...s.samplesMs].slice(from)
        const keyed = s.serverTiming.slice(from).filter(hasKeyHop).length
        if (fresh) { acc.fresh.push(summarise(lat).p50); acc.freshKey += keyed; acc.freshN += lat.length } else { acc.reused.push(summarise(lat).p50); acc.reusedKey += keyed; acc.reusedN += lat.length }
        acc.non2xx += s.non2xx
      }
      samples.set(c.mode, acc)
    }
  }
  const tls = await realTls(ctx, info, world, bench.scenario.network.defaultClient, trials, count)
  const closeMs = await ctx.servers.call<number>('stopSim')

  const rows = CASES.map((c) => {
    const acc = samples.get(c.mode)
    const pNew = modelled(world, c.client, c.host, true)
    const pResumed = modelled(world, c.client, c.host, false)
    const keyHop = pNew.hops.find((h) => h.kind === 'key')
    const freshP50 = median(acc?.fresh ?? [])
    const reusedP50 = median(acc?.reused ?? [])
    return {
      mode: c.mode,
      client: c.client,
      host: c.host,
      route: routeOf(pNew),
      modelled: { newConnectionMs: pNew.modelledMs, resumedMs: pResumed.modelledMs, keyRoundTripMs: keyHop?.rttMs ?? 0 },
      measured: { newConnectionP50: round(freshP50, 2), resumedP50: round(reusedP50, 2), differenceP50: round(freshP50 - reusedP50, 2) },
      keyHopsInServerTiming: { newConnections: `${acc?.freshKey ?? 0}/${acc?.freshN ?? 0}`, resumed: `${acc?.reusedKey ?? 0}/${acc?.reusedN ?? 0}` },
      non2xx: acc?.non2xx ?? 0
    }
  })
  // Available when resumed requests skip the key operation that new connections pay: no key hop in their
  // Server-Timing, and a measured difference of at least half the modelled key round trip where there is one.
  const remote = rows.filter((r) => r.modelled.keyRoundTripMs > 0)
  const resumedSkipKey = rows.every((r) => r.keyHopsInServerTiming.resumed.startsWith('0/'))
  const differenceShows = remote.every((r) => r.measured.differenceP50 >= 0.5 * r.modelled.keyRoundTripMs)
  const available = resumedSkipKey && differenceShows
  const status = available ? 'measured' : NOT_AVAILABLE
  ctx.progress('handshake', available ? 'new and resumed connections measured' : `${NOT_AVAILABLE} (every request on a kept-alive connection still pays the key operation); the probe figures are kept`)
  return {
    scenario: 'handshake',
    status,
    available,
    settings: { trials, requestsPerRun: count, latency: 'on', timeScale: 1, newConnections: 'a new TCP connection per request (undici Client per request)', resumed: 'requests 2..n on one kept-alive connection' },
    simulationCloseMs: closeMs,
    rows,
    tls
  }
}

/** Real TLS through the TLS edge, from its default client (no PROXY header): one relayed customer, one not. */
const TLS_CASES = [
  { label: 'relayed to the region', host: 'eu-shop.example' },
  { label: 'terminated at the ingress', host: 'uk-news.example' }
] as const

const TLS_RUNS = [
  { run: 'new', what: 'a new connection per request: a full handshake, the key used', newConnections: true, resume: false },
  { run: 'resumed', what: 'a new connection per request resuming the session before it (a ticket): no key operation', newConnections: false, resume: true },
  { run: 'established', what: 'requests on one kept-alive connection: no handshake', newConnections: false, resume: false }
] as const

/**
 * New, resumed and established TLS connections through the real TLS edge. The model: the planner's round trip for a
 * request with no key operation, plus, on a new or resumed connection, the TLS 1.3 handshake's one round trip over the
 * client's access hop and the relay (the edge's pipe carries both, handshake included). Local keys only: the edge
 * hands a connection to a PoP that may hold the key (node:tls cannot ask another PoP to sign).
 */
async function realTls (ctx: Ctx, info: SimInfo, world: ReturnType<typeof worldOf>, client: string, trials: number, count: number) {
  if (info.tls === undefined) return undefined
  const tlsInfo = info.tls
  const measured = new Map<string, { p50: number[], ops: string[] }>()
  for (let t = 0; t < trials; t++) {
    for (const c of TLS_CASES) {
      for (const r of TLS_RUNS) {
        ctx.progress('handshake', `trial ${t + 1}/${trials} real TLS, ${c.host} (${c.label}): ${count} requests, ${r.run}`)
        const res = await ctx.loadgen.call<JobResult<SequentialResult>>('sequential', {
          url: tlsInfo.url,
          headers: { host: c.host },
          count,
          newConnections: r.newConnections,
          tls: { ca: tlsInfo.ca, servername: c.host, resume: r.resume }
        })
        // On one client the first request is a full handshake; the rest are what the run measures.
        const from = r.newConnections ? 0 : 1
        const key = `${c.host} ${r.run}`
        const m = measured.get(key) ?? { p50: [], ops: [] }
        m.p50.push(summarise([...res.results.samplesMs].slice(from)).p50)
        m.ops.push(...res.results.handshakes.slice(from))
        measured.set(key, m)
      }
    }
  }
  const rows = TLS_CASES.map((c) => {
    const p = modelled(world, client, c.host, false)
    const access = p.hops.find((h) => h.kind === 'access')?.rttMs ?? 0
    const relay = p.hops.find((h) => h.kind === 'relay')?.rttMs ?? 0
    const runs = TLS_RUNS.map((r) => {
      const m = measured.get(`${c.host} ${r.run}`)
      const model = p.modelledMs + (r.run === 'established' ? 0 : access + relay)
      const p50 = median(m?.p50 ?? [])
      const ops = new Map<string, number>()
      for (const op of m?.ops ?? []) ops.set(op || '(none)', (ops.get(op || '(none)') ?? 0) + 1)
      return { run: r.run, modelledMs: round(model, 2), measuredP50: round(p50, 2), errorMs: round(p50 - model, 2), handshakeHeaders: Object.fromEntries(ops) }
    })
    return { label: c.label, client, host: c.host, route: routeOf(p), handshakeRttMs: round(access + relay, 2), runs }
  })
  return { settings: { client: `${client} (the TLS edge's default client: no PROXY header)`, runs: TLS_RUNS.map((r) => `${r.run}: ${r.what}`) }, rows }
}

export type HandshakeResult = Awaited<ReturnType<typeof runHandshake>>
