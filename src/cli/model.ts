// Loads a scenario and builds the model for the what-if commands (no sockets).
import { loadScenario } from '../config/load.ts'
import type { Scenario } from '../config/schema.ts'
import { buildWorld } from '../core/world.ts'
import { createGeoIpLocator } from '../net/geoip-locator.ts'
import type { World } from '../core/types.ts'

export interface Model {
  readonly scenario: Scenario
  readonly world: World
  readonly notes: readonly string[]
}

export async function loadModel (configPath?: string): Promise<Model> {
  const scenario = await loadScenario(configPath, { ipLocator: createGeoIpLocator() })
  const { world, notes } = buildWorld(scenario)
  return { scenario, world, notes }
}
