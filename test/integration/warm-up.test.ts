// The warm-up before a simulation starts: it runs through a throwaway copy of the scenario, and nothing of it reaches
// the simulation that follows (no ledger event, no shipped log record, no key audit entry, nothing left listening).
import { connect } from 'node:net'
import { pino } from 'pino'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import type { Scenario } from '../../src/config/schema.ts'
import type { RequestRecord } from '../../src/services/records.ts'
import { startSimulation, type StartedSimulation, type StartOptions } from '../../src/runtime/start.ts'
import { WARM_UP_CLIENTS, WARM_UP_MAX_CUSTOMERS, WARM_UP_ROUNDS, warmUp, warmUpHost, warmUpPops } from '../../src/runtime/warm-up.ts'
import { smallScenario } from './live-helpers.ts'

const silent = pino({ level: 'silent' })

function refused (url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => { socket.destroy(); resolve(false) })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
  })
}

async function sinkRecords (rt: StartedSimulation): Promise<number> {
  let n = 0
  for (const url of rt.logSinkUrls.values()) {
    const res = await request(`${url}/logs`)
    n += ((await res.body.json()) as { records: unknown[] }).records.length
  }
  return n
}

describe('warm-up', () => {
  it('needs only the PoPs of its requests: the clients, their plans, the log cores, origins and key servers', async () => {
    const scenario = await smallScenario()
    const pops = warmUpPops(scenario) ?? []
    for (const id of ['FRA', 'IAD', 'LHR', 'SIN', 'SYD', 'BOM']) expect(pops).toContain(id)
    for (const c of scenario.customers) expect(pops).toContain(c.origin.pop)
    expect(pops).toEqual([...pops].sort())
    // The default scenario's 340 PoPs come down to a few dozen.
    const full = warmUpPops({ ...scenario, network: { ...scenario.network, pops: 'all' } } as Scenario) ?? []
    expect(full.length).toBeGreaterThan(10)
    expect(full.length).toBeLessThan(80)
  })

  it('runs its requests through a copy with latency off and no control plane, then closes it', async () => {
    const scenario = await smallScenario({ latency: { enabled: true } })
    let copy: { scenario: Scenario, options: StartOptions, sim: StartedSimulation } | undefined
    const report = await warmUp(scenario, async (s, options) => {
      const sim = await startSimulation(s, options)
      copy = { scenario: s, options, sim }
      return sim
    })
    expect(copy).toBeDefined()
    const { options, sim } = copy!
    expect(options).toMatchObject({ latency: false, edgePort: 0, tlsPort: 0, controlApp: false })
    expect(options.warmUp).toBeUndefined()
    expect(options.externalOrigins).toBeUndefined()
    expect(copy!.scenario.network.pops).toEqual(warmUpPops(scenario))
    const clients = WARM_UP_CLIENTS.filter((id) => sim.world.topology.byId.has(id))
    // Over HTTP from every client city; over the TLS edge, two per customer on one connection, or one when the edge
    // refuses the handshake: the keyless bank's key never leaves its key server, so no PoP may terminate its TLS.
    const http = WARM_UP_ROUNDS * clients.length * scenario.customers.length
    expect(report.requests).toBe(http + 2 * scenario.customers.length - 1)
    expect(report.refused).toBeGreaterThanOrEqual(1)
    expect(report.refused).toBeLessThan(report.requests / 2)
    expect(report.pops).toBe(sim.popCount)
    // Closed: its edge and its PoPs no longer listen.
    expect(await refused(sim.edgeUrl)).toBe(true)
    expect(await refused(`http://127.0.0.1:${sim.tlsEdge?.port ?? 1}`)).toBe(true)
    expect(await refused(sim.popUrl('FRA') ?? 'http://127.0.0.1:1')).toBe(true)
  })

  it('falls back to the whole topology when the smaller copy does not start', async () => {
    const scenario = await smallScenario()
    const tried: Array<Scenario['network']['pops']> = []
    const report = await warmUp(scenario, async (s, options) => {
      tried.push(s.network.pops)
      if (tried.length === 1) throw new Error('inconsistent copy')
      return startSimulation(s, options)
    })
    expect(tried).toHaveLength(2)
    expect(tried[1]).toBe('all')
    expect(report.requests).toBeGreaterThan(0)
  })

  it('leaves nothing in the simulation it precedes: its first request is its first record', async () => {
    const scenario = await smallScenario()
    const cold = await startSimulation(scenario, { controlApp: false, logger: silent })
    const auditAtStart = cold.keys.audit.size
    await cold.close()

    const rt = await startSimulation(scenario, { controlApp: false, logger: silent, warmUp: true })
    try {
      expect(rt.warmUp?.requests).toBeGreaterThan(0)
      // The key distribution at start-up is the same as without a warm-up; no handshake has been audited yet.
      expect(rt.keys.audit.size).toBe(auditAtStart)
      expect(await sinkRecords(rt)).toBe(0)
      const events: RequestRecord[] = []
      rt.events.on('request', (e) => events.push(e))
      const res = await request(`${rt.edgeUrl}/`, { headers: { host: 'eu-shop.example', 'x-sim-client': 'LHR' } })
      await res.body.dump()
      expect(res.statusCode).toBe(200)
      await expect.poll(() => events.length).toBe(1)
      expect(events[0]?.ray).toBe(res.headers['x-sim-ray'])
      await expect.poll(() => sinkRecords(rt)).toBe(1)
    } finally {
      await rt.close()
    }
  })

  it('listens on loopback when the simulation listens on every interface', () => {
    expect(warmUpHost('0.0.0.0')).toBe('127.0.0.1')
    expect(warmUpHost('::')).toBe('::1')
    expect(warmUpHost('127.0.0.1')).toBe('127.0.0.1')
    expect(warmUpHost(undefined)).toBeUndefined()
  })

  it('warms at most a fixed number of customers: the code they run is shared', async () => {
    const many = Array.from({ length: WARM_UP_MAX_CUSTOMERS + 6 }, (_, i) => ({ host: `c${i}.example`, keys: { mode: 'everywhere' as const }, origin: { pop: 'FRA' } }))
    const scenario = await smallScenario({ customers: many as unknown as Scenario['customers'] })
    const hosts = new Set<string>()
    const report = await warmUp(scenario, async (s, options) => {
      const sim = await startSimulation(s, options)
      sim.events.on('request', (e) => hosts.add(e.host))
      return sim
    })
    expect(hosts.size).toBe(WARM_UP_MAX_CUSTOMERS)
    const clients = WARM_UP_CLIENTS.filter((id) => scenario.network.pops === 'all' || scenario.network.pops.includes(id))
    expect(report.requests).toBe((WARM_UP_ROUNDS * clients.length + 2) * WARM_UP_MAX_CUSTOMERS)
  })
})
