// Settling against the modelled total, with latency on: the ingress lets a served response leave when the plan's
// modelled total has passed since the request came in, so time the simulation spends beyond the model comes out of the
// last response leg instead of adding to it; answers that did not follow their plan, and runs with jitter, keep the
// plain response leg. A time scale of 10 makes each access leg 30 ms, far above timer and machine noise.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { errorCode, get, liveRuntimePerTest, type Answer } from './live-helpers.ts'

const SLOW = 'slow-origin.example'
const GONE = 'gone-origin.example'
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
      { latency: { enabled: true, timeScale: 10, jitter }, customers: [customer(SLOW), customer(GONE)] },
      // The second origin's address refuses connections: that request is answered 502 without following its plan.
      { externalOrigins: new Map([[SLOW, slowUrl], [GONE, 'http://127.0.0.1:1']]) }
    )
  }

  it('takes time spent beyond the model out of the last response leg of a served request', async () => {
    const rt = await start(0)
    const a = await get(`${rt.edgeUrl}/`, { host: SLOW, 'x-sim-client': 'FRA' })
    expect(a.status).toBe(200)
    expect(a.text).toBe('slow')
    // Modelled access round trip 6 ms x 10: two legs of 30 ms. The origin overran the model by far more than the last
    // leg, so that leg is not waited at all: the access hop measures the request leg alone.
    const access = accessMs(a)
    expect(access).toBeGreaterThanOrEqual(25)
    expect(access).toBeLessThan(45)
  })

  it('keeps the whole response leg for an answer that did not follow its plan', async () => {
    const rt = await start(0)
    const a = await get(`${rt.edgeUrl}/`, { host: GONE, 'x-sim-client': 'FRA' })
    expect([a.status, errorCode(a)]).toEqual([502, 'SIM_ERR_ORIGIN_UNREACHABLE'])
    expect(accessMs(a)).toBeGreaterThan(50)
  })

  it('keeps the whole response leg with jitter, whose waits downstream are drawn where they happen', async () => {
    const rt = await start(0.01)
    const a = await get(`${rt.edgeUrl}/`, { host: SLOW, 'x-sim-client': 'FRA' })
    expect(a.status).toBe(200)
    expect(accessMs(a)).toBeGreaterThan(50)
  })
})
