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
  const info = await ctx.servers.call<SimInfo>('startSim', { yaml: bench.yaml, latency: true, timeScale: 1 })
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
    rows
  }
}

export type HandshakeResult = Awaited<ReturnType<typeof runHandshake>>
