// The control plane against a fake runtime: a real World from the default scenario, an EventEmitter carrying
// request records, inject() for the API and one real socket for the Server-Sent Events stream.
import { EventEmitter } from 'node:events'
import { request as httpRequest } from 'node:http'
import type { IncomingMessage } from 'node:http'
import fc from 'fast-check'
import { pino } from 'pino'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { loadScenario } from '../../src/config/load.ts'
import type { Scenario } from '../../src/config/schema.ts'
import { plan } from '../../src/core/planner.ts'
import type { IpLocator, Plan, World } from '../../src/core/types.ts'
import { buildWorld } from '../../src/core/world.ts'
import type { MeasuredHop, RequestRecord, RuntimeEvents } from '../../src/services/records.ts'
import type { SimRuntime } from '../../src/services/control/runtime.ts'
import { buildControlApp } from '../../src/services/control/app.ts'
import { createLedgerStore } from '../../src/services/control/ledger-store.ts'

interface FakeRuntime extends SimRuntime {
  readonly calls: Array<[string, boolean]>
}

function fakeRuntime (world: World): FakeRuntime {
  const events = new EventEmitter<RuntimeEvents>()
  const calls: Array<[string, boolean]> = []
  return {
    world,
    logger: pino({ level: 'silent' }),
    events,
    calls,
    popUrl: (id: string) => (id === 'FRA' ? 'http://127.0.0.1:40001' : undefined),
    async setPopDown (id, down) {
      calls.push([id, down])
      const pop = world.topology.byId.get(id)
      if (!pop) throw new Error(`fake runtime: unknown PoP ${id}`)
      world.health.down[pop.index] = down ? 1 : 0
      events.emit(down ? 'pop-down' : 'pop-up', id)
    },
    edgeUrl: 'http://127.0.0.1:8080',
    controlUrl: 'http://127.0.0.1:8081',
    originUrls: new Map(),
    logSinkUrls: new Map(),
    close: async () => {}
  }
}

const SYDNEY = { lat: -33.87, lon: 151.21, country: 'AU' }
const ipLocator: IpLocator = { lookup: (ip) => (ip === '1.1.1.1' ? SYDNEY : undefined) }

let counter = 0
function recordFor (p: Plan, status = p.outcome === 'served' ? 200 : p.status): RequestRecord {
  counter++
  const ray = `${counter.toString(16).padStart(16, '0')}-${p.ingress ?? 'EDGE'}`
  return {
    ray,
    at: 1_700_000_000_000 + counter,
    host: p.host,
    method: 'GET',
    status,
    ...(p.outcome === 'refused' ? { code: p.code } : {}),
    plan: p,
    hops: p.outcome === 'served' ? p.hops.map((h) => ({ from: h.from, to: h.to, kind: h.kind as MeasuredHop['kind'], modelledMs: h.rttMs, measuredMs: h.rttMs + 0.5 })) : [],
    measuredMs: p.outcome === 'served' ? p.modelledMs + 1 : 0.2,
    ...(p.outcome === 'served' ? { logSink: p.logSink } : {})
  }
}

function popsOf (world: World, regionId: string): readonly string[] {
  return world.regions.get(regionId)?.popIds ?? []
}

let scenario: Scenario
beforeAll(async () => { scenario = await loadScenario() })

let app: FastifyInstance | undefined
let runtime: FakeRuntime
afterEach(async () => {
  await app?.close()
  app = undefined
})

function setup (ledgerSize?: number): { app: FastifyInstance, runtime: FakeRuntime, world: World } {
  const { world } = buildWorld(scenario)
  runtime = fakeRuntime(world)
  app = buildControlApp(runtime, { ipLocator, ...(ledgerSize !== undefined ? { ledgerSize } : {}), heartbeatMs: 50 })
  return { app, runtime, world }
}

function client (world: World, iata: string) {
  const pop = world.topology.byId.get(iata)
  if (!pop) throw new Error(iata)
  return { lat: pop.lat, lon: pop.lon, country: pop.country, source: 'iata' as const, input: iata }
}

function expectErrorShape (body: unknown, code: string): void {
  expect(body).toEqual({ error: { code, message: expect.any(String), ray: expect.stringMatching(/^[0-9a-f]{16}-CONTROL$/) } })
}

describe('control plane: model views', () => {
  it('lists PoPs with their health, regions and customers', async () => {
    const { app, world } = setup()
    const topo = await app.inject('/api/topology')
    expect(topo.statusCode).toBe(200)
    const body = topo.json()
    expect(body.pops).toHaveLength(world.topology.pops.length)
    expect(body.pops.find((p: { id: string }) => p.id === 'FRA')).toMatchObject({ id: 'FRA', country: 'DE', down: false, url: 'http://127.0.0.1:40001' })
    expect(body.pops.find((p: { id: string }) => p.id === 'AMS')).toMatchObject({ url: null })
    expect(body.regions.find((r: { id: string }) => r.id === 'eu').pops).toContain('FRA')
    const customers = (await app.inject('/api/customers')).json()
    const shop = customers.customers.find((c: { host: string }) => c.host === 'eu-shop.example')
    expect(shop).toMatchObject({ region: { id: 'eu' }, keys: { mode: 'geo', policy: 'eu' }, logRegion: 'eu', failover: 'closed' })
    expect(shop.keys.pops).toContain('FRA')
    expect(shop.keys.pops).not.toContain('SYD')
  })

  it('lists the world\'s cities a client may be placed in, largest first, of a million people unless asked otherwise', async () => {
    const { app } = setup()
    const big = (await app.inject('/api/places')).json().places as { name: string, country: string, population: number, lat: number, lon: number }[]
    expect(big.length).toBeGreaterThan(300)
    expect(big.every((p) => p.population >= 1_000_000)).toBe(true)
    expect(big.map((p) => p.population)).toEqual([...big.map((p) => p.population)].sort((a, b) => b - a))
    expect(big.find((p) => p.name === 'New York')).toMatchObject({ label: 'New York, US', country: 'US', lat: 40.75, lon: -73.98 })
    // Two cities of the name in one country: each by its province.
    expect(big.filter((p) => p.name === 'Suzhou').map((p) => (p as { label?: string }).label).sort()).toEqual(['Suzhou, Anhui', 'Suzhou, Jiangsu'])
    expect((await app.inject('/api/places?minPopulation=0')).json().places).toHaveLength(7329)
    expect((await app.inject('/api/places?minPopulation=5000000')).json().places.length).toBeLessThan(big.length)
    for (const bad of ['minPopulation=-1', 'minPopulation=many', 'min=1']) {
      const r = await app.inject(`/api/places?${bad}`)
      expect([bad, r.statusCode]).toEqual([bad, 400])
      expect(r.json().error.code).toMatch(/^SIM_ERR_/)
    }
  })

  it('answers health checks and unknown routes in the one error shape', async () => {
    const { app } = setup()
    expect((await app.inject('/healthz')).json()).toMatchObject({ status: 'ok' })
    const missing = await app.inject('/api/nope')
    expect(missing.statusCode).toBe(404)
    expectErrorShape(missing.json(), 'SIM_ERR_NOT_FOUND')
    expect(missing.headers.allow).toBeUndefined()
  })

  it.each([
    ['DELETE', '/api/ledger', 'GET, HEAD'],
    ['POST', '/api/topology', 'GET, HEAD'],
    ['GET', '/api/pops/FRA/down', 'POST'],
    ['PATCH', '/api/pops/fra/load', 'PUT'],
    ['PUT', '/', 'GET, HEAD']
  ] as const)('answers %s %s, a path only other methods serve, with 405 and Allow: %s', async (method, url, allow) => {
    const { app } = setup()
    const res = await app.inject({ method, url: `${url}?x=1` })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toBe(allow)
    expectErrorShape(res.json(), 'SIM_ERR_METHOD_NOT_ALLOWED')
    expect(res.json().error.message).toBe(`method ${method} is not served here: ${url} takes ${allow}`)
  })

  it('serves the teaching page with no external resources', async () => {
    const { app } = setup()
    const page = await app.inject('/')
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toMatch(/^text\/html/)
    expect(page.headers['content-security-policy']).toContain("default-src 'self'")
    expect(page.body).not.toMatch(/https?:\/\/(?!www\.w3\.org)/)
    const js = await app.inject('/page/app.js')
    expect(js.headers['content-type']).toMatch(/^text\/javascript/)
    expect(js.body).toContain('/api/ledger/stream')
  })

  it('serves the base map: Natural Earth land and borders as path data in map units, cacheable', async () => {
    const { app } = setup()
    const res = await app.inject('/api/basemap')
    expect(res.statusCode).toBe(200)
    expect(res.headers['cache-control']).toBe('public, max-age=86400')
    const map = res.json() as { source: string, land: string, borders: string }
    expect(map.source).toContain('Natural Earth')
    for (const d of [map.land, map.borders]) {
      expect(d).toMatch(/^M/)
      // Every coordinate inside the 360 x 180 map.
      for (const m of d.matchAll(/(-?[\d.]+),(-?[\d.]+)/g)) {
        const [x, y] = [Number(m[1]), Number(m[2])]
        expect(x >= 0 && x <= 360 && y >= 0 && y <= 180).toBe(true)
      }
    }
    expect((map.land.match(/Z/g) ?? []).length).toBeGreaterThan(100)
    expect(map.borders.split('M').length).toBeGreaterThan(100)
  })
})

describe('control plane: GET /api/plan', () => {
  it('plans a served request: Sydney to an EU shop is inspected in the EU', async () => {
    const { app, world } = setup()
    const res = await app.inject({ url: '/api/plan', query: { client: 'SYD', host: 'eu-shop.example' } })
    expect(res.statusCode).toBe(200)
    const p = res.json()
    expect(p).toMatchObject({ outcome: 'served', host: 'eu-shop.example', ingress: 'SYD', logRegion: 'eu' })
    expect(popsOf(world, 'eu')).toContain(p.inspection)
    expect(p.addedMs).toBeGreaterThan(0)
  })

  it('locates IP clients with the injected locator', async () => {
    const { app } = setup()
    const p = (await app.inject({ url: '/api/plan', query: { client: '1.1.1.1', host: 'global.example' } })).json()
    expect(p).toMatchObject({ outcome: 'served', ingress: 'SYD', inspection: 'SYD' })
  })

  it('answers a policy refusal as a plan: de-gov with every German PoP down fails closed', async () => {
    const { app, world } = setup()
    const down = popsOf(world, 'de').join(',')
    const res = await app.inject({ url: '/api/plan', query: { client: 'FRA', host: 'de-gov.example', down } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ outcome: 'refused', code: 'SIM_ERR_REGION_UNAVAILABLE', status: 503 })
    // The what-if `down` list applies to that plan only.
    expect(world.health.down.every((d) => d === 0)).toBe(true)
  })

  it('rejects a malformed client with 400 and a code', async () => {
    const { app } = setup()
    const res = await app.inject({ url: '/api/plan', query: { client: '999,999', host: 'eu-shop.example' } })
    expect(res.statusCode).toBe(400)
    expect(res.json().error.code).toMatch(/^SIM_ERR_CLIENT_/)
    expectErrorShape(res.json(), res.json().error.code)
  })

  it('rejects an unknown host, an unknown down or ingress PoP and a missing parameter as bad parameters (400)', async () => {
    const { app } = setup()
    const host = await app.inject({ url: '/api/plan', query: { client: 'SYD', host: 'nobody.example' } })
    expect(host.statusCode).toBe(400)
    expectErrorShape(host.json(), 'SIM_ERR_INPUT_INVALID')
    expect(host.json().error.message).toBe('invalid input at querystring/host: no customer is configured for host "nobody.example"')
    const pop = await app.inject({ url: '/api/plan', query: { client: 'SYD', host: 'eu-shop.example', down: 'FRA,XXX' } })
    expect(pop.statusCode).toBe(400)
    expectErrorShape(pop.json(), 'SIM_ERR_INPUT_INVALID')
    expect(pop.json().error.message).toBe('invalid input at querystring/down: unknown PoP "XXX"')
    const ingress = await app.inject({ url: '/api/plan', query: { client: 'SYD', host: 'eu-shop.example', down: 'FRA', ingress: 'zzz' } })
    expect(ingress.statusCode).toBe(400)
    expect(ingress.json().error.message).toBe('invalid input at querystring/ingress: unknown PoP "ZZZ"')
    // Both wrong: the first the planner checks, named with its own parameter.
    const both = await app.inject({ url: '/api/plan', query: { client: 'SYD', host: 'eu-shop.example', down: 'XXX', ingress: 'zzz' } })
    expect(both.json().error.message).toBe('invalid input at querystring/down: unknown PoP "XXX"')
    const missing = await app.inject({ url: '/api/plan', query: { host: 'eu-shop.example' } })
    expect(missing.statusCode).toBe(400)
    expectErrorShape(missing.json(), 'SIM_ERR_INPUT_INVALID')
  })

  it('refuses a query parameter it does not know, so that a misspelt one is not answered as if it were absent', async () => {
    const { app } = setup()
    const typo = await app.inject({ url: '/api/plan', query: { client: 'SYD', host: 'eu-shop.example', newconnection: 'false' } })
    expect(typo.statusCode).toBe(400)
    expectErrorShape(typo.json(), 'SIM_ERR_INPUT_INVALID')
    expect(typo.json().error.message).toBe('invalid input at querystring: querystring has no field "newconnection"')
    for (const url of ['/api/ledger?limit=1&hots=eu-shop.example', '/api/ledger/stream?x=1']) {
      const res = await app.inject({ url })
      expect(res.statusCode, url).toBe(400)
      expectErrorShape(res.json(), 'SIM_ERR_INPUT_INVALID')
    }
    // Spelt right, the same parameter is read, its text coerced to the schema's type.
    const resumed = await app.inject({ url: '/api/plan', query: { client: 'SYD', host: 'eu-shop.example', newConnection: 'false' } })
    expect(resumed.statusCode).toBe(200)
    expect((await app.inject({ url: '/api/ledger?limit=1' })).statusCode).toBe(200)
  })
})

describe('control plane: PoP down and up', () => {
  it('calls through to the runtime, is idempotent, and the planner sees the change', async () => {
    const { app, runtime } = setup()
    const down = await app.inject({ method: 'POST', url: '/api/pops/fra/down' })
    expect(down.statusCode).toBe(200)
    expect(down.json()).toMatchObject({ pop: { id: 'FRA', down: true }, changed: true })
    const again = await app.inject({ method: 'POST', url: '/api/pops/FRA/down' })
    expect(again.json()).toMatchObject({ pop: { id: 'FRA', down: true }, changed: false })
    expect(runtime.calls).toEqual([['FRA', true]])

    const p = (await app.inject({ url: '/api/plan', query: { client: 'FRA', host: 'eu-shop.example' } })).json()
    expect(p.ingress).not.toBe('FRA')
    expect((await app.inject('/api/pops/FRA')).json()).toMatchObject({ down: true })

    const up = await app.inject({ method: 'POST', url: '/api/pops/FRA/up' })
    expect(up.json()).toMatchObject({ pop: { id: 'FRA', down: false }, changed: true })
    expect(runtime.calls).toEqual([['FRA', true], ['FRA', false]])
  })

  it('sets a PoP\'s utilisation, which moves load-aware inspection off it', async () => {
    const { app, world } = setup()
    const loadAware = new Map([...world.customers].map(([h, c]) => [h, { ...c, strategy: 'load-aware' as const }]))
    const w: World = { ...world, customers: loadAware }
    const before = plan({ client: client(world, 'SYD'), host: 'eu-shop.example' }, w)
    if (before.outcome !== 'served') throw new Error('expected served')
    const res = await app.inject({ method: 'PUT', url: `/api/pops/${before.inspection}/load`, payload: { load: 0.97 } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ pop: { id: before.inspection, load: 0.97 } })
    const after = plan({ client: client(world, 'SYD'), host: 'eu-shop.example' }, w)
    if (after.outcome !== 'served') throw new Error('expected served')
    expect(after.inspection).not.toBe(before.inspection)
    // The body as sent: no type coerced (null is not 0, "0.5" is not 0.5), no field dropped; none of them sets a load.
    const fra = world.topology.byId.get('FRA')?.index ?? -1
    const fraLoad = world.health.load[fra]
    for (const payload of [{ load: 1.5 }, { load: -1 }, { load: 'busy' }, {}, { load: null }, { load: '0.5' }, { load: 0.5, x: 1 }]) {
      const bad = await app.inject({ method: 'PUT', url: '/api/pops/FRA/load', payload })
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400)
      expectErrorShape(bad.json(), 'SIM_ERR_INPUT_INVALID')
    }
    expect((await app.inject({ method: 'PUT', url: '/api/pops/FRA/load', payload: { load: null } })).json().error.message).toBe('invalid input at body: body/load expected number')
    expect(world.health.load[fra]).toBe(fraLoad)
    expect((await app.inject({ method: 'PUT', url: '/api/pops/XXX/load', payload: { load: 0.5 } })).statusCode).toBe(404)
  })

  it('answers what fastify refuses before a handler runs in the one error shape, with the figure it is about', async () => {
    const { app } = setup()
    const xml = await app.inject({ method: 'PUT', url: '/api/pops/FRA/load', headers: { 'content-type': 'application/xml' }, payload: '<load>1</load>' })
    expect(xml.statusCode).toBe(415)
    expectErrorShape(xml.json(), 'SIM_ERR_MEDIA_TYPE_UNSUPPORTED')
    expect(xml.json().error.message).toContain('"application/xml"')
    // A body that is not JSON says why; a __proto__ key is refused as fastify's own parser refuses it.
    const cases: Array<[string, string]> = [['{"load":0.5', 'the body is not valid JSON: '], ['{"load":0.5,"__proto__":{"x":1}}', 'forbidden prototype property'], ['', 'the body is not valid JSON: ']]
    for (const [payload, reason] of cases) {
      const bad = await app.inject({ method: 'PUT', url: '/api/pops/FRA/load', headers: { 'content-type': 'application/json' }, payload })
      expect(bad.statusCode, payload).toBe(400)
      expectErrorShape(bad.json(), 'SIM_ERR_BAD_REQUEST')
      expect(bad.json().error.message, payload).toContain(reason)
    }
    const long = await app.inject({ method: 'POST', url: `/api/pops/${'A'.repeat(3000)}/down` })
    expect(long.statusCode).toBe(414)
    expectErrorShape(long.json(), 'SIM_ERR_URL_TOO_LONG')
    expect(long.body).not.toContain('AAAA')
    const big = await app.inject({ method: 'PUT', url: '/api/pops/FRA/load', headers: { 'content-type': 'application/json' }, payload: `{"load":0.5,"pad":"${'x'.repeat(1048576)}"}` })
    expect(big.statusCode).toBe(413)
    expect(big.json()).toMatchObject({ error: { code: 'SIM_ERR_BODY_TOO_LARGE', message: 'request body exceeds 1048576 bytes' } })
  })

  it('serialises concurrent calls for one PoP', async () => {
    const { app, runtime } = setup()
    const results = await Promise.all([1, 2, 3].map(() => app.inject({ method: 'POST', url: '/api/pops/AMS/down' })))
    expect(results.map((r) => r.json().changed).filter(Boolean)).toHaveLength(1)
    expect(runtime.calls).toEqual([['AMS', true]])
  })

  it('answers 404 SIM_ERR_POP_UNKNOWN for an unknown PoP', async () => {
    const { app, runtime } = setup()
    for (const url of ['/api/pops/XXX/down', '/api/pops/not-a-pop/up', '/api/pops/QQQ']) {
      const res = await app.inject({ method: url.endsWith('QQQ') ? 'GET' : 'POST', url })
      expect(res.statusCode).toBe(404)
      expectErrorShape(res.json(), 'SIM_ERR_POP_UNKNOWN')
    }
    expect(runtime.calls).toEqual([])
  })
})

describe('control plane: ledger and metrics', () => {
  it('keeps a bounded ring of the most recent records, filterable by host', async () => {
    const { app, runtime, world } = setup(3)
    const shop = plan({ client: client(world, 'SYD'), host: 'eu-shop.example' }, world)
    const global = plan({ client: client(world, 'SYD'), host: 'global.example' }, world)
    const records = [shop, global, shop, global, shop].map((p) => recordFor(p))
    for (const r of records) runtime.events.emit('request', r)
    const res = await app.inject('/api/ledger')
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    const body = res.json()
    expect(body).toMatchObject({ capacity: 3, total: 5 })
    // Held as text, answered as the records themselves.
    expect(body.records).toEqual(records.slice(2).map((r) => JSON.parse(JSON.stringify(r))))
    expect(body.records.map((r: RequestRecord) => r.ray)).toEqual(records.slice(2).map((r) => r.ray))
    const byHost = (await app.inject('/api/ledger?host=Global.Example')).json()
    expect(byHost.records.map((r: RequestRecord) => r.ray)).toEqual([records[3]?.ray])
    const limited = (await app.inject('/api/ledger?limit=1')).json()
    expect(limited.records.map((r: RequestRecord) => r.ray)).toEqual([records[4]?.ray])
  })

  it('answers one record by its ray while the ring holds it, then 404 SIM_ERR_RAY_UNKNOWN', async () => {
    const { app, runtime, world } = setup(2)
    const p = plan({ client: client(world, 'SYD'), host: 'eu-shop.example' }, world)
    const records = [1, 2, 3].map(() => recordFor(p))
    for (const r of records) runtime.events.emit('request', r)
    const held = await app.inject(`/api/ledger/${records[2]!.ray}`)
    expect(held.statusCode).toBe(200)
    expect(held.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(held.json()).toEqual(JSON.parse(JSON.stringify(records[2])))
    expect((await app.inject(`/api/ledger/${records[1]!.ray}`)).json().ray).toBe(records[1]!.ray)
    // Overwritten by the third: the ring holds two.
    const gone = await app.inject(`/api/ledger/${records[0]!.ray}`)
    expect(gone.statusCode).toBe(404)
    expectErrorShape(gone.json(), 'SIM_ERR_RAY_UNKNOWN')
    expect(gone.json().error.message).toContain('it keeps the latest 2 of the 3 requests of this run')
    // The stream is still the stream, not a ray.
    expect((await app.inject({ method: 'HEAD', url: '/api/ledger/stream' })).headers['content-type']).toMatch(/^text\/event-stream/)
    expect((await app.inject(`/api/ledger/${'x'.repeat(65)}`)).statusCode).toBe(400)
  })

  it('ring buffer wraps in order', () => {
    const store = createLedgerStore(2)
    const { world } = buildWorld(scenario)
    const p = plan({ client: client(world, 'LHR'), host: 'uk-news.example' }, world)
    const rs = [1, 2, 3, 4, 5].map(() => recordFor(p))
    rs.forEach((r, i) => {
      store.add(r)
      expect(store.list().map((x) => x.ray)).toEqual(rs.slice(Math.max(0, i - 1), i + 1).map((x) => x.ray))
    })
    expect(() => createLedgerStore(0)).toThrow(RangeError)
  })

  it('keeps the measured times of hops that went as planned for every slot of a large ring, as it fills and wraps', () => {
    const { world } = buildWorld(scenario)
    const p = plan({ client: client(world, 'SYD'), host: 'eu-shop.example' }, world)
    if (p.outcome !== 'served') throw new Error('expected a served plan')
    const store = createLedgerStore(300)
    const records = Array.from({ length: 450 }, (_, n) => ({
      ...recordFor(p),
      ray: `r${n}`,
      hops: p.hops.map((h, i) => ({ from: h.from, to: h.to, kind: h.kind as MeasuredHop['kind'], modelledMs: h.rttMs, measuredMs: n + i / 10 }))
    }))
    for (const r of records.slice(0, 200)) store.add(r)
    expect(store.list().map((e) => JSON.parse(e.json))).toEqual(records.slice(0, 200).map((r) => JSON.parse(JSON.stringify(r))))
    for (const r of records.slice(200)) store.add(r)
    expect(store.list().map((e) => JSON.parse(e.json))).toEqual(records.slice(150).map((r) => JSON.parse(JSON.stringify(r))))
  })

  it('keeps any record as JSON that reads back as the record, whichever optional fields it has and whether or not its hops went as planned', () => {
    const { world } = buildWorld(scenario)
    const plans = [
      plan({ client: client(world, 'SYD'), host: 'eu-shop.example' }, world),
      plan({ client: client(world, 'FRA'), host: 'de-gov.example', down: popsOf(world, 'de') }, world)
    ]
    const hop = fc.record({
      from: fc.string(), to: fc.string(), kind: fc.constantFrom('access', 'relay', 'origin', 'key'), modelledMs: fc.double({ noNaN: true, noDefaultInfinity: true }), measuredMs: fc.double({ noNaN: true, noDefaultInfinity: true })
    })
    // The hops of a served plan with measured times (what a request that went as planned reports), or any hops at all.
    const time = fc.double({ noNaN: true, noDefaultInfinity: true })
    const hopsFor = (p: Plan) => p.outcome !== 'served'
      ? fc.array(hop, { maxLength: 5 })
      : fc.oneof(fc.array(hop, { maxLength: 5 }), fc.array(time, { minLength: p.hops.length, maxLength: p.hops.length })
        .map((ts) => p.hops.map((h, i) => ({ from: h.from, to: h.to, kind: h.kind, modelledMs: h.rttMs, measuredMs: ts[i] as number }))))
    const record = fc.constantFrom(...plans).chain((p) => fc.record({
      ray: fc.string(),
      at: fc.integer({ min: 0 }),
      host: fc.string(),
      method: fc.string(),
      status: fc.integer({ min: 100, max: 599 }),
      code: fc.option(fc.string(), { nil: undefined }),
      plan: fc.constant(p),
      hops: hopsFor(p),
      measuredMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
      handshake: fc.option(fc.record({ at: fc.string(), op: fc.string(), signer: fc.string() }, { requiredKeys: ['at', 'op'] }), { nil: undefined }),
      logSink: fc.option(fc.string(), { nil: undefined }),
      settle: fc.option(fc.record({ lateMs: fc.double({ min: 0, max: 1e6, noNaN: true }), late: fc.boolean() }), { nil: undefined })
    }, { requiredKeys: ['ray', 'at', 'host', 'method', 'status', 'plan', 'hops', 'measuredMs'] }))
    fc.assert(fc.property(fc.array(record, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 4 }), (rs, capacity) => {
      const store = createLedgerStore(capacity)
      for (const r of rs) store.add(r as RequestRecord)
      const held = store.list()
      expect(held.map((e) => JSON.parse(e.json))).toEqual(rs.slice(-capacity).map((r) => JSON.parse(JSON.stringify(r))))
      // Byte for byte: the record's fields in RequestRecord's order, then its hops and its plan.
      expect(held.map((e) => e.json)).toEqual(rs.slice(-capacity).map((r) => JSON.stringify({
        ray: r.ray, at: r.at, host: r.host, method: r.method, status: r.status, code: r.code, measuredMs: r.measuredMs,
        handshake: r.handshake, logSink: r.logSink, settle: r.settle, hops: r.hops, plan: r.plan
      })))
      expect(held.map((e) => e.host)).toEqual(rs.slice(-capacity).map((r) => r.plan.host))
    }))
  })

  it('exposes Prometheus series after request events', async () => {
    const { app, runtime, world } = setup()
    runtime.events.emit('request', recordFor(plan({ client: client(world, 'SYD'), host: 'eu-shop.example' }, world)))
    // An Australian retailer with failover open, every Australian PoP down: served elsewhere, a violation.
    const auDown = popsOf(world, 'au')
    const open = plan({ client: client(world, 'SYD'), host: 'au-retail.example', down: auDown }, world)
    runtime.events.emit('request', recordFor(open))
    const closed = plan({ client: client(world, 'FRA'), host: 'de-gov.example', down: popsOf(world, 'de') }, world)
    runtime.events.emit('request', recordFor(closed))
    // A client that left before its answer: abandoned, whatever its plan.
    const left = plan({ client: client(world, 'NRT'), host: 'global.example' }, world)
    runtime.events.emit('request', { ...recordFor(left), status: 499, code: 'SIM_ERR_CLIENT_CLOSED' })
    await app.inject({ method: 'POST', url: '/api/pops/LHR/down' })

    const res = await app.inject('/metrics')
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = res.body
    if (open.outcome !== 'served') throw new Error('expected a served plan')
    expect(text).toContain('rsim_requests_total{pop="SYD",role="ingress",outcome="served"} 1')
    expect(text).toContain(`rsim_requests_total{pop="${open.inspection}",role="inspection",outcome="served"} 1`)
    expect(text).toContain(`rsim_requests_total{pop="${closed.ingress ?? ''}",role="ingress",outcome="refused"} 1`)
    expect(text).toContain(`rsim_requests_total{pop="${left.ingress ?? ''}",role="ingress",outcome="abandoned"} 1`)
    expect(text).toMatch(/rsim_hop_duration_seconds_count\{kind="relay"\} 1/)
    expect(text).toMatch(/rsim_hop_duration_seconds_bucket\{le="[0-9.]+",kind="access"\}/)
    expect(text).toContain('rsim_residency_violations_total{host="au-retail.example"} 1')
    expect(text).toContain('rsim_pops_down 1')
  })

  it('never lets a bad record fail the request that emitted it', async () => {
    const { app, runtime } = setup()
    expect(() => runtime.events.emit('request', { ray: 'broken' } as unknown as RequestRecord)).not.toThrow()
    expect((await app.inject('/healthz')).statusCode).toBe(200)
  })

  it('stops listening to the runtime when closed', async () => {
    const { app, runtime } = setup()
    expect(runtime.events.listenerCount('request')).toBe(1)
    await app.close()
    expect(runtime.events.listenerCount('request')).toBe(0)
  })
})

function openStream (url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      res.setEncoding('utf8')
      resolve(res)
    }).on('error', reject).end()
  })
}

/** Resolves with the first event block (one with an `event:` line); calls `onSubscribed` once the stream's opening comment arrived. */
function firstEvent (res: IncomingMessage, onSubscribed: () => void): Promise<string> {
  let buffer = ''
  let subscribed = false
  return new Promise<string>((resolve) => {
    res.on('data', function onData (chunk: string) {
      buffer += chunk
      // The opening comment arrives first: the client is subscribed, so an event emitted now cannot be missed.
      if (!subscribed) { subscribed = true; onSubscribed() }
      const events = buffer.split('\n\n').filter((block) => block.split('\n').some((l) => l.startsWith('event:')))
      if (events[0] !== undefined) { res.off('data', onData); resolve(events[0]) }
    })
  })
}

function dataOf (block: string): unknown {
  const line = block.split('\n').find((l) => l.startsWith('data: ')) ?? ''
  return JSON.parse(line.slice('data: '.length))
}

describe('control plane: GET /api/ledger/stream', () => {
  it('streams new records as Server-Sent Events over a real socket and forgets a client that leaves', async () => {
    const { app, runtime, world } = setup()
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    // HEAD: the stream's headers, and the response ends (no stream held open for it).
    const head = await fetch(`${address}/api/ledger/stream`, { method: 'HEAD' })
    expect([head.status, head.headers.get('content-type')]).toEqual([200, 'text/event-stream; charset=utf-8'])
    const res = await openStream(`${address}/api/ledger/stream`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/)

    const record = recordFor(plan({ client: client(world, 'SYD'), host: 'eu-shop.example' }, world))
    const first = await firstEvent(res, () => runtime.events.emit('request', record))
    const lines = first.split('\n')
    expect(lines).toContain(`id: ${record.ray}`)
    expect(lines).toContain('event: request')
    expect(dataOf(first)).toMatchObject({ ray: record.ray, host: 'eu-shop.example', plan: { ingress: 'SYD' } })

    // Heartbeats keep the stream alive while nothing happens (every 50 ms here).
    await new Promise<void>((resolve) => res.on('data', function onBeat (chunk: string) {
      if (chunk.includes(': heartbeat')) { res.off('data', onBeat); resolve() }
    }))

    res.destroy()
    for (let i = 0; i < 100; i++) {
      if ((await app.inject('/healthz')).json().sseClients === 0) break
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect((await app.inject('/healthz')).json().sseClients).toBe(0)
  })

  it('sends only the asked host\'s records, and health changes to everyone', async () => {
    const { app, runtime, world } = setup()
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    const res = await openStream(`${address}/api/ledger/stream?host=global.example`)
    const shop = recordFor(plan({ client: client(world, 'SYD'), host: 'eu-shop.example' }, world))
    const global = recordFor(plan({ client: client(world, 'SYD'), host: 'global.example' }, world))
    const first = await firstEvent(res, () => {
      runtime.events.emit('request', shop)
      runtime.events.emit('request', global)
    })
    expect(dataOf(first)).toMatchObject({ ray: global.ray })
    const health = firstEvent(res, () => {})
    void runtime.setPopDown('FRA', true)
    expect(await health).toContain('event: health')
    res.destroy()
  })

  it('resends what a reconnecting client missed after its Last-Event-ID', async () => {
    const { app, runtime, world } = setup()
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    const p = plan({ client: client(world, 'LHR'), host: 'uk-news.example' }, world)
    const rs = [1, 2, 3].map(() => recordFor(p))
    for (const r of rs) runtime.events.emit('request', r)
    const res = await openStream(`${address}/api/ledger/stream`, { 'last-event-id': rs[0]?.ray ?? '' })
    let text = ''
    await new Promise<void>((resolve) => res.on('data', function onData (chunk: string) {
      text += chunk
      if (text.includes(`id: ${rs[2]?.ray}`)) { res.off('data', onData); resolve() }
    }))
    const ids = text.split('\n').filter((l) => l.startsWith('id: ')).map((l) => l.slice(4))
    expect(ids).toEqual([rs[1]?.ray, rs[2]?.ray])
    res.destroy()
  })

  it('closes open streams when the app closes', async () => {
    const { app } = setup()
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    const res = await openStream(`${address}/api/ledger/stream`)
    const ended = new Promise<void>((resolve) => { res.on('end', resolve); res.resume() })
    await app.close()
    await ended
  })
})
