// Builds the World the planner reads from a scenario (validated configuration), and checks that the scenario's
// policies can be honoured at all: a region and key policy with no PoP in common is an error, softer mismatches are notes.
import { createAnycastIndex } from './anycast.ts'
import { SimError } from './errors.ts'
import { compileKeyPolicy } from './key-policy.ts'
import { createLatencyModel } from './latency.ts'
import { resolveRegions } from './regions.ts'
import { STRATEGIES } from './strategies.ts'
import popData from '../../regions/pops.json' with { type: 'json' }
import keyRegionData from '../../regions/key-regions.json' with { type: 'json' }
import { createTopology } from './topology.ts'
import type {
  Customer, KeyPolicy, LatencyParams, LogRegion, Pop, Region, RegionDefinition, StrategyName, Topology, World
} from './types.ts'

type Opt<T> = T | undefined

export interface CustomerSpec {
  readonly host: string
  readonly region?: Opt<string | null>
  readonly keys?: Opt<KeyPolicy>
  readonly logRegion?: Opt<LogRegion | null>
  readonly failover?: Opt<'closed' | 'open'>
  readonly strategy?: Opt<StrategyName>
  readonly chinaNetwork?: Opt<boolean>
  readonly origin: { readonly pop: string, readonly responseBytes?: Opt<number>, readonly serviceTimeMs?: Opt<number> }
  readonly inspection?: Opt<{ readonly header?: Opt<{ readonly name: string, readonly value: string }> }>
}

export interface CustomRegionSpec {
  readonly id: string
  readonly name?: Opt<string>
  readonly countries?: Opt<readonly string[]>
  readonly usStates?: Opt<readonly string[]>
  readonly excludeCountries?: Opt<readonly string[]>
  readonly pops?: Opt<readonly string[]>
  readonly excludePops?: Opt<readonly string[]>
}

/** The parts of a scenario the model needs (the configuration's Scenario type satisfies it). */
export interface WorldSpec {
  readonly latency?: Opt<Partial<LatencyParams>>
  readonly network?: Opt<{
    readonly pops?: Opt<'all' | readonly string[]>
    readonly strategy?: Opt<StrategyName>
    readonly logCores?: Opt<{ readonly eu?: Opt<string>, readonly us?: Opt<string> }>
  }>
  readonly regions?: Opt<readonly CustomRegionSpec[]>
  readonly customers: readonly CustomerSpec[]
}

export const DEFAULT_LATENCY: LatencyParams = Object.freeze({ accessMs: 5, hopProcessingMs: 0.25, jitter: 0 })
const EU27 = new Set<string>(keyRegionData.regions.EU.countries)

export interface BuiltWorld {
  readonly world: World
  /** Mismatches worth knowing that do not stop the scenario (UK processing with EU logs...). */
  readonly notes: readonly string[]
}

export function logRegionOfCountry (country: string): LogRegion | undefined {
  if (EU27.has(country)) return 'eu'
  if (country === 'US') return 'us'
  return undefined
}

function compileCustomer (spec: CustomerSpec, topology: Topology, regions: ReadonlyMap<string, Region>, defaultStrategy: StrategyName, errors: string[]): Customer | undefined {
  const where = `customer ${spec.host}`
  const originPop = topology.byId.get(spec.origin.pop)
  if (!originPop) { errors.push(`${where}: origin PoP ${spec.origin.pop} is not in the topology`); return undefined }
  let region: Region | null = null
  if (spec.region) {
    const r = regions.get(spec.region)
    if (!r) { errors.push(`${where}: unknown region ${spec.region}`); return undefined }
    region = r
  }
  const compiled = compileKeyPolicy(spec.keys ?? { mode: 'everywhere' }, topology)
  if ('error' in compiled) { errors.push(`${where}: key policy: ${compiled.error.code}: ${compiled.error.message}`); return undefined }
  const header = spec.inspection?.header
  return Object.freeze({
    host: spec.host.toLowerCase(),
    origin: Object.freeze({ pop: originPop.id, lat: originPop.lat, lon: originPop.lon, responseBytes: spec.origin.responseBytes ?? 1024, serviceTimeMs: spec.origin.serviceTimeMs ?? 1 }),
    region,
    keys: compiled,
    logRegion: spec.logRegion ?? null,
    failover: spec.failover ?? 'closed',
    strategy: spec.strategy ?? defaultStrategy,
    chinaNetwork: spec.chinaNetwork ?? false,
    ...(header ? { inspectionHeader: Object.freeze({ name: header.name, value: header.value }) } : {})
  })
}

/** Errors (the scenario cannot be honoured) and notes (it can, with a caveat worth knowing) for one customer. */
function checkCustomer (c: Customer, world: World, errors: string[], notes: string[]): void {
  const where = `customer ${c.host}`
  const region = c.region
  const keys = c.keys
  // With or without a region: a key no PoP of the scenario may hold refuses every plan (SIM_ERR_KEY_UNAVAILABLE).
  if (keys.source.mode === 'geo' && !keys.allowed.includes(1)) {
    errors.push(`${where}: key policy "${keys.source.policy}" allows no PoP of this scenario, so TLS could never be terminated`)
    return
  }
  if (region) {
    if (region.popIds.length === 0) errors.push(`${where}: region ${region.id} has no PoP in this topology`)
    if (keys.source.mode === 'geo') {
      const shared = region.popIds.some((id) => keys.allowed[(world.topology.byId.get(id) as Pop).index] === 1)
      if (!shared) errors.push(`${where}: processing region ${region.id} and key policy "${keys.source.policy}" share no PoP, so TLS could never be terminated with the key in the region`)
    }
    if (keys.source.mode === 'keyless' && keys.callers) {
      const callers = keys.callers
      const shared = region.popIds.some((id) => callers[(world.topology.byId.get(id) as Pop).index] === 1)
      if (!shared) errors.push(`${where}: no PoP of region ${region.id} is on the key server's allow-list`)
    }
    const countries = new Set(region.popIds.map((id) => (world.topology.byId.get(id) as Pop).country))
    const logRegion = c.logRegion ?? 'us'
    const outside = [...countries].filter((cc) => logRegionOfCountry(cc) !== logRegion)
    if (outside.length > 0) {
      notes.push(`${where}: processed in ${region.id} (${outside.slice(0, 5).join(', ')}${outside.length > 5 ? '...' : ''}) but logs are stored in ${c.logRegion ?? 'the global core (us)'}`)
    }
    if (c.failover === 'open') notes.push(`${where}: failover open: with no healthy PoP in ${region.id}, requests are processed outside it and recorded as violations`)
  }
}

/** Builds the world; throws SIM_ERR_CONFIG_INCONSISTENT listing every problem when the scenario cannot be honoured. */
export function buildWorld (spec: WorldSpec): BuiltWorld {
  const errors: string[] = []
  const notes: string[] = []
  const popList = spec.network?.pops
  const topology = createTopology(popData.pops, popList === undefined || popList === 'all' ? undefined : popList)
  if (Array.isArray(popList)) {
    for (const id of popList) if (!topology.byId.has(id)) errors.push(`network.pops: unknown PoP ${id}`)
  }
  const custom: RegionDefinition[] = (spec.regions ?? []).map((r) => ({
    id: r.id,
    name: r.name ?? r.id,
    kind: 'custom',
    ...(r.countries ? { countries: r.countries } : {}),
    ...(r.usStates ? { usStates: r.usStates } : {}),
    ...(r.excludeCountries ? { excludeCountries: r.excludeCountries } : {}),
    ...(r.pops ? { pops: r.pops } : {}),
    ...(r.excludePops ? { excludePops: r.excludePops } : {})
  }))
  const regions = resolveRegions(topology, custom)
  const latency = createLatencyModel(topology, { ...DEFAULT_LATENCY, ...stripUndefined(spec.latency ?? {}) })
  const cores = { eu: spec.network?.logCores?.eu ?? 'FRA', us: spec.network?.logCores?.us ?? 'IAD' }
  for (const r of ['eu', 'us'] as const) {
    const pop = topology.byId.get(cores[r])
    if (!pop) errors.push(`network.logCores.${r}: PoP ${cores[r]} is not in the topology`)
    else if (logRegionOfCountry(pop.country) !== r) errors.push(`network.logCores.${r}: ${pop.id} (${pop.country}) is outside log region ${r}`)
  }
  const strategy = spec.network?.strategy ?? 'nearest'
  const customers = new Map<string, Customer>()
  for (const cs of spec.customers) {
    const c = compileCustomer(cs, topology, regions, strategy, errors)
    if (!c) continue
    if (customers.has(c.host)) errors.push(`customer ${c.host}: duplicate host`)
    customers.set(c.host, c)
  }
  const world: World = {
    topology,
    regions,
    customers,
    latency,
    health: { down: new Uint8Array(topology.pops.length), load: new Float64Array(topology.pops.length) },
    strategies: STRATEGIES,
    logCores: Object.freeze(cores),
    anycast: createAnycastIndex(topology),
    logRegionOf: (pop: Pop) => logRegionOfCountry(pop.country)
  }
  if (errors.length === 0) for (const c of customers.values()) checkCustomer(c, world, errors, notes)
  if (errors.length > 0) throw new SimError('SIM_ERR_CONFIG_INCONSISTENT', [errors.map((e) => `  - ${e}`).join('\n')], errors)
  return { world, notes }
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
