// The PoP topology: the embedded PoP list (regions/pops.json), indexed for dense per-PoP arrays.
import popData from '../../regions/pops.json' with { type: 'json' }
import type { Pop, Topology } from './types.ts'

interface RawPop {
  id: string
  city: string
  country: string
  continent: string
  lbRegion: string
  lat: number
  lon: number
  usState?: string
  highestSecurity?: boolean
  network?: string
}

/** Builds a topology from raw PoP records; `only` keeps a subset (ids), in data order. */
export function createTopology (raw: readonly RawPop[], only?: readonly string[]): Topology {
  const keep = only ? new Set(only) : undefined
  const pops: Pop[] = []
  for (const r of raw) {
    if (keep && !keep.has(r.id)) continue
    const pop: Pop = {
      id: r.id,
      index: pops.length,
      city: r.city,
      country: r.country,
      continent: r.continent,
      lbRegion: r.lbRegion,
      lat: r.lat,
      lon: r.lon,
      highestSecurity: r.highestSecurity === true,
      network: r.network === 'china' ? 'china' : 'global',
      ...(r.usState ? { usState: r.usState } : {})
    }
    pops.push(Object.freeze(pop))
  }
  return Object.freeze({ pops: Object.freeze(pops), byId: new Map(pops.map((p) => [p.id, p])) })
}

let embedded: Topology | undefined

/** The embedded topology: all PoPs of regions/pops.json. Built once. */
export function loadTopology (): Topology {
  embedded ??= createTopology(popData.pops as RawPop[])
  return embedded
}
