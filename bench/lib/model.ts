// Modelled values from the planner, for the same clients and hosts the live runs use: the number each measurement
// is compared with.
import type { Scenario } from '../../src/config/schema.ts'
import { parseClientLocation, isClientLocationError } from '../../src/core/client.ts'
import { plan } from '../../src/core/planner.ts'
import type { ServedPlan, World } from '../../src/core/types.ts'
import { buildWorld } from '../../src/core/world.ts'

// Clients are given as IATA codes only: no IP is ever located, so no geoip data is needed here.
const noIps = { lookup: () => undefined }

export function worldOf (scenario: Scenario): World {
  return buildWorld(scenario).world
}

export function modelled (world: World, client: string, host: string, newConnection = true): ServedPlan {
  const loc = parseClientLocation(client, world.topology, noIps)
  if (isClientLocationError(loc)) throw new Error(`bad client ${client}: ${loc.error}`)
  const p = plan({ client: loc, host, newConnection }, world)
  if (p.outcome !== 'served') throw new Error(`${host} from ${client} is refused by the planner: ${p.code}`)
  return p
}

export { routeOf } from '../../src/cli/commands/plan-format.ts'
