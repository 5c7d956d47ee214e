// The planner: golden routes of the default scenario, refusals, and the docs/design.md invariants as properties.
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadScenario } from '../../src/config/load.ts'
import { normaliseHost, plan } from '../../src/core/planner.ts'
import { buildWorld } from '../../src/core/world.ts'
import type { ClientLocation, Plan, Pop, ServedPlan, World } from '../../src/core/types.ts'

let world: World

beforeAll(async () => {
  world = buildWorld(await loadScenario()).world
})

function at (id: string): ClientLocation {
  const p = world.topology.byId.get(id) as Pop
  return { lat: p.lat, lon: p.lon, country: p.country, source: 'iata', input: id }
}

function pop (id: string): Pop {
  return world.topology.byId.get(id) as Pop
}

function served (p: Plan): ServedPlan {
  if (p.outcome !== 'served') throw new Error(`expected served, got ${p.code}: ${p.reason}`)
  return p
}

const EU27 = ['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE']

describe('golden routes of the default scenario', () => {
  it.each([
    // host, client, ingress, inspection country set, key operation
    ['eu-shop.example', 'SYD', 'SYD', EU27, 'local'],
    ['eu-shop.example', 'FRA', 'FRA', ['DE'], 'local'],
    ['eu-shop.example', 'EWR', 'EWR', EU27, 'local'],
    ['de-gov.example', 'SYD', 'SYD', ['DE'], 'local'],
    ['uk-news.example', 'NRT', 'NRT', ['GB'], 'local'],
    ['in-health.example', 'LHR', 'LHR', ['IN'], 'local'],
    ['us-bank.example', 'FRA', 'FRA', ['US'], 'keyless'],
    ['global.example', 'SYD', 'SYD', ['AU'], 'local'],
    ['au-retail.example', 'LHR', 'LHR', ['AU'], 'local']
  ] as const)('%s from %s enters at %s and is inspected in %j', (host, client, ingress, countries, key) => {
    const p = served(plan({ client: at(client), host }, world))
    expect(p.ingress).toBe(ingress)
    expect(countries).toContain(pop(p.inspection).country)
    expect(p.tls.at).toBe(p.inspection)
    expect(p.tls.key).toBe(key)
    expect(p.violations).toEqual([])
    expect(p.ledger.every((e) => e.compliant)).toBe(true)
  })

  it('relays ciphertext from an out-of-region ingress and records roles', () => {
    const p = served(plan({ client: at('SYD'), host: 'eu-shop.example' }, world))
    expect(p.hops.map((h) => h.kind)).toEqual(['access', 'relay', 'origin'])
    expect(p.ledger).toContainEqual(expect.objectContaining({ category: 'ciphertext', action: 'relayed', at: 'SYD', networkRole: 'processor' }))
    expect(p.ledger).toContainEqual(expect.objectContaining({ category: 'plaintext', action: 'inspected', at: p.inspection }))
    expect(p.ledger).toContainEqual(expect.objectContaining({ category: 'security-telemetry', at: 'SYD', networkRole: 'controller' }))
    expect(p.ledger).toContainEqual(expect.objectContaining({ category: 'logs', at: 'FRA' }))
    // The origin is in Frankfurt anyway: the detour via the inspection PoP costs far less than the relay itself.
    expect(p.addedMs).toBeGreaterThan(0)
    expect(p.addedMs).toBeLessThan(p.hops[1]!.rttMs)
    expect(p.modelledMs).toBeCloseTo(p.baselineMs + p.addedMs, 2)
  })

  it('takes no detour when the ingress is inside the region', () => {
    const p = served(plan({ client: at('CDG'), host: 'eu-shop.example' }, world))
    expect(p.inspection).toBe('CDG')
    expect(p.addedMs).toBe(0)
  })

  it('adds a key round trip for keyless on new connections only', () => {
    const fresh = served(plan({ client: at('IAD'), host: 'us-bank.example' }, world))
    expect(fresh.tls).toEqual({ at: 'IAD', key: 'keyless', signer: 'keyless:IAD' })
    expect(fresh.hops.some((h) => h.kind === 'key')).toBe(true)
    // The customer's own key server signs: the network has no role in that step (it only asks for the signature).
    expect(fresh.ledger).toContainEqual(expect.objectContaining({ category: 'key-operation', at: 'keyless:IAD', networkRole: 'none' }))
    expect(fresh.ledger.filter((e) => e.networkRole === 'none')).toHaveLength(1)
    const resumed = served(plan({ client: at('IAD'), host: 'us-bank.example', newConnection: false }, world))
    expect(resumed.tls.key).toBe('none')
    expect(resumed.hops.some((h) => h.kind === 'key')).toBe(false)
    expect(resumed.modelledMs).toBeLessThan(fresh.modelledMs)
  })

  it('mainland-China partner PoPs serve only opted-in customers: a Shanghai client enters outside mainland China', () => {
    const shanghai: ClientLocation = { lat: 31.23, lon: 121.47, country: 'CN', source: 'latlon', input: '31.23,121.47' }
    const p = served(plan({ client: shanghai, host: 'global.example' }, world))
    expect(pop(p.ingress).network).toBe('global')
    expect(pop(p.ingress).country).not.toBe('CN')
    const optedIn = { ...world, customers: new Map([['global.example', { ...world.customers.get('global.example')!, chinaNetwork: true }]]) }
    expect(pop(served(plan({ client: shanghai, host: 'global.example' }, optedIn)).ingress).country).toBe('CN')
  })

  it('logs without a boundary go to the global core', () => {
    const p = served(plan({ client: at('BOM'), host: 'in-health.example' }, world))
    expect(p.logRegion).toBe('global')
    expect(p.logSink).toBe('IAD')
  })
})

describe('refusals', () => {
  it('fails closed when every PoP of the region is down', () => {
    const germany = world.topology.pops.filter((p) => p.country === 'DE').map((p) => p.id)
    const p = plan({ client: at('SYD'), host: 'de-gov.example', down: germany }, world)
    expect(p.outcome).toBe('refused')
    if (p.outcome !== 'refused') return
    expect(p.code).toBe('SIM_ERR_REGION_UNAVAILABLE')
    expect(p.status).toBe(503)
    expect(p.ledger.some((e) => e.category === 'plaintext')).toBe(false)
  })

  it('with failover open, serves outside the region and records the violation', () => {
    const australia = world.topology.pops.filter((p) => p.country === 'AU').map((p) => p.id)
    const p = served(plan({ client: at('SIN'), host: 'au-retail.example', down: australia }, world))
    expect(p.inspection).toBe('SIN')
    expect(p.violations).toHaveLength(1)
    expect(p.ledger).toContainEqual(expect.objectContaining({ category: 'plaintext', compliant: false }))
  })

  it.each([
    ['unknown host', { host: 'nobody.example' }, 'SIM_ERR_HOST_UNKNOWN', 421],
    ['unknown down PoP', { host: 'eu-shop.example', down: ['XXX'] }, 'SIM_ERR_POP_UNKNOWN', 404],
    ['unknown forced ingress', { host: 'eu-shop.example', ingress: 'ZZZ' }, 'SIM_ERR_POP_UNKNOWN', 404]
  ])('%s', (_name, extra, code, status) => {
    const p = plan({ client: at('LHR'), ...extra }, world)
    expect(p).toMatchObject({ outcome: 'refused', code, status })
  })

  it('refuses a host no customer has at the ingress nearest the client, which observed it (security telemetry)', () => {
    const p = plan({ client: at('SYD'), host: 'nobody.example' }, world)
    expect(p).toMatchObject({ outcome: 'refused', code: 'SIM_ERR_HOST_UNKNOWN', ingress: 'SYD' })
    expect(p.ledger).toEqual([{ category: 'security-telemetry', action: 'observed', at: 'SYD', country: 'AU', networkRole: 'controller', compliant: true }])
    // Sent to a PoP's own port, that PoP; with SYD down, the next nearest; with an unknown down PoP, no ingress.
    expect(plan({ client: at('SYD'), host: 'nobody.example', ingress: 'FRA' }, world)).toMatchObject({ ingress: 'FRA' })
    expect(plan({ client: at('SYD'), host: 'nobody.example', down: ['SYD'] }, world).ingress).not.toBe('SYD')
    const nowhere = plan({ client: at('SYD'), host: 'nobody.example', down: ['XXX'] }, world)
    expect(nowhere).toMatchObject({ code: 'SIM_ERR_HOST_UNKNOWN', ledger: [] })
    expect(nowhere).not.toHaveProperty('ingress')
  })

  it('refuses with no healthy ingress at all', () => {
    const all = world.topology.pops.map((p) => p.id)
    expect(plan({ client: at('LHR'), host: 'global.example', down: all }, world)).toMatchObject({ code: 'SIM_ERR_NO_HEALTHY_POP', status: 503 })
  })
})

describe('host normalisation', () => {
  it.each([
    ['EU-Shop.Example', 'eu-shop.example'],
    ['eu-shop.example:8080', 'eu-shop.example'],
    ['eu-shop.example.', 'eu-shop.example'],
    [' eu-shop.example ', 'eu-shop.example'],
    ['[::1]:80', '[::1]:80']
  ])('%s -> %s', (input, out) => {
    expect(normaliseHost(input)).toBe(out)
  })
})

describe('invariants (property tests)', () => {
  const arbClient = fc.record({ lat: fc.double({ min: -85, max: 85, noNaN: true }), lon: fc.double({ min: -180, max: 180, noNaN: true }) })
    .map((c): ClientLocation => ({ ...c, source: 'latlon', input: `${c.lat},${c.lon}` }))

  const arbRequest = () => fc.record({
    client: arbClient,
    host: fc.constantFrom(...world.customers.keys()),
    down: fc.subarray(world.topology.pops.map((p) => p.id), { maxLength: 120 }),
    newConnection: fc.boolean()
  })

  it('never inspects outside the region, never uses a key outside the policy, never stores logs outside the log region, and refuses when it must', () => {
    fc.assert(fc.property(arbRequest(), (req) => {
      const customer = world.customers.get(req.host)!
      const p = plan(req, world)
      const down = new Set(req.down)
      const healthyInRegion = customer.region === null || customer.region.popIds.some((id) => !down.has(id) && (pop(id).network !== 'china' || customer.chinaNetwork))
      if (p.outcome === 'refused') {
        // A refusal is justified: no healthy in-region PoP (closed), no healthy ingress, or no authorised signer.
        expect(['SIM_ERR_REGION_UNAVAILABLE', 'SIM_ERR_NO_HEALTHY_POP', 'SIM_ERR_KEY_UNAVAILABLE', 'SIM_ERR_KEY_REFUSED']).toContain(p.code)
        if (p.code === 'SIM_ERR_REGION_UNAVAILABLE') expect(healthyInRegion).toBe(false)
        expect(p.ledger.some((e) => e.category === 'plaintext')).toBe(false)
        return
      }
      const inspection = pop(p.inspection)
      const ingress = pop(p.ingress)
      expect(down.has(p.ingress)).toBe(false)
      expect(down.has(p.inspection)).toBe(false)
      if (customer.region && customer.failover === 'closed') expect(customer.region.members[inspection.index]).toBe(1)
      if (customer.region && !healthyInRegion) {
        expect(p.inspection).toBe(p.ingress)
        expect(p.violations.length).toBeGreaterThan(0)
      }
      if (customer.region && healthyInRegion) expect(customer.region.members[inspection.index]).toBe(1)
      if (p.tls.key === 'local') expect(customer.keys.allowed[inspection.index]).toBe(1)
      if (p.tls.key === 'remote') {
        const signer = pop(p.tls.signer!)
        expect(customer.keys.allowed[signer.index]).toBe(1)
        expect(down.has(signer.id)).toBe(false)
      }
      if (customer.keys.source.mode === 'keyless' && p.tls.key !== 'none') expect(p.tls.key).toBe('keyless')
      if (customer.logRegion) expect(world.logRegionOf(pop(p.logSink))).toBe(customer.logRegion)
      // Anycast: no healthy, admissible PoP is nearer to the client than the ingress.
      const dist = (x: Pop) => Math.acos(Math.min(1, Math.sin(x.lat * Math.PI / 180) * Math.sin(req.client.lat * Math.PI / 180) +
        Math.cos(x.lat * Math.PI / 180) * Math.cos(req.client.lat * Math.PI / 180) * Math.cos((x.lon - req.client.lon) * Math.PI / 180)))
      const nearer = world.topology.pops.find((x) => !down.has(x.id) && (x.network !== 'china' || customer.chinaNetwork) && dist(x) < dist(ingress) - 1e-9)
      expect(nearer).toBeUndefined()
      // Without a relay or a key round trip, data localisation adds nothing.
      if (p.ingress === p.inspection && !p.hops.some((h) => h.kind === 'key')) expect(p.addedMs).toBe(0)
    }), { numRuns: 2000 })
  })

  it('plans the same with PoPs marked unavailable by index as with the same PoPs listed down by id, or both split', () => {
    fc.assert(fc.property(arbRequest(), fc.nat(), (req, cut) => {
      const mask = new Uint8Array(world.topology.pops.length)
      for (const id of req.down) mask[pop(id).index] = 1
      const byIds = plan(req, world)
      expect(plan({ ...req, down: [], unavailable: mask }, world)).toEqual(byIds)
      // Part of the set as ids, the rest by index.
      const k = req.down.length === 0 ? 0 : cut % req.down.length
      const rest = new Uint8Array(mask.length)
      for (const id of req.down.slice(k)) rest[pop(id).index] = 1
      expect(plan({ ...req, down: req.down.slice(0, k), unavailable: rest }, world)).toEqual(byIds)
    }), { numRuns: 300 })
  })

  it('plans are pure: the same request gives the same plan', () => {
    fc.assert(fc.property(arbRequest(), (req) => {
      expect(plan(req, world)).toEqual(plan(req, world))
    }), { numRuns: 300 })
  })
})
