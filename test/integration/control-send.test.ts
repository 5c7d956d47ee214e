// POST /api/requests: the control plane sends a real request through the anycast edge for a client and a customer
// (what the teaching page's "Send through the edge" does) and reports what the client saw. Real sockets on loopback.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { RequestRecord } from '../../src/services/records.ts'
import { buildControlApp } from '../../src/services/control/app.ts'
import { errorCode, eventually, get, startSmall } from './live-helpers.ts'

type Runtime = Awaited<ReturnType<typeof startSmall>>
let rt: Runtime | undefined
afterEach(async () => { await rt?.close(); rt = undefined })

async function start (): Promise<Runtime> {
  rt = await startSmall({}, { controlApp: buildControlApp, ipLocator: { lookup: () => undefined } })
  return rt
}

function send (r: Runtime, body: unknown) {
  return get(`${r.controlUrl}/api/requests`, { 'content-type': 'application/json' }, { method: 'POST', body: JSON.stringify(body) })
}

describe('POST /api/requests', () => {
  it('sends at most maxSends at once: the rest get 429 SIM_ERR_TOO_MANY_SENDS with Retry-After, and a later one goes', async () => {
    const r = rt = await startSmall({}, { latency: true, timeScale: 1, controlApp: (runtime, deps) => buildControlApp(runtime, { ...deps, maxSends: 2 }), ipLocator: { lookup: () => undefined } })
    // Sydney to the EU shop: about a quarter of a second each, so all six are asked for while the first two are out.
    const answers = await Promise.all(Array.from({ length: 6 }, () => send(r, { host: 'eu-shop.example', client: 'Sydney' })))
    const statuses = answers.map((a) => a.status).sort()
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429])
    for (const a of answers.filter((x) => x.status === 429)) {
      expect(a.headers['retry-after']).toBe('1')
      expect(a.json().error).toMatchObject({ code: 'SIM_ERR_TOO_MANY_SENDS', message: expect.stringContaining('2 requests are already being sent') })
    }
    expect(answers.filter((x) => x.status === 200).map((a) => a.json().status)).toEqual([200, 200])
    // Once those have finished, the next one is sent.
    expect((await send(r, { host: 'eu-shop.example', client: 'Sydney' })).json()).toMatchObject({ status: 200, ingress: 'SYD' })
  })

  it('sends the request through the edge on a new connection and reports where it went; the request is recorded as any other', async () => {
    const r = await start()
    const recs: RequestRecord[] = []
    r.events.on('request', (rec) => recs.push(rec))
    for (let i = 0; i < 2; i++) {
      const a = await send(r, { host: 'eu-shop.example', client: 'Sydney', path: '/cart?item=1' })
      expect(a.status).toBe(200)
      const out = a.json()
      expect(out).toMatchObject({ status: 200, ingress: 'SYD', tlsHandshake: 'local' })
      expect(out.ray).toMatch(/^[0-9a-f]{16}-SYD$/)
      expect(r.world.regions.get('eu')?.popIds).toContain(out.inspectedAt)
      expect(out.serverTiming).toMatch(/^access;desc="client->SYD";dur=[\d.]+, relay;desc="SYD->[A-Z]{3}";dur=[\d.]+, origin;/)
      expect(out.ms).toBeGreaterThan(0)
      expect(out.error).toBeUndefined()
      // Recorded like a curl request: its ray, its host, the client's city.
      const rec = recs.find((x) => x.ray === out.ray)
      expect(rec).toMatchObject({ host: 'eu-shop.example', method: 'GET', status: 200, handshake: { op: 'local' } })
      expect(rec?.plan.client).toMatchObject({ input: 'Sydney' })
    }
  })

  it('reports a refusal as the client saw it, at the ingress or at the edge, and an accented city as its PoP', async () => {
    const r = await start()
    const recs: RequestRecord[] = []
    r.events.on('request', (rec) => recs.push(rec))
    // A host no customer has reaches the ingress nearest the client, which refuses it, and is recorded there.
    const unknown = (await send(r, { host: 'nope.example', client: 'SYD' })).json()
    expect(unknown).toMatchObject({ status: 421, ingress: 'SYD', error: { code: 'SIM_ERR_HOST_UNKNOWN' } })
    const rec = await eventually(async () => recs.find((x) => x.ray === unknown.ray))
    expect(rec).toMatchObject({ host: 'nope.example', status: 421, code: 'SIM_ERR_HOST_UNKNOWN', plan: { outcome: 'refused', ingress: 'SYD' } })
    // A client the edge cannot place has no ingress: the edge refuses it.
    const misspelt = (await send(r, { host: 'eu-shop.example', client: 'Frankfrut' })).json()
    expect(misspelt).toMatchObject({ status: 400, ingress: null, error: { code: 'SIM_ERR_CLIENT_LOCATION_INVALID', message: expect.stringContaining('did you mean Frankfurt (FRA) or Frankfort, US?') } })
    // Without a client: the scenario's default one (LHR).
    expect((await send(r, { host: 'eu-shop.example' })).json()).toMatchObject({ status: 200, ingress: 'LHR' })
    // Accents dropped for the header, as the city lookup ignores them anyway.
    expect((await send(r, { host: 'eu-shop.example', client: 'Mǜnich' })).json()).toMatchObject({ status: 200, ingress: 'MUC' })
  })

  it.each([200, 404])('reads a large answer (%i) to its end: reported with its status, recorded as answered, not as a client gone', async (status) => {
    // 16 MB: far more than an error answer of the simulator's, or than undici's dump() reads before it cuts the socket.
    const origin = createServer((_req, res) => { res.writeHead(status, { 'content-type': 'text/html' }); res.end('<p>page</p>'.repeat(1_600_000)) })
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
    try {
      rt = await startSmall({}, {
        controlApp: buildControlApp,
        ipLocator: { lookup: () => undefined },
        externalOrigins: new Map([['global.example', `http://127.0.0.1:${(origin.address() as AddressInfo).port}`]])
      })
      const recs: RequestRecord[] = []
      rt.events.on('request', (rec) => recs.push(rec))
      const out = (await send(rt, { host: 'global.example', client: 'SJC' })).json()
      expect(out).toMatchObject({ status, ingress: 'SJC', inspectedAt: 'SJC' })
      expect(out.error).toBeUndefined()
      // Recorded as answered, not as a client that went away mid-answer (499).
      await eventually(async () => recs.find((r) => r.ray === out.ray))
      expect(recs.find((r) => r.ray === out.ray)).toMatchObject({ status })
    } finally {
      await rt?.close()
      rt = undefined
      await new Promise((resolve) => origin.close(resolve))
    }
  })

  it.each([
    [{ client: 'SYD' }, /body must have required property 'host'|body\/host/],
    [{ host: 'eu shop.example' }, /body\/host/],
    [{ host: 'eu-shop.example', path: 'no-slash' }, /body\/path/],
    [{ host: 'eu-shop.example', path: '/a b' }, /body\/path/],
    [{ host: 'eu-shop.example', method: 'DELETE' }, /body\/method unexpected property/],
    [{ host: 'eu-shop.example', client: '東京' }, /body\/client: "東京" cannot be sent in a header/],
    [{ host: 'eu-shop.example', client: 'SYD\r\nx-sim-fwd: forged' }, /body\/client/]
  ])('refuses %j with 400 SIM_ERR_INPUT_INVALID, sending nothing', async (body, message) => {
    const r = await start()
    const recs: RequestRecord[] = []
    r.events.on('request', (rec) => recs.push(rec))
    const a = await send(r, body)
    expect(a.status).toBe(400)
    expect(errorCode(a)).toBe('SIM_ERR_INPUT_INVALID')
    expect((a.json().error as { message: string }).message).toMatch(message)
    expect(recs).toEqual([])
  })
})
