// Warm-up as a simulation starts, once its listeners are up and before it is announced. V8 compiles a function when it
// first runs and optimises it once it is hot, and undici instantiates its HTTP parser on first use, so the first
// requests of a fresh process run tens of milliseconds over their model: a teacher's first request on the map would
// show it. `warmUp` sends the scenario's customers a few requests through a small throwaway copy of the scenario (the
// PoPs those requests need, latency off, no control plane, its own TLS edge on an ephemeral port), then closes it. Only
// the compiled code is shared with the real simulation: the copy has its own ledger, log sinks, key material, audit
// log, metrics and logger (silent), all gone when it closes, and it never reaches an external origin (its origins are
// simulated).
import { pino } from 'pino'
import { Client } from 'undici'
import type { Scenario } from '../config/schema.ts'
import { plan } from '../core/planner.ts'
import type { ClientLocation, Plan, World } from '../core/types.ts'
import { buildWorld } from '../core/world.ts'
import type { StartedSimulation, StartOptions } from './start.ts'

/** Client cities of the warm-up requests: one per continent, so that most customers are both relayed and local. */
export const WARM_UP_CLIENTS = ['LHR', 'IAD', 'SIN', 'GRU', 'JNB', 'SYD', 'BOM'] as const

/** Rounds of requests over every (client, customer) pair: enough for V8 to optimise the data path's hot functions. */
export const WARM_UP_ROUNDS = 2

/** Customers warmed, at most: the code is shared by all, so a scenario with hundreds of them warms up on the first. */
export const WARM_UP_MAX_CUSTOMERS = 24

/** Where the copy listens: the given address, but loopback rather than every interface (`0.0.0.0`, `::`). */
export function warmUpHost (host: string | undefined): string | undefined {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '::1'
  return host
}

export interface WarmUpReport {
  readonly requests: number
  /** Answers that were not 2xx (refusals are part of the data path too; they are warmed as well). */
  readonly refused: number
  /** PoPs the throwaway copy ran. */
  readonly pops: number
  readonly ms: number
}

type Start = (scenario: Scenario, options: StartOptions) => Promise<StartedSimulation>

function clientAt (world: World, id: string): ClientLocation | undefined {
  const pop = world.topology.byId.get(id)
  return pop === undefined ? undefined : { lat: pop.lat, lon: pop.lon, country: pop.country, source: 'iata', input: id }
}

/** Every PoP a plan passes or names: ingress, inspection, hop ends, key signer, log sink, origin location. */
function popsOf (p: Plan, world: World, into: Set<string>): void {
  if (p.ingress !== undefined) into.add(p.ingress)
  if (p.outcome !== 'served') return
  into.add(p.inspection).add(p.logSink)
  for (const h of p.hops) for (const end of [h.from, h.to]) if (world.topology.byId.has(end)) into.add(end)
}

/**
 * The PoPs the warm-up needs: those of the full world's plans for every (client, customer) pair, the clients' own
 * PoPs, the log cores and each customer's keyless server and origin location. Undefined when the full world cannot
 * say (it is checked again, with its real error, by the simulation itself).
 */
export function warmUpPops (scenario: Scenario, clients: readonly string[] = WARM_UP_CLIENTS): string[] | undefined {
  let world: World
  try {
    world = buildWorld(scenario).world
  } catch {
    return undefined
  }
  const ids = new Set<string>(Object.values(world.logCores))
  for (const id of clients) {
    const client = clientAt(world, id)
    if (client === undefined) continue
    ids.add(id)
    for (const c of world.customers.values()) {
      for (const newConnection of [true, false]) popsOf(plan({ client, host: c.host, newConnection }, world), world, ids)
    }
  }
  for (const c of scenario.customers) {
    ids.add(c.origin.pop)
    if (c.keys.mode === 'keyless') ids.add(c.keys.server)
  }
  return [...ids].filter((id) => world.topology.byId.has(id)).sort()
}

/**
 * Runs the warm-up with `start` (the simulation's own start function, passed in to keep the modules acyclic). A
 * scenario whose smaller copy is inconsistent (a custom region that named a PoP left out) warms up on the whole
 * topology instead.
 */
export async function warmUp (scenario: Scenario, start: Start, listenHost?: string): Promise<WarmUpReport> {
  const t0 = performance.now()
  const host = warmUpHost(listenHost)
  const pops = warmUpPops(scenario)
  const copy = (list: readonly string[] | 'all'): Scenario => ({
    ...scenario,
    network: { ...scenario.network, pops: list },
    server: { ...scenario.server, popBasePort: 0 }
  }) as Scenario
  const options: StartOptions = {
    latency: false, edgePort: 0, tlsPort: 0, controlApp: false, logger: pino({ level: 'silent' }), ...(host === undefined ? {} : { host })
  }
  let sim: StartedSimulation
  try {
    sim = await start(copy(pops ?? 'all'), options)
  } catch (err) {
    // Without a smaller list the whole topology already failed: there is nothing else to try.
    if (pops === undefined) throw err
    sim = await start(copy('all'), options)
  }
  let requests = 0
  let refused = 0
  // One connection: each customer's first request on it makes a TLS handshake (a key operation), the rest resume.
  const client = new Client(sim.edgeUrl)
  try {
    const clients = WARM_UP_CLIENTS.filter((id) => sim.world.topology.byId.has(id))
    const customers = [...sim.world.customers.values()].slice(0, WARM_UP_MAX_CUSTOMERS)
    for (let round = 0; round < WARM_UP_ROUNDS; round++) {
      for (const from of clients) {
        for (const c of customers) {
          // A small body on every other request: the body-forwarding path is warmed too.
          const body = round % 2 === 1 ? 'warm-up' : undefined
          const res = await client.request({
            path: '/warm-up',
            method: body === undefined ? 'GET' : 'POST',
            headers: { host: c.host, 'x-sim-client': from, ...(body === undefined ? {} : { 'content-type': 'text/plain' }) },
            ...(body === undefined ? {} : { body })
          })
          await res.body.dump()
          requests++
          if (res.statusCode < 200 || res.statusCode > 299) refused++
        }
      }
    }
    // The real TLS edge: per customer, a new connection (a full handshake with its key operation), then a request on
    // it. The copy's CA verifies the chain, as curl --cacert does with the real run's.
    const tls = sim.tlsEdge
    const ca = sim.keys.material.ca.certPem
    for (const c of tls === undefined ? [] : customers) {
      const conn = new Client(`https://${tls!.host.includes(':') ? `[${tls!.host}]` : tls!.host}:${tls!.port}`, { connect: { ca, servername: c.host } })
      try {
        for (let k = 0; k < 2; k++) {
          requests++
          const res = await conn.request({ path: '/warm-up', method: 'GET', headers: { host: c.host } })
          await res.body.dump()
          if (res.statusCode < 200 || res.statusCode > 299) refused++
        }
      } catch {
        // A handshake the edge refuses (no PoP there may use the customer's key) is an answer too; it has been warmed.
        refused++
      } finally {
        await conn.close()
      }
    }
  } finally {
    await client.close()
    await sim.close()
  }
  return { requests, refused, pops: sim.popCount, ms: performance.now() - t0 }
}
