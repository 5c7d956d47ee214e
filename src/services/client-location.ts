// Where a simulated client is: `x-sim-client-ip: <ip>` (located with geoip-lite), `x-sim-client: <IATA|city|lat,lon|ip>`,
// else the scenario's default location. Both the edge and a PoP reached directly read it the same way.
import type { IncomingHttpHeaders } from 'node:http'
import { isIP } from 'node:net'
import { isClientLocationError, parseClientLocation } from '../core/client.ts'
import { SimError } from '../core/errors.ts'
import type { ClientLocation, IpLocator, Topology } from '../core/types.ts'

export const CLIENT_IP_HEADER = 'x-sim-client-ip'
export const CLIENT_HEADER = 'x-sim-client'

/** Distinct client locations a locator keeps parsed: load tests repeat a handful, and the memo stays bounded. */
const LOCATED_ENTRIES = 4096

export function createClientLocator (topology: Topology, ipLocator: IpLocator, defaultClient: string) {
  let fallback: ClientLocation | undefined
  // Locations by their header text (read-only once made; the same text always locates the same way). Refusals are
  // not kept: they throw, and are rare.
  const located = new Map<string, ClientLocation>()
  function parse (input: string): ClientLocation {
    const known = located.get(input)
    if (known !== undefined) return known
    const r = parseClientLocation(input, topology, ipLocator)
    if (isClientLocationError(r)) throw new SimError(r.error, r.args)
    if (located.size >= LOCATED_ENTRIES) located.clear()
    located.set(input, r)
    return r
  }
  /**
   * `rawHeaders`, when given, is the request's own field list: Node joins a repeated field's values with ", ", and two
   * x-sim-client fields ("10" and "20") would read as one "lat, lon". They are counted only for a value with a comma.
   */
  return function locateClient (headers: IncomingHttpHeaders, rawHeaders?: readonly string[]): ClientLocation {
    // x-sim-client-ip wins when both are sent (as a real edge trusts the address over anything a client says).
    const ip = headers[CLIENT_IP_HEADER]
    if (typeof ip === 'string') {
      // Node joins a repeated header with ", ": no address has a comma.
      if (ip.includes(',')) throw new SimError('SIM_ERR_BAD_REQUEST', [`${CLIENT_IP_HEADER} must be one address, not a list ("${ip.slice(0, 100)}")`])
      // An address and nothing else: a PoP code or "lat,lon" belongs in x-sim-client.
      if (isIP(ip.trim()) === 0) throw new SimError('SIM_ERR_CLIENT_IP_INVALID', [ip.slice(0, 100)])
      return parse(ip)
    }
    const where = headers[CLIENT_HEADER]
    if (typeof where === 'string') {
      const n = rawHeaders === undefined || !where.includes(',') ? 1 : fieldCount(rawHeaders, CLIENT_HEADER)
      if (n > 1) throw new SimError('SIM_ERR_BAD_REQUEST', [`${CLIENT_HEADER} must be sent once, not ${n} times ("${where.slice(0, 100)}")`])
      return parse(where)
    }
    if (ip !== undefined || where !== undefined) throw new SimError('SIM_ERR_BAD_REQUEST', ['the client location header appears more than once'])
    fallback ??= parse(defaultClient)
    return fallback
  }
}

/** How many fields named `name` (lowercase) a request's raw header list holds. */
export function fieldCount (rawHeaders: readonly string[], name: string): number {
  let n = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i] as string
    if (field.length === name.length && field.toLowerCase() === name) n++
  }
  return n
}
