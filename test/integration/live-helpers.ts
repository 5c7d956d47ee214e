// Shared set-up for the live simulation tests: a small world on loopback, a log capture through a pino destination
// stream, and requests through undici.
import { pino, type Logger } from 'pino'
import { request, type Client } from 'undici'
import { afterEach } from 'vitest'
import { loadScenario } from '../../src/config/load.ts'
import type { Scenario } from '../../src/config/schema.ts'
import { startSimulation, type StartOptions, type StartedSimulation } from '../../src/runtime/start.ts'

/** PoPs enough for every customer of the default scenario (origins, regions, key policies, log cores). */
export const SMALL_POPS = ['SYD', 'MEL', 'FRA', 'MUC', 'DUS', 'HAM', 'TXL', 'STR', 'CDG', 'AMS', 'LHR', 'MAN', 'IAD', 'SJC', 'LAX', 'BOM', 'DEL', 'SIN', 'NRT'] as const

export interface LogLine { readonly [k: string]: unknown, readonly msg?: string, readonly pop?: string }

export function captureLogger (): { logger: Logger, lines: LogLine[] } {
  const lines: LogLine[] = []
  const logger = pino({ level: 'info' }, { write (s: string) { lines.push(JSON.parse(s) as LogLine) } })
  return { logger, lines }
}

export type ScenarioPatch = {
  latency?: Partial<Scenario['latency']>
  server?: Partial<Scenario['server']>
  customers?: Scenario['customers']
  pops?: readonly string[]
}

export async function smallScenario (patch: ScenarioPatch = {}): Promise<Scenario> {
  const base = await loadScenario()
  return {
    ...base,
    latency: { ...base.latency, enabled: false, ...patch.latency },
    network: { ...base.network, pops: patch.pops ?? SMALL_POPS },
    customers: patch.customers ?? base.customers,
    server: { ...base.server, edgePort: 0, controlPort: 0, popBasePort: 0, ...patch.server }
  }
}

export async function startSmall (patch: ScenarioPatch = {}, options: StartOptions = {}): Promise<StartedSimulation & { lines: LogLine[] }> {
  const { logger, lines } = captureLogger()
  const rt = await startSimulation(await smallScenario(patch), { logger, controlApp: false, ...options })
  return Object.assign(rt, { lines })
}

/**
 * For a test file that starts one simulation per test: `start` starts it, `track` registers an undici client, and
 * after each test the clients close first, then the simulation.
 */
export function liveRuntimePerTest () {
  let rt: (StartedSimulation & { lines: LogLine[] }) | undefined
  const clients: Client[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await rt?.close()
    rt = undefined
  })
  return {
    async start (patch: ScenarioPatch = {}, options: StartOptions = {}): Promise<StartedSimulation & { lines: LogLine[] }> {
      rt = await startSmall(patch, options)
      return rt
    },
    track<C extends Client> (c: C): C {
      clients.push(c)
      return c
    }
  }
}

export interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly text: string
  readonly json: () => Record<string, unknown>
}

export async function get (url: string, headers: Record<string, string> | string[], opts: { method?: 'GET' | 'POST', body?: string } = {}): Promise<Answer> {
  const res = await request(url, { method: opts.method ?? 'GET', headers, ...(opts.body !== undefined ? { body: opts.body } : {}) })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> }
}

export function errorCode (a: Answer): string {
  return (a.json().error as { code: string }).code
}

/** Waits for a condition driven by the system under test (log batches are shipped asynchronously). */
export async function eventually<T> (probe: () => Promise<T | undefined>, tries = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('condition not reached')
}

/** eu-shop.example's twin with Geo Key Manager v2 negation: processed in the EU, but the key never at a French PoP. */
export const NO_FR = 'eu-nofr.example'

/** The default customers plus the `NO_FR` customer. */
export async function customersWithNoFrenchKeys (): Promise<Scenario['customers']> {
  const base = await loadScenario()
  const eu = base.customers.find((c) => c.host === 'eu-shop.example')
  if (eu === undefined) throw new Error('default scenario lacks eu-shop.example')
  return [...base.customers, { ...eu, host: NO_FR, keys: { mode: 'geo' as const, policy: '(region: EU) and (not country: FR)' } }]
}
