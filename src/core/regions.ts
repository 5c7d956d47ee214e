// Processing regions: the embedded catalogue (regions/regions.json) and custom definitions, resolved to PoP sets.
import regionData from '../../regions/regions.json' with { type: 'json' }
import type { Region, RegionDefinition, Topology } from './types.ts'

/** The 35 documented processing regions plus `highest-security`, as definitions. */
export const REGION_CATALOGUE: readonly RegionDefinition[] = Object.freeze(regionData.regions as RegionDefinition[])

/**
 * Resolves a definition to its member PoPs. Membership = PoPs of the listed countries, US states or explicit PoPs;
 * a definition that lists only exclusions starts from every PoP. Excluded countries and PoPs are then removed.
 * Mainland-China partner PoPs are members only when named explicitly (they serve opted-in customers only, and the
 * planner applies that opt-in separately).
 */
export function resolveRegion (def: RegionDefinition, topology: Topology): Region {
  const members = new Uint8Array(topology.pops.length)
  const countries = new Set(def.countries ?? [])
  const states = new Set(def.usStates ?? [])
  const explicit = new Set(def.pops ?? [])
  const exCountries = new Set(def.excludeCountries ?? [])
  const exPops = new Set(def.excludePops ?? [])
  const onlyExclusions = countries.size === 0 && states.size === 0 && explicit.size === 0
  const popIds: string[] = []
  for (const pop of topology.pops) {
    let inside = onlyExclusions ||
      countries.has(pop.country) ||
      (pop.country === 'US' && pop.usState !== undefined && states.has(pop.usState)) ||
      explicit.has(pop.id)
    if (exCountries.has(pop.country) || exPops.has(pop.id)) inside = false
    if (inside) {
      members[pop.index] = 1
      popIds.push(pop.id)
    }
  }
  return Object.freeze({
    id: def.id,
    name: def.name,
    kind: def.kind,
    popIds: Object.freeze(popIds),
    members,
    ...(def.assumption ? { assumption: def.assumption } : {})
  })
}

/** The catalogue plus `extra` definitions (which must not reuse a catalogue id), resolved against a topology. */
export function resolveRegions (topology: Topology, extra: readonly RegionDefinition[] = []): Map<string, Region> {
  const out = new Map<string, Region>()
  for (const def of [...REGION_CATALOGUE, ...extra]) out.set(def.id, resolveRegion(def, topology))
  return out
}
