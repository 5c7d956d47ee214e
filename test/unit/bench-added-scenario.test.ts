// The added-latency scenario's set-up for a scenario of the user's (bench/run.ts --config): checked whole before any
// load, with clients located even where the scenario leaves their city's PoP out.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { addedScenario, CITIES, clientOf } from '../../bench/scenarios/added.ts'
import { twinHost } from '../../bench/lib/scenario-yaml.ts'
import { loadTopology } from '../../src/core/topology.ts'

const SMALL = `
network:
  pops: [LHR, CDG, FRA, MUC, ZRH, IAD]
  logCores: { eu: FRA, us: IAD }
server: { popBasePort: 9000 }
customers:
  - host: alpen.example
    region: de
    origin: { pop: ZRH }
  - host: open.example
    origin: { pop: IAD }
`

describe('addedScenario', () => {
  it('takes the regional customers of a scenario, with twins, and locates every client city in it', () => {
    const { bench, world } = addedScenario(SMALL, 'small.yaml')
    expect(bench.regional).toEqual(['alpen.example'])
    expect(world.customers.get(twinHost('alpen.example'))?.region).toBeNull()
    // No Geo Key Manager customer of the default's handshake scenario: it needs PoPs this scenario may not have.
    expect(world.customers.has('gkm-remote.example')).toBe(false)
    // Its own fixed PoP ports are replaced by ephemeral ones: a run must not collide with npm start.
    expect(bench.scenario.server.popBasePort).toBe(0)
    const syd = loadTopology().byId.get('SYD')!
    expect(clientOf('SYD', world)).toBe(`${syd.lat},${syd.lon}`)
    expect(clientOf('FRA', world)).toBe('FRA')
    expect(CITIES.map((c) => clientOf(c.code, world)).filter((c) => !c.includes(','))).toEqual(['LHR', 'FRA'])
  })

  it('refuses, naming the file, a scenario with no data localisation to measure and one that does not load', () => {
    const noRegion = 'customers:\n  - host: open.example\n    origin: { pop: IAD }\n'
    expect(() => addedScenario(noRegion, 'flat.yaml')).toThrow('invalid input at --config: flat.yaml has no customer with a processing region')
    expect(() => addedScenario('customers: [1', 'broken.yaml')).toThrow(/^invalid input at --config: invalid configuration:\n {2}broken\.yaml:\d+:\d+/)
    // A region none of whose PoPs the scenario runs: its own configuration error, under the file's name.
    expect(() => addedScenario(SMALL.replace('region: de', 'region: jp'), 'nowhere.yaml')).toThrow(/^invalid input at --config: nowhere\.yaml: inconsistent configuration:\n/)
  })

  it('runs the embedded default as before: its regional customers, every city by its IATA code', () => {
    const { bench, world } = addedScenario(readFileSync(new URL('../../config/default.yaml', import.meta.url), 'utf8'))
    expect(bench.regional.length).toBeGreaterThan(0)
    for (const c of CITIES) expect(clientOf(c.code, world)).toBe(c.code)
  })
})
