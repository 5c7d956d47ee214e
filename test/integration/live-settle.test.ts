// Settling against the modelled total, with latency on: the ingress lets a served response leave when the plan's
// modelled total has passed since the request came in, so time the simulation spends beyond the model comes out of the
// last response leg instead of adding to it; answers that did not follow their plan keep the plain response leg. With
// jitter, the deadline adds the jitter each wait was given, so the variation still reaches the client. A time scale of 10 makes each access leg 30 ms, far above timer and machine noise.
import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildControlApp } from '../../src/services/control/app.ts'
import type { RequestRecord } from '../../src/services/records.ts'
import { errorCode, eventually, get, liveRuntimePerTest, type Answer } from './live-helpers.ts'

const SLOW = 'slow-origin.example'
const GONE = 'gone-origin.example'
const NEAR = 'near-origin.example'
const EXTRA_MS = 150

/** Measured ms of the access hop, from the Server-Timing header. */
function accessMs (a: Answer): number {
  const m = /access;desc="[^"]*";dur=([\d.]+)/.exec(String(a.headers['server-timing']))
  if (!m) throw new Error(`no access hop in ${String(a.headers['server-timing'])}`)
  return Number(m[1])
}

describe('settling a request against its modelled total', () => {
  const live = liveRuntimePerTest()
  let slowOrigin: Server
  let slowUrl: string

  beforeAll(async () => {
    // An origin that takes EXTRA_MS of real time the model does not know about.
    slowOrigin = createServer((_req, res) => { setTimeout(() => res.end('slow'), EXTRA_MS) })
    await new Promise<void>((resolve) => slowOrigin.listen(0, '127.0.0.1', resolve))
    slowUrl = `http://127.0.0.1:${(slowOrigin.address() as AddressInfo).port}`
  })
  afterAll(async () => { await new Promise((resolve) => slowOrigin.close(resolve)) })

  const customer = (host: string) => ({
    host, region: null, keys: { mode: 'everywhere' as const }, logRegion: null, failover: 'closed' as const, chinaNetwork: false,
    origin: { pop: 'FRA', responseBytes: 64, serviceTimeMs: 1 }
  })

  async function start (jitter: number) {
    return live.start(
      { latency: { enabled: true, timeScale: 10, jitter }, customers: [customer(SLOW), customer(GONE), customer(NEAR)] },
      // The second origin's address refuses connections: that request is answered 502 without following its plan.
      { externalOrigins: new Map([[SLOW, slowUrl], [GONE, 'http://127.0.0.1:1']]) }
    )
  }

  it('takes time spent beyond the model out of the last response leg of a served request', async () => {
    const rt = await start(0)
    // Modelled access round trip 6 ms x 10: two legs of 30 ms. The origin overran the model by far more than the last
    // leg, so that leg is not waited at all: the access hop measures the request leg alone. A busy machine can only
    // make a leg longer (a timer fired late), never shorter, so the least of three requests is the one to judge by.
    const times: number[] = []
    for (let i = 0; i < 3; i++) {
      const a = await get(`${rt.edgeUrl}/`, { host: SLOW, 'x-sim-client': 'FRA' })
      expect(a.status).toBe(200)
      expect(a.text).toBe('slow')
      times.push(accessMs(a))
    }
    expect(Math.min(...times)).toBeGreaterThanOrEqual(25)
    expect(Math.min(...times)).toBeLessThan(45)
  })

  it('bounds what an origin reports: an absurd jitter header cannot hold the response', async () => {
    // A real origin may send any header; this one claims its service time drew a day of jitter.
    const liar = createServer((_req, res) => { res.setHeader('x-sim-origin-jitter-ms', '86400000'); res.end('ok') })
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve))
    try {
      const rt = await live.start(
        { latency: { enabled: true, timeScale: 10, jitter: 0.3 }, customers: [customer(SLOW)] },
        { externalOrigins: new Map([[SLOW, `http://127.0.0.1:${(liar.address() as AddressInfo).port}`]]) }
      )
      const t = performance.now()
      const a = await get(`${rt.edgeUrl}/`, { host: SLOW, 'x-sim-client': 'FRA' })
      expect(a.status).toBe(200)
      // Modelled 82.5 ms; at most 30% more from jitter, whatever the origin says.
      expect(performance.now() - t).toBeLessThan(82.5 * 1.3 + 500)
    } finally {
      await new Promise((resolve) => liar.close(resolve))
    }
  })

  it('takes the time an origin exchange overran its outbound wait and reported service time out of its response wait', async () => {
    // An origin that says it served in 0 ms but answers 40 ms later: to the inspection PoP, 40 ms of the exchange are
    // the simulation's own (sockets, late timers, a busy loop), which the response direction's wait leaves out.
    const OVER_MS = 40
    const quick = createServer((_req, res) => {
      setTimeout(() => { res.setHeader('x-sim-origin-service-ms', '0.000'); res.end('ok') }, OVER_MS)
    })
    await new Promise<void>((resolve) => quick.listen(0, '127.0.0.1', resolve))
    const far = { ...customer(SLOW), origin: { pop: 'SIN', responseBytes: 64, serviceTimeMs: 1 } }
    try {
      const rt = await live.start(
        { latency: { enabled: true, timeScale: 1, jitter: 0 }, customers: [far, { ...customer(NEAR), host: 'honest.example', origin: { pop: 'SIN', responseBytes: 64, serviceTimeMs: 1 } }] },
        // The control plane too, for the ledger's hop records.
        { externalOrigins: new Map([[SLOW, `http://127.0.0.1:${(quick.address() as AddressInfo).port}`], ['honest.example', slowUrl]]), controlApp: buildControlApp, controlPort: 0 }
      )
      const originHop = async (host: string) => {
        const a = await get(`${rt.edgeUrl}/`, { host, 'x-sim-client': 'FRA' })
        expect(a.status).toBe(200)
        const ledger = await get(`${rt.controlUrl}/api/ledger?host=${host}&limit=1`, {})
        const hops = (JSON.parse(ledger.text) as { records: { hops: { kind: string, modelledMs: number, measuredMs: number }[] }[] }).records[0]?.hops ?? []
        return hops.find((h) => h.kind === 'origin') as { modelledMs: number, measuredMs: number }
      }
      const overran = await originHop(SLOW)
      expect(overran.modelledMs).toBeGreaterThan(2 * OVER_MS)
      // The hop takes its modelled round trip (plus timer noise), not the round trip plus the 40 ms overrun.
      expect(overran.measuredMs).toBeGreaterThan(overran.modelledMs - 5)
      expect(overran.measuredMs).toBeLessThan(overran.modelledMs + OVER_MS / 2)
      // An external origin that reports nothing keeps its whole time: the hop measures the model plus its 150 ms.
      const honest = await originHop('honest.example')
      expect(honest.measuredMs).toBeGreaterThan(honest.modelledMs + EXTRA_MS - 5)
    } finally {
      await new Promise((resolve) => quick.close(resolve))
    }
  })

  it('keeps the whole response leg for an answer that did not follow its plan', async () => {
    const rt = await start(0)
    const a = await get(`${rt.edgeUrl}/`, { host: GONE, 'x-sim-client': 'FRA' })
    expect([a.status, errorCode(a)]).toEqual([502, 'SIM_ERR_ORIGIN_UNREACHABLE'])
    expect(accessMs(a)).toBeGreaterThan(50)
  })

  it('settles with jitter too, against the modelled total plus the jitter drawn, which still reaches the client', async () => {
    const rt = await start(0.3)
    const slow = await get(`${rt.edgeUrl}/`, { host: SLOW, 'x-sim-client': 'FRA' })
    expect(slow.status).toBe(200)
    // The request leg is 30 ms +/- 30%; the response leg is absorbed by the origin's overrun.
    expect(accessMs(slow)).toBeLessThan(45)
    // An in-process origin reports the jitter of its service time; totals vary from request to request.
    const totals: number[] = []
    for (let i = 0; i < 16; i++) {
      const t = performance.now()
      const a = await get(`${rt.edgeUrl}/`, { host: NEAR, 'x-sim-client': 'FRA' })
      totals.push(performance.now() - t)
      expect(a.status).toBe(200)
      expect(Number(a.headers['x-sim-origin-jitter-ms'])).not.toBeNaN()
    }
    // Modelled 82.5 ms (access 60, origin 10, service 10, processing 2.5); each wait varies by up to 30%, both ways:
    // settled against the model alone, no request could come back faster than the model.
    expect(Math.max(...totals) - Math.min(...totals)).toBeGreaterThan(3)
    expect(Math.min(...totals)).toBeLessThan(82.5 - 1)
  })

  it('does not count the time a client takes to send its body as the simulation falling behind', async () => {
    const rt = await live.start({ latency: { enabled: true, timeScale: 1, jitter: 0 } })
    const records: RequestRecord[] = []
    rt.events.on('request', (rec) => records.push(rec))
    const { port } = new URL(rt.edgeUrl)
    const PAUSE_MS = 300
    // Relayed (LHR > an EU PoP) and inspected where it lands (FRA): half the body, a pause, the other half.
    for (const client of ['LHR', 'FRA']) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1')
        let text = ''
        socket.on('data', (c: Buffer) => { text += c.toString('latin1') })
        socket.on('end', () => resolve(text))
        socket.on('error', reject)
        socket.on('connect', () => {
          socket.write(`POST /upload HTTP/1.1\r\nHost: eu-shop.example\r\nx-sim-client: ${client}\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello`)
          setTimeout(() => socket.write('world'), PAUSE_MS)
        })
      })
      expect(answer).toMatch(/^HTTP\/1\.1 200 /)
      const rec = await eventually(async () => records.find((r) => r.plan.outcome === 'served' && r.plan.ingress === client))
      // The response left PAUSE_MS after the model's time, all of it the client's: none of it counts as lateness.
      // (A busy machine may still make a response a few ms late, which the record rightly says; the pause would be
      // PAUSE_MS of it.) The record's clock starts when the server has read the head, which a loaded machine may do
      // a few ms after the client wrote it, so the pause it sees can be a little shorter than the client's.
      expect(rec.measuredMs).toBeGreaterThan(PAUSE_MS * 0.9)
      expect(rec.settle?.lateMs).toBeLessThan(PAUSE_MS / 3)
    }
    expect(rt.fidelity?.snapshot().maxLateMs).toBeLessThan(PAUSE_MS / 3)
  })
})
