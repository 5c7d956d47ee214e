// Scenario variants for the bench, derived from the embedded default: a twin of each regional customer with the same
// origin but no data localisation (the baseline a measurement is compared with), and a customer whose key policy is
// narrower than its processing region (Geo Key Manager remote signing).
import { readFile } from 'node:fs/promises'
import { parseDocument } from 'yaml'
import { defaultScenarioPath, parseScenario } from '../../src/config/load.ts'
import type { Scenario } from '../../src/config/schema.ts'
import type { PeerStartParams } from './servers.ts'

export const GKM_REMOTE_HOST = 'gkm-remote.example'

/** The twin host of a regional customer: `eu-shop.example` -> `eu-shop.baseline.example`. */
export function twinHost (host: string): string {
  const dot = host.indexOf('.')
  return dot === -1 ? `${host}.baseline` : `${host.slice(0, dot)}.baseline${host.slice(dot)}`
}

interface CustomerYaml {
  host: string
  region?: string | null
  keys?: unknown
  logRegion?: string | null
  failover?: string
  origin?: unknown
  inspection?: unknown
  [k: string]: unknown
}

export async function defaultYaml (): Promise<string> {
  return readFile(defaultScenarioPath, 'utf8')
}

/**
 * Adds, for every customer with a processing region, a twin with the same origin (place, size, service time) and
 * inspection header, but no region, keys everywhere and no log boundary; plus (unless `gkm` is false) the Geo Key
 * Manager remote-signing customer. Every service listens on an ephemeral port. Returns the YAML text (parsed again by
 * the servers process) and the parsed scenario; throws the configuration's own errors.
 */
export function benchScenario (yamlText: string, opts: { readonly gkm?: boolean, readonly file?: string } = {}): { yaml: string, scenario: Scenario, regional: string[] } {
  // The scenario as written first: its errors point at its own lines, not at the derived text's.
  parseScenario(yamlText, opts.file ?? 'bench-scenario.yaml')
  const js = parseDocument(yamlText).toJS() as { customers: CustomerYaml[], logging?: Record<string, unknown>, server?: Record<string, unknown> }
  const regional = js.customers.filter((c) => c.region !== undefined && c.region !== null)
  for (const c of regional) {
    const twin: CustomerYaml = { host: twinHost(c.host), keys: { mode: 'everywhere' } }
    if (c.origin !== undefined) twin.origin = c.origin
    if (c.inspection !== undefined) twin.inspection = c.inspection
    js.customers.push(twin)
  }
  // Processing anywhere in the EU, but the key only in Germany: an EU PoP outside Germany asks a German PoP to sign.
  if (opts.gkm !== false) js.customers.push({ host: GKM_REMOTE_HOST, region: 'eu', keys: { mode: 'geo', policy: '(country: DE)' }, origin: { pop: 'FRA' } })
  js.logging = { ...js.logging, level: 'error' }
  // A scenario's fixed PoP ports would collide with another run's, or with `npm start` (the servers process gives the
  // edge and the control plane ephemeral ports itself).
  js.server = { ...js.server, popBasePort: 0 }
  const text = JSON.stringify(js) // JSON is YAML: no second serialiser needed
  return { yaml: text, scenario: parseScenario(text, 'bench-scenario.yaml'), regional: regional.map((c) => c.host) }
}

/**
 * The start of the peers' process with their origin set up as `host`'s in the scenario (its response size, service
 * time and inspection header): both systems' chains end at the same origin app, configured alike.
 */
export function peerStartFor (scenario: Scenario, host: string): PeerStartParams {
  const customer = scenario.customers.find((c) => c.host === host)
  return {
    origin: {
      host,
      responseBytes: customer?.origin.responseBytes ?? 1024,
      serviceTimeMs: customer?.origin.serviceTimeMs ?? 1,
      ...(customer?.inspection?.header.name === undefined ? {} : { inspectionHeader: customer.inspection.header.name })
    }
  }
}
