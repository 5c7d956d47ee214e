// The live data path's plan memo: exactly the planner's answer for the world as it is at each call (health changed in
// place included), shared, bounded.
import fc from 'fast-check'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import { defaultScenarioPath, loadScenario, parseScenario } from '../../src/config/load.ts'
import { memoisePlanner } from '../../src/core/plan-memo.ts'
import { plan } from '../../src/core/planner.ts'
import type { ClientLocation, Plan, PlanRequest, Pop, World } from '../../src/core/types.ts'
import { buildWorld } from '../../src/core/world.ts'

let world: World
let pops: readonly Pop[]

beforeAll(async () => {
  world = buildWorld(await loadScenario()).world
  pops = world.topology.pops
})

beforeEach(() => {
  world.health.down.fill(0)
  world.health.load.fill(0)
})

function at (id: string): ClientLocation {
  const p = world.topology.byId.get(id) as Pop
  return { lat: p.lat, lon: p.lon, country: p.country, source: 'iata', input: id }
}

function servedAt (p: Plan): string {
  if (p.outcome !== 'served') throw new Error(`expected served, got ${p.code}`)
  return p.inspection
}

describe('memoisePlanner', () => {
  it('answers exactly what the planner answers, through any sequence of requests and health changes', () => {
    // Small pools, so that requests repeat and health changes hit the PoPs the plans use.
    const ids = ['LHR', 'CDG', 'FRA', 'AMS', 'SYD']
    const pool = pops.filter((p) => ids.includes(p.id))
    const pop = fc.constantFrom(...pool)
    // Location objects used again and again, as the data path's client locator hands them out: the memo finds their
    // plans by the object first.
    const shared = pool.map((p) => at(p.id))
    const request = fc.record({
      kind: fc.constant('plan' as const),
      client: fc.oneof(
        pop.map((p) => at(p.id)),
        fc.constantFrom(...shared),
        // Points that share an input text, and inputs and hosts that would run together in an unprefixed key.
        fc.record({
          lat: fc.constantFrom(48.1, -33.9),
          lon: fc.constantFrom(11.6, 151.2),
          country: fc.constantFrom('DE', 'AU', '1:|', '', undefined),
          source: fc.constant('latlon' as const),
          input: fc.constantFrom('a', '|1:a', '')
        }).map(({ country, ...c }): ClientLocation => country === undefined ? c : { ...c, country })
      ),
      host: fc.constantFrom('eu-shop.example', 'de-gov.example', 'us-bank.example', 'a', '1:a|', 'EU-SHOP.example'),
      ingress: fc.option(pop.map((p) => p.id), { nil: undefined, freq: 2 }),
      newConnection: fc.option(fc.boolean(), { nil: undefined, freq: 3 }),
      // Now and then a request that names a PoP to avoid (a retry): planned afresh.
      down: fc.oneof({ arbitrary: fc.constant(undefined), weight: 7 }, { arbitrary: pop.map((p) => [p.id]), weight: 1 }),
      // And now and then one from the TLS edge, with the PoPs outside a key policy masked.
      unavailable: fc.oneof({ arbitrary: fc.constant(undefined), weight: 7 }, {
        arbitrary: pop.map((p) => { const m = new Uint8Array(pops.length); m[p.index] = 1; return m }),
        weight: 1
      })
    })
    const healthChange = fc.oneof(
      fc.record({ kind: fc.constant('down' as const), pop, value: fc.constantFrom(0, 1) }),
      fc.record({ kind: fc.constant('load' as const), pop, value: fc.constantFrom(0, 0.5, 0.95) })
    )
    fc.assert(fc.property(fc.array(fc.oneof({ arbitrary: request, weight: 3 }, { arbitrary: healthChange, weight: 1 }), { minLength: 20, maxLength: 60 }), (ops) => {
      world.health.down.fill(0)
      world.health.load.fill(0)
      const memo = memoisePlanner(plan, { maxEntries: 16 })
      for (const op of ops) {
        if (op.kind === 'down') world.health.down[op.pop.index] = op.value
        else if (op.kind === 'load') world.health.load[op.pop.index] = op.value
        else {
          const { kind: _, ingress, newConnection, down, unavailable, ...rest } = op
          const req: PlanRequest = {
            ...rest,
            ...(ingress === undefined ? {} : { ingress }),
            ...(newConnection === undefined ? {} : { newConnection }),
            ...(down === undefined ? {} : { down }),
            ...(unavailable === undefined ? {} : { unavailable })
          }
          expect(memo(req, world)).toEqual(plan(req, world))
        }
      }
    }), { numRuns: 300 })
  })

  it('hands back the same plan object for the same request', () => {
    const memo = memoisePlanner(plan)
    const req = { client: at('LHR'), host: 'eu-shop.example' }
    const first = memo(req, world)
    expect(memo({ ...req, client: { ...req.client } }, world)).toBe(first)
    // The same input text from another point (a test, or a locator that changed its mind) is another request.
    const moved = { ...req, client: { ...req.client, lat: req.client.lat + 1 } }
    expect(memo(moved, world)).toEqual(plan(moved, world))
    expect(memo(moved, world).client.lat).toBe(req.client.lat + 1)
  })

  it('by the same location object, tells requests apart by host, ingress and connection', () => {
    const memo = memoisePlanner(plan)
    const client = at('LHR')
    const requests: PlanRequest[] = [
      { client, host: 'eu-shop.example' },
      { client, host: 'us-bank.example' },
      { client, host: 'eu-shop.example', ingress: 'LHR' },
      { client, host: 'eu-shop.example', ingress: 'CDG' },
      { client, host: 'eu-shop.example', ingress: 'LHR', newConnection: false },
      { client, host: 'eu-shop.example', newConnection: true }
    ]
    for (let round = 0; round < 2; round++) {
      for (const req of requests) expect(memo(req, world)).toEqual(plan(req, world))
    }
    // More hosts than one object keeps plans for: the list starts again, and every answer stays exact.
    for (let i = 0; i < 40; i++) {
      const req = { client, host: `h${i % 20}.example`, ingress: 'LHR' }
      expect(memo(req, world)).toEqual(plan(req, world))
    }
    expect(memo(requests[0] as PlanRequest, world)).toEqual(plan(requests[0] as PlanRequest, world))
  })

  it('keeps apart requests whose fields would run together', () => {
    const memo = memoisePlanner(plan)
    const client = at('LHR')
    // Countries that would run into the host and input if they were part of a key.
    const a = { client: { ...client, country: 'X|1:a', input: 'in' }, host: 'b' }
    const b = { client: { ...client, country: 'X', input: '1:b|in' }, host: 'a' }
    expect(memo(a, world)).toEqual(plan(a, world))
    expect(memo(b, world)).toEqual(plan(b, world))
    // Without the host's length prefix both keys would read "...|b|in|x".
    const c = { client: { ...client, input: 'x' }, host: 'b|in' }
    const d = { client: { ...client, input: 'in|x' }, host: 'b' }
    expect(memo(c, world)).toEqual(plan(c, world))
    expect(memo(d, world)).toEqual(plan(d, world))
    // An empty country is kept in the plan, an absent one is not.
    const { country: _, ...none } = client
    expect(memo({ client: { ...client, country: '' }, host: 'eu-shop.example' }, world).client).toHaveProperty('country', '')
    expect(memo({ client: none, host: 'eu-shop.example' }, world).client).not.toHaveProperty('country')
  })

  it('sees a PoP go down and come back, and a load change, made in place on the world', () => {
    const memo = memoisePlanner(plan)
    const req = { client: at('LHR'), host: 'eu-shop.example' }
    const inspection = servedAt(memo(req, world))
    const pop = world.topology.byId.get(inspection) as Pop
    world.health.down[pop.index] = 1
    const around = memo(req, world)
    expect(servedAt(around)).not.toBe(inspection)
    expect(around).toEqual(plan(req, world))
    world.health.down[pop.index] = 0
    expect(servedAt(memo(req, world))).toBe(inspection)
  })

  it('sees a load change made in place, which the load-aware strategy plans with', async () => {
    const text = (await readFile(defaultScenarioPath, 'utf8')).replace(/strategy: nearest/, 'strategy: load-aware')
    const loaded = buildWorld(parseScenario(text)).world
    const memo = memoisePlanner(plan)
    const req = { client: at('LHR'), host: 'eu-shop.example' }
    const inspection = servedAt(memo(req, loaded))
    loaded.health.load[(loaded.topology.byId.get(inspection) as Pop).index] = 0.99
    const moved = memo(req, loaded)
    expect(servedAt(moved)).not.toBe(inspection)
    expect(moved).toEqual(plan(req, loaded))
  })

  it('plans afresh, without remembering, a request that names PoPs of its own to avoid', () => {
    const memo = memoisePlanner(plan)
    const usual = { client: at('LHR'), host: 'eu-shop.example' }
    const inspection = servedAt(memo(usual, world))
    const mask = new Uint8Array(pops.length)
    mask[(world.topology.byId.get(inspection) as Pop).index] = 1
    for (const req of [{ ...usual, down: [inspection] }, { ...usual, unavailable: mask }]) {
      const a = memo(req, world)
      expect(servedAt(a)).not.toBe(inspection)
      expect(a).toEqual(plan(req, world))
      expect(memo(req, world)).not.toBe(a)
    }
    expect(servedAt(memo(usual, world))).toBe(inspection)
  })

  it('forgets the oldest request past its bound', () => {
    const memo = memoisePlanner(plan, { maxEntries: 2 })
    const a = { client: at('LHR'), host: 'eu-shop.example' }
    const first = memo(a, world)
    memo({ client: at('NRT'), host: 'eu-shop.example' }, world)
    expect(memo(a, world)).toBe(first)
    memo({ client: at('SYD'), host: 'eu-shop.example' }, world)
    memo({ client: at('GRU'), host: 'eu-shop.example' }, world)
    const again = memo(a, world)
    expect(again).not.toBe(first)
    expect(again).toEqual(first)
  })

  it('refuses a bound that is not a positive integer', () => {
    expect(() => memoisePlanner(plan, { maxEntries: 0 })).toThrow(RangeError)
    expect(() => memoisePlanner(plan, { maxEntries: 1.5 })).toThrow(RangeError)
  })
})
