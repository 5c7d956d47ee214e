// One contract suite run against every selection strategy (after hono's src/router/common.case.test.ts).
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadScenario } from '../../src/config/load.ts'
import { STRATEGIES, STRATEGY_NAMES } from '../../src/core/strategies.ts'
import { buildWorld } from '../../src/core/world.ts'
import type { Customer, Pop, World } from '../../src/core/types.ts'

let world: World
beforeAll(async () => { world = buildWorld(await loadScenario()).world })

const pop = (id: string) => world.topology.byId.get(id) as Pop

describe.each(STRATEGY_NAMES)('strategy %s (contract)', (name) => {
  const strategy = STRATEGIES[name]

  it('always returns one of the candidates', () => {
    fc.assert(fc.property(
      fc.constantFrom('eu-shop.example', 'us-bank.example', 'de-gov.example', 'in-health.example'),
      fc.integer({ min: 0, max: 339 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 0, max: 1000 }),
      (host, ingressIndex, count, seed) => {
        const customer = world.customers.get(host) as Customer
        const region = customer.region!
        const ids = region.popIds.filter((_, i) => (i * 7919 + seed) % 3 !== 0 || i === 0).slice(0, count)
        const candidates = ids.map(pop)
        const ingress = world.topology.pops[ingressIndex] as Pop
        const chosen = strategy({ world, customer, ingress, candidates })
        expect(candidates).toContain(chosen)
      }))
  })

  it('with one candidate, returns it', () => {
    const customer = world.customers.get('eu-shop.example') as Customer
    expect(strategy({ world, customer, ingress: pop('SYD'), candidates: [pop('MRS')] })).toBe(pop('MRS'))
  })

  it('is deterministic', () => {
    const customer = world.customers.get('eu-shop.example') as Customer
    const candidates = customer.region!.popIds.map(pop)
    const a = strategy({ world, customer, ingress: pop('NRT'), candidates })
    const b = strategy({ world, customer, ingress: pop('NRT'), candidates })
    expect(a).toBe(b)
  })
})

describe('strategy specifics', () => {
  it('nearest picks the candidate with the lowest RTT from the ingress', () => {
    const customer = world.customers.get('eu-shop.example') as Customer
    const candidates = ['FRA', 'MAD', 'HEL'].map(pop)
    expect(STRATEGIES.nearest({ world, customer, ingress: pop('LIS'), candidates }).id).toBe('MAD')
  })

  it('least-total is pulled towards the origin', () => {
    const customer = world.customers.get('eu-shop.example') as Customer // origin FRA
    const candidates = ['FRA', 'LCA'].map(pop)
    // From Dubai, Larnaca is nearer, but Frankfurt (the origin) makes the shorter total path.
    expect(STRATEGIES.nearest({ world, customer, ingress: pop('DXB'), candidates }).id).toBe('LCA')
    expect(STRATEGIES['least-total']({ world, customer, ingress: pop('DXB'), candidates }).id).toBe('FRA')
  })

  it('load-aware avoids a saturated PoP', () => {
    const customer = world.customers.get('eu-shop.example') as Customer
    const candidates = ['AMS', 'FRA'].map(pop)
    const loaded: World = { ...world, health: { down: world.health.down, load: new Float64Array(world.topology.pops.length) } }
    loaded.health.load[pop('AMS').index] = 0.98
    expect(STRATEGIES['load-aware']({ world: loaded, customer, ingress: pop('LHR'), candidates }).id).toBe('FRA')
    expect(STRATEGIES['load-aware']({ world, customer, ingress: pop('LHR'), candidates }).id).toBe('AMS')
  })
})
