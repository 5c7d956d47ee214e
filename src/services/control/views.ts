// JSON views of the model for the control API: plain objects without the dense Uint8Array masks the planner uses,
// which would otherwise serialise as {"0":1,"1":0,...}.
import type { Customer, Pop, Region, World } from '../../core/types.ts'

export interface PopView {
  readonly id: string
  readonly city: string
  readonly country: string
  readonly usState?: string
  readonly continent: string
  readonly lbRegion: string
  readonly lat: number
  readonly lon: number
  readonly highestSecurity: boolean
  readonly network: 'global' | 'china'
  readonly down: boolean
  readonly load: number
}

export function popView (world: World, pop: Pop): PopView {
  return {
    id: pop.id,
    city: pop.city,
    country: pop.country,
    ...(pop.usState !== undefined ? { usState: pop.usState } : {}),
    continent: pop.continent,
    lbRegion: pop.lbRegion,
    lat: pop.lat,
    lon: pop.lon,
    highestSecurity: pop.highestSecurity,
    network: pop.network,
    down: world.health.down[pop.index] === 1,
    load: world.health.load[pop.index] ?? 0
  }
}

export function regionView (region: Region) {
  return {
    id: region.id,
    name: region.name,
    kind: region.kind,
    pops: region.popIds,
    ...(region.assumption !== undefined ? { assumption: region.assumption } : {})
  }
}

export function topologyView (world: World) {
  const pops = world.topology.pops.map((p) => popView(world, p))
  return {
    pops,
    down: pops.filter((p) => p.down).map((p) => p.id),
    regions: [...world.regions.values()].map(regionView),
    logCores: world.logCores
  }
}

function popIdsOf (world: World, mask: Uint8Array): string[] {
  const ids: string[] = []
  for (const pop of world.topology.pops) if (mask[pop.index] === 1) ids.push(pop.id)
  return ids
}

export function customerView (world: World, c: Customer) {
  const keyPops = c.keys.source.mode === 'everywhere' ? 'all' : popIdsOf(world, c.keys.allowed)
  return {
    host: c.host,
    region: c.region === null ? null : { id: c.region.id, name: c.region.name, pops: c.region.popIds },
    keys: {
      ...c.keys.source,
      // Where the private key may be held and used: every PoP, or this list.
      pops: keyPops,
      ...(c.keys.keyServer !== undefined ? { keyServer: c.keys.keyServer } : {})
    },
    logRegion: c.logRegion,
    logSink: c.logRegion === null ? world.logCores.us : world.logCores[c.logRegion],
    failover: c.failover,
    strategy: c.strategy,
    chinaNetwork: c.chinaNetwork,
    origin: c.origin
  }
}

export function customersView (world: World) {
  return { customers: [...world.customers.values()].map((c) => customerView(world, c)) }
}
