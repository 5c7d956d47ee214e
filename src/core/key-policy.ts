// Key locality: compiles a customer's key policy (everywhere, Geo Key Manager v1/v2, Keyless SSL) against a topology,
// and decides for a PoP terminating TLS how the private-key operation is done: locally, by the nearest authorised PoP,
// by the customer's key server, or not at all.
import keyRegions from '../../regions/key-regions.json' with { type: 'json' }
import { formatMessage } from './errors.ts'
import { formatPolicy, parsePolicy, POLICY_REGION_CODES } from './key-policy-parser.ts'
import type { PolicyAst, PolicyRegionCode, PolicySyntaxError } from './key-policy-parser.ts'
import type { CompiledKeyPolicy, Health, KeyPolicy, LatencyModel, LatLon, Pop, Topology } from './types.ts'

/** Geo Key Manager v1 `geo_restrictions` values. */
export const GEO_V1_POLICIES = ['us', 'eu', 'highest_security'] as const
export type GeoV1Policy = typeof GEO_V1_POLICIES[number]

export type KeyServer = LatLon & { readonly id: string }

export type KeyDecision =
  /** The PoP may hold the key and signs itself. */
  | { readonly op: 'local' }
  /** The PoP is outside the policy: `signer`, the nearest healthy authorised PoP, signs for it (one extra round trip). */
  | { readonly op: 'remote', readonly signer: Pop, readonly rttMs: number }
  /** Keyless SSL: the customer's key server signs. */
  | { readonly op: 'keyless', readonly server: KeyServer, readonly rttMs: number }
  | { readonly op: 'refused', readonly code: 'SIM_ERR_KEY_UNAVAILABLE' | 'SIM_ERR_KEY_REFUSED' }

/** What `keyDecision` reads of the world (a `World` fits). */
export interface KeyWorld {
  readonly topology: Topology
  readonly latency: LatencyModel
  readonly health: Health
}

export type KeyPolicyError =
  | PolicySyntaxError
  | { readonly code: 'SIM_ERR_POP_UNKNOWN' | 'SIM_ERR_INPUT_INVALID', readonly message: string, readonly input: string }

export type KeyPolicyCompileResult = CompiledKeyPolicy | { readonly error: KeyPolicyError }

export function isKeyPolicyError (r: KeyPolicyCompileResult): r is { readonly error: KeyPolicyError } {
  return 'error' in r
}

/** A policy string exactly equal to a v1 value is v1 (Geo Key Manager's `geo_restrictions`); anything else is v2. */
export function isGeoV1Policy (policy: string): policy is GeoV1Policy {
  return (GEO_V1_POLICIES as readonly string[]).includes(policy)
}

interface RegionMembers {
  readonly lbRegions: ReadonlySet<string>
  readonly countries: ReadonlySet<string>
}

// regions/key-regions.json maps each v2 region to load-balancer regions, except EU, which is the EU-27 by country:
// the LB regions WEU/EEU straddle the EU border (GB, CH, NO are WEU/EEU but not EU).
const REGION_MEMBERS = buildRegionMembers()

function buildRegionMembers (): Readonly<Record<PolicyRegionCode, RegionMembers>> {
  const data: Readonly<Record<string, { lbRegions: readonly string[], countries: readonly string[] } | undefined>> = keyRegions.regions
  const out: Partial<Record<PolicyRegionCode, RegionMembers>> = {}
  for (const code of POLICY_REGION_CODES) {
    const r = data[code]
    if (r === undefined) throw new Error(`regions/key-regions.json lacks region ${code}`)
    out[code] = { lbRegions: new Set(r.lbRegions), countries: new Set(r.countries) }
  }
  return out as Record<PolicyRegionCode, RegionMembers>
}

const REGION_NAMES: Readonly<Record<PolicyRegionCode, string>> = {
  AFR: 'Africa',
  APAC: 'Asia-Pacific',
  EEUR: 'Eastern Europe',
  ENAM: 'Eastern North America',
  EU: 'the European Union',
  ME: 'the Middle East',
  OC: 'Oceania',
  SAM: 'South America',
  WEUR: 'Western Europe',
  WNAM: 'Western North America'
}

/** Whether a v2 policy admits a PoP. */
export function evaluatePolicy (ast: PolicyAst, pop: Pop): boolean {
  switch (ast.type) {
    case 'region': {
      const m = REGION_MEMBERS[ast.code]
      return m.lbRegions.has(pop.lbRegion) || m.countries.has(pop.country)
    }
    case 'country': return pop.country === ast.code
    case 'not': return !evaluatePolicy(ast.expr, pop)
    case 'and': return evaluatePolicy(ast.left, pop) && evaluatePolicy(ast.right, pop)
    case 'or': return evaluatePolicy(ast.left, pop) || evaluatePolicy(ast.right, pop)
  }
}

function maskOf (topology: Topology, admits: (pop: Pop) => boolean): Uint8Array {
  const mask = new Uint8Array(topology.pops.length)
  for (const pop of topology.pops) if (admits(pop)) mask[pop.index] = 1
  return mask
}

function v1Admits (policy: GeoV1Policy): (pop: Pop) => boolean {
  switch (policy) {
    case 'us': return (pop) => pop.country === 'US'
    // v1 `eu` means data centres in EU member states, the same set as v2 `region: EU`.
    case 'eu': return (pop) => REGION_MEMBERS.EU.countries.has(pop.country)
    case 'highest_security': return (pop) => pop.highestSecurity
  }
}

const LAT_LON = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/

/** A keyless server location: a PoP IATA code (the server sits next to that PoP) or `lat,lon`. */
export function parseKeyServer (server: string, topology: Topology): KeyServer | { readonly error: KeyPolicyError } {
  const m = LAT_LON.exec(server)
  if (m !== null) {
    const lat = Number(m[1])
    const lon = Number(m[2])
    if (Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      return inputError(server, 'keys.server', `latitude must be within ±90 and longitude within ±180, got "${server}"`)
    }
    return { id: `${lat},${lon}`, lat, lon }
  }
  const pop = topology.byId.get(server.trim().toUpperCase())
  if (pop !== undefined) return { id: pop.id, lat: pop.lat, lon: pop.lon }
  if (/^\s*[A-Za-z]{3}\s*$/.test(server)) return popError(server)
  return inputError(server, 'keys.server', `"${server}" is neither a PoP IATA code nor "lat,lon"`)
}

function popError (input: string): { readonly error: KeyPolicyError } {
  return { error: { code: 'SIM_ERR_POP_UNKNOWN', message: formatMessage('SIM_ERR_POP_UNKNOWN', [input]), input } }
}

function inputError (input: string, at: string, why: string): { readonly error: KeyPolicyError } {
  return { error: { code: 'SIM_ERR_INPUT_INVALID', message: formatMessage('SIM_ERR_INPUT_INVALID', [at, why]), input } }
}

/** Compiles a key policy against a topology. Bad policies are returned as `{ error }`, never thrown. */
export function compileKeyPolicy (policy: KeyPolicy, topology: Topology): KeyPolicyCompileResult {
  const n = topology.pops.length
  switch (policy.mode) {
    case 'everywhere':
      return { source: policy, allowed: new Uint8Array(n).fill(1) }
    case 'geo': {
      if (isGeoV1Policy(policy.policy)) return { source: policy, allowed: maskOf(topology, v1Admits(policy.policy)) }
      const parsed = parsePolicy(policy.policy)
      if (!parsed.ok) return { error: parsed.error }
      const ast = parsed.ast
      return { source: policy, allowed: maskOf(topology, (pop) => evaluatePolicy(ast, pop)) }
    }
    case 'keyless': {
      const server = parseKeyServer(policy.server, topology)
      if ('error' in server) return server
      let callers: Uint8Array
      if (policy.allow === undefined) {
        callers = new Uint8Array(n).fill(1)
      } else {
        callers = new Uint8Array(n)
        for (const id of policy.allow) {
          const pop = topology.byId.get(id.trim().toUpperCase())
          if (pop === undefined) return popError(id)
          callers[pop.index] = 1
        }
      }
      // Keyless SSL: the private key never leaves the customer's key server, so no PoP holds it.
      return { source: policy, allowed: new Uint8Array(n), keyServer: server, callers }
    }
  }
}

interface SignerIndex {
  readonly latency: LatencyModel
  /** Per requesting PoP, lazily: authorised signers sorted by round trip from it, nearest first. */
  readonly byPop: (Uint32Array | undefined)[]
  /** Keyless: per PoP, lazily, the round trip to the key server (NaN until computed). */
  readonly keylessRtt: Float64Array
}

// Decisions run in the planner's hot path; the per-PoP signer order depends only on the compiled policy and the
// latency model, so it is computed once per pair and kept as long as the compiled policy lives.
const signerCache = new WeakMap<CompiledKeyPolicy, SignerIndex>()

function indexFor (keys: CompiledKeyPolicy, latency: LatencyModel, n: number): SignerIndex {
  let idx = signerCache.get(keys)
  if (idx === undefined || idx.latency !== latency) {
    idx = { latency, byPop: new Array<Uint32Array | undefined>(n), keylessRtt: new Float64Array(n).fill(Number.NaN) }
    signerCache.set(keys, idx)
  }
  return idx
}

function signerOrder (keys: CompiledKeyPolicy, topology: Topology, latency: LatencyModel, from: Pop): Uint32Array {
  const pops = topology.pops
  const signers: number[] = []
  for (const pop of pops) {
    if (keys.allowed[pop.index] !== 1) continue
    // The China network is a separate partner network used only by customers who opt in: a global PoP never sends
    // key operations into it.
    if (pop.network === 'china' && from.network !== 'china') continue
    signers.push(pop.index)
  }
  const rtt = new Float64Array(pops.length)
  for (const s of signers) rtt[s] = latency.popRttMs(from.index, s)
  signers.sort((a, b) => (rtt[a] as number) - (rtt[b] as number) || a - b)
  return Uint32Array.from(signers)
}

const LOCAL: KeyDecision = Object.freeze({ op: 'local' })
const UNAVAILABLE: KeyDecision = Object.freeze({ op: 'refused', code: 'SIM_ERR_KEY_UNAVAILABLE' })
const REFUSED: KeyDecision = Object.freeze({ op: 'refused', code: 'SIM_ERR_KEY_REFUSED' })

/**
 * How the PoP at `popIndex` gets its TLS private-key operation done. `down` adds PoPs to treat as down on top of
 * `world.health.down`. Geo Key Manager: a PoP without the key asks one in an authorised region
 * (developers.cloudflare.com/ssl/edge-certificates/geokey-manager/); Keyless SSL: the customer's key server signs
 * (developers.cloudflare.com/ssl/keyless-ssl/).
 */
export function keyDecision (popIndex: number, keys: CompiledKeyPolicy, world: KeyWorld, down?: Uint8Array): KeyDecision {
  const pops = world.topology.pops
  const pop = pops[popIndex]
  if (pop === undefined) throw new RangeError(`no PoP at index ${popIndex}`)
  const server = keys.keyServer
  if (server !== undefined) {
    if (keys.callers !== undefined && keys.callers[popIndex] !== 1) return REFUSED
    const idx = indexFor(keys, world.latency, pops.length)
    let rttMs = idx.keylessRtt[popIndex] as number
    if (Number.isNaN(rttMs)) {
      rttMs = world.latency.rttMs(pop, server)
      idx.keylessRtt[popIndex] = rttMs
    }
    return { op: 'keyless', server, rttMs }
  }
  if (keys.allowed[popIndex] === 1) return LOCAL
  const idx = indexFor(keys, world.latency, pops.length)
  let order = idx.byPop[popIndex]
  if (order === undefined) {
    order = signerOrder(keys, world.topology, world.latency, pop)
    idx.byPop[popIndex] = order
  }
  const healthDown = world.health.down
  for (let i = 0; i < order.length; i++) {
    const s = order[i] as number
    if (healthDown[s] === 1 || (down !== undefined && down[s] === 1)) continue
    return { op: 'remote', signer: pops[s] as Pop, rttMs: world.latency.popRttMs(popIndex, s) }
  }
  return UNAVAILABLE
}

function describeAst (ast: PolicyAst, parentPrecedence = 0): string {
  let text: string
  let precedence: number
  switch (ast.type) {
    case 'region':
      return REGION_NAMES[ast.code]
    case 'country':
      return `country ${ast.code}`
    case 'not':
      return `not ${describeAst(ast.expr, 3)}`
    case 'and':
      precedence = 2
      text = `${describeAst(ast.left, 2)} and ${describeAst(ast.right, 3)}`
      break
    case 'or':
      precedence = 1
      text = `${describeAst(ast.left, 1)} or ${describeAst(ast.right, 2)}`
      break
  }
  return precedence < parentPrecedence ? `(${text})` : text
}

function count (mask: Uint8Array): number {
  let c = 0
  for (let i = 0; i < mask.length; i++) c += mask[i] as number
  return c
}

/** One line for humans (CLI, control plane). With `compiled`, says how many PoPs the policy admits. */
export function describeKeyPolicy (policy: KeyPolicy, compiled?: CompiledKeyPolicy): string {
  const of = (mask: Uint8Array): string => ` (${count(mask)} of ${mask.length} PoPs)`
  switch (policy.mode) {
    case 'everywhere':
      return `key held at every PoP${compiled ? of(compiled.allowed) : ''}`
    case 'geo': {
      const tail = compiled ? of(compiled.allowed) : ''
      const p = policy.policy
      if (p === 'us') return `Geo Key Manager v1 "us": key held only at PoPs in the United States${tail}`
      if (p === 'eu') return `Geo Key Manager v1 "eu": key held only at PoPs in the European Union${tail}`
      if (p === 'highest_security') {
        return `Geo Key Manager v1 "highest_security": key held only at PoPs with the highest security standards${tail}`
      }
      const parsed = parsePolicy(p)
      if (!parsed.ok) return `Geo Key Manager v2 "${p}": invalid, ${parsed.error.message}`
      return `Geo Key Manager v2 "${formatPolicy(parsed.ast)}": key held only at PoPs in ${describeAst(parsed.ast)}${tail}`
    }
    case 'keyless': {
      const who = policy.allow === undefined
        ? 'any PoP may ask it to sign'
        : `only ${policy.allow.map((id) => id.toUpperCase()).join(', ')} may ask it to sign`
      return `Keyless SSL: key never leaves the customer's key server at ${policy.server}; no PoP holds it; ${who}`
    }
  }
}
