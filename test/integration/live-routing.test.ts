// The live data path end to end on loopback: ingress, relay, inspection in region, origin, headers and records.
import { afterEach, describe, expect, it } from 'vitest'
import type { RequestRecord } from '../../src/services/records.ts'
import { errorCode, eventually, get, startSmall } from './live-helpers.ts'

type Runtime = Awaited<ReturnType<typeof startSmall>>
let rt: Runtime | undefined
afterEach(async () => { await rt?.close(); rt = undefined })

function records (r: Runtime): RequestRecord[] {
  const out: RequestRecord[] = []
  r.events.on('request', (rec) => out.push(rec))
  return out
}

function inRegion (r: Runtime, region: string, pop: string): boolean {
  return r.world.regions.get(region)?.popIds.includes(pop) === true
}

describe('live routing', () => {
  it('takes eu-shop.example from Sydney in at SYD and has it inspected in the EU, where the origin sees it from', async () => {
    rt = await startSmall()
    const recs = records(rt)
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const a = await get(`${rt.edgeUrl}/cart?item=42`, {
      host: 'eu-shop.example',
      'x-sim-client': 'SYD',
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`
    })
    expect(a.status).toBe(200)
    expect(a.headers['x-sim-ingress']).toBe('SYD')
    expect(a.headers['x-sim-ray']).toMatch(/^[0-9a-f]{16}-SYD$/)
    const inspectedAt = a.headers['x-sim-inspected-at'] as string
    expect(inRegion(rt, 'eu', inspectedAt)).toBe(true)
    const body = a.json()
    expect(body.seenFrom).toBe(inspectedAt)
    expect(a.headers['x-sim-origin-seen-from']).toBe(inspectedAt)
    // The customer's inspection header reached the origin: it was added by the inspection PoP.
    expect(body.inspected).toBe('eu-shop')
    expect(body.path).toBe('/cart?item=42')
    // W3C trace context: the same trace, a new span.
    expect(a.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`))
    expect(a.headers.traceparent).not.toContain('00f067aa0ba902b7')
    // Reports meant for a PoP go no further: the inspection PoP's to its ingress, the origin's service time.
    expect(Object.keys(a.headers).filter((h) => h.startsWith('x-sim-fwd') || h === 'x-sim-origin-service-ms')).toEqual([])

    const rec = await eventually(async () => recs[0])
    expect(rec.ray).toBe(a.headers['x-sim-ray'])
    expect(rec.plan.outcome).toBe('served')
    expect(rec.logSink).toBe('FRA')
    // The request's log record reached the EU log core, and only metadata.
    const sink = rt.logSinkUrls.get('FRA') as string
    const logged = await eventually(async () => {
      const l = (await get(`${sink}/logs?ray=${rec.ray}`, {})).json().records as Record<string, unknown>[]
      return l.length > 0 ? l[0] : undefined
    })
    expect(logged).toMatchObject({ host: 'eu-shop.example', pop: 'SYD', inspectedAt, status: 200 })
    expect(JSON.stringify(logged)).not.toContain('cart')
    const us = (await get(`${rt.logSinkUrls.get('IAD') as string}/logs?ray=${rec.ray}`, {})).json().records as unknown[]
    expect(us).toEqual([])
  })

  it('reports one Server-Timing entry per planned hop, in order, naming both ends', async () => {
    rt = await startSmall()
    const recs = records(rt)
    for (const [host, client] of [['eu-shop.example', 'SYD'], ['us-bank.example', 'LHR'], ['global.example', 'SJC']] as const) {
      const a = await get(`${rt.edgeUrl}/`, { host, 'x-sim-client': client })
      expect(a.status).toBe(200)
      const rec = await eventually(async () => recs.find((r) => r.ray === a.headers['x-sim-ray']))
      if (rec.plan.outcome !== 'served') throw new Error('expected a served plan')
      const entries = String(a.headers['server-timing']).split(', ').map((e) => {
        const m = /^(\w+);desc="([^"]+)->([^"]+)";dur=(\d+\.\d+)$/.exec(e)
        if (!m) throw new Error(`malformed Server-Timing entry ${e}`)
        return { kind: m[1], from: m[2], to: m[3] }
      })
      expect(entries).toEqual(rec.plan.hops.map((h) => ({ kind: h.kind, from: h.from, to: h.to })))
      expect(rec.hops.map((h) => h.kind)).toEqual(rec.plan.hops.map((h) => h.kind))
    }
  })

  it('refuses de-gov.example with every German PoP down, and nothing is decrypted outside Germany', async () => {
    rt = await startSmall()
    const recs = records(rt)
    for (const id of ['DUS', 'FRA', 'HAM', 'MUC', 'STR', 'TXL']) await rt.setPopDown(id, true)
    const a = await get(`${rt.edgeUrl}/forms/tax`, { host: 'de-gov.example', 'x-sim-client': 'CDG' })
    expect(a.status).toBe(503)
    expect(errorCode(a)).toBe('SIM_ERR_REGION_UNAVAILABLE')
    expect(a.headers['x-sim-inspected-at']).toBe('none')
    const rec = await eventually(async () => recs[0])
    expect(rec.plan.ledger.filter((l) => l.category === 'plaintext')).toEqual([])
    // No PoP handled plaintext: none ran the inspection role, and the origin was never called.
    expect(rt.lines.filter((l) => l.role === 'inspection')).toEqual([])
    expect(rec.hops.map((h) => h.kind)).toEqual(['access'])
  })

  it('moves the next request to another EU PoP when the chosen one is taken down, whose port then refuses connections', async () => {
    rt = await startSmall()
    const first = await get(`${rt.edgeUrl}/`, { host: 'eu-shop.example', 'x-sim-client': 'SYD' })
    const chosen = first.headers['x-sim-inspected-at'] as string
    const url = rt.popUrl(chosen) as string
    await rt.setPopDown(chosen, true)
    expect(rt.popUrl(chosen)).toBeUndefined()
    await expect(get(url, { host: 'eu-shop.example' })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    const second = await get(`${rt.edgeUrl}/`, { host: 'eu-shop.example', 'x-sim-client': 'SYD' })
    expect(second.status).toBe(200)
    const next = second.headers['x-sim-inspected-at'] as string
    expect(next).not.toBe(chosen)
    expect(inRegion(rt, 'eu', next)).toBe(true)
    await rt.setPopDown(chosen, false)
    expect((await get(url, { host: 'eu-shop.example', 'x-sim-client': 'SYD' })).status).toBe(200)
  })

  it('re-plans once when the inspection PoP it planned on does not answer, for a POST too', async () => {
    rt = await startSmall()
    const first = await get(`${rt.edgeUrl}/`, { host: 'eu-shop.example', 'x-sim-client': 'SYD' })
    const chosen = first.headers['x-sim-inspected-at'] as string
    await rt.setPopDown(chosen, true)
    // The world still believes it healthy, so the ingress plans on it and finds the listener gone.
    const index = rt.world.topology.byId.get(chosen)?.index as number
    rt.world.health.down[index] = 0
    const a = await get(`${rt.edgeUrl}/order`, { host: 'eu-shop.example', 'x-sim-client': 'SYD', 'content-type': 'text/plain' }, { method: 'POST', body: 'two apples' })
    expect(a.status).toBe(200)
    const next = a.headers['x-sim-inspected-at'] as string
    expect(next).not.toBe(chosen)
    expect(inRegion(rt, 'eu', next)).toBe(true)
    expect(a.json().requestBytes).toBe(10)
    expect(rt.lines.some((l) => l.msg === 'inspection PoP unreachable, re-planned' && l.unreachable === chosen)).toBe(true)
  })

  it('takes a client in a city with no PoP of the scenario in at the nearest one: New York at IAD, Pyongyang at NRT', async () => {
    rt = await startSmall()
    for (const [client, ingress] of [['New York', 'IAD'], ['pyongyang', 'NRT'], ['Portland, ME', 'IAD']]) {
      const a = await get(`${rt.edgeUrl}/`, { host: 'global.example', 'x-sim-client': client as string })
      expect([client, a.status, a.headers['x-sim-ingress']]).toEqual([client, 200, ingress])
    }
    // A name several cities share is refused with them, not guessed.
    const shared = await get(`${rt.edgeUrl}/`, { host: 'global.example', 'x-sim-client': 'Springfield' })
    expect([shared.status, errorCode(shared)]).toEqual([400, 'SIM_ERR_CLIENT_LOCATION_INVALID'])
    expect(shared.json()).toMatchObject({ error: { message: expect.stringContaining('5 cities have that name: Springfield, MA') } })
  })

  it('answers unknown hosts, bad client locations and WAF hits with their codes', async () => {
    rt = await startSmall()
    // A host no customer has reaches the ingress nearest the client, which refuses it under its own ray.
    const unknown = await get(`${rt.edgeUrl}/`, { host: 'nobody.example', 'x-sim-client': 'SYD' })
    expect([unknown.status, errorCode(unknown)]).toEqual([421, 'SIM_ERR_HOST_UNKNOWN'])
    expect(unknown.headers['x-sim-ingress']).toBe('SYD')
    expect(unknown.headers['x-sim-ray']).toMatch(/-SYD$/)
    expect(unknown.headers['x-sim-inspected-at']).toBe('none')
    const badIp = await get(`${rt.edgeUrl}/`, { host: 'global.example', 'x-sim-client-ip': '999.1.1.1' })
    expect([badIp.status, errorCode(badIp)]).toEqual([400, 'SIM_ERR_CLIENT_IP_INVALID'])
    const badPlace = await get(`${rt.edgeUrl}/`, { host: 'global.example', 'x-sim-client': '91,200' })
    expect([badPlace.status, errorCode(badPlace)]).toEqual([400, 'SIM_ERR_CLIENT_LOCATION_INVALID'])
    // Two x-sim-client fields, at the anycast edge and at a PoP's own port: refused, not joined into "lat, lon".
    for (const url of [rt.edgeUrl, rt.popUrl('MEL') as string]) {
      const twice = await get(`${url}/`, ['host', 'global.example', 'x-sim-client', '10', 'x-sim-client', '20'])
      expect([twice.status, errorCode(twice)], url).toEqual([400, 'SIM_ERR_BAD_REQUEST'])
      expect(twice.json().error).toMatchObject({ message: expect.stringContaining('x-sim-client must be sent once') })
    }
    const sqli = await get(`${rt.edgeUrl}/item?id=1%27%20OR%20%271%27=%271`, { host: 'eu-shop.example', 'x-sim-client': 'SYD' })
    expect([sqli.status, errorCode(sqli)]).toEqual([403, 'SIM_ERR_WAF_BLOCKED'])
    expect(sqli.headers['x-sim-inspected-at']).not.toBe('SYD')
    const traversal = await get(`${rt.edgeUrl}/static/..%2f..%2fetc/passwd`, { host: 'global.example', 'x-sim-client': 'SJC' })
    expect([traversal.status, errorCode(traversal)]).toEqual([403, 'SIM_ERR_WAF_BLOCKED'])
    for (const a of [unknown, badIp, sqli]) expect(Object.keys(a.json().error as object).sort()).toEqual(['code', 'message', 'ray'])
  })

  it('serves a client that sends its request straight to a PoP port, with that PoP as ingress', async () => {
    rt = await startSmall()
    const a = await get(`${rt.popUrl('MEL') as string}/`, { host: 'eu-shop.example', 'x-sim-client': 'SYD' })
    expect(a.status).toBe(200)
    expect(a.headers['x-sim-ingress']).toBe('MEL')
    expect(a.headers['x-sim-ray']).toMatch(/-MEL$/)
  })
})
