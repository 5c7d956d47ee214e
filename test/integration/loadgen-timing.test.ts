// The load generator's check of its own response times: on a closed loop without pipelining, a connection's response
// times cannot add up to more than its time. A server that closes kept-alive connections (nginx after
// `keepalive_requests`, 1,000 by default; Node with `maxRequestsPerSocket`) makes autocannon 9 match responses to
// requests queued before the reconnection; the check must catch that, and pass on a server that keeps connections.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AlternatingResult, JobResult, PacedResult, StreamResult } from '../../bench/lib/loadgen.ts'
import { spawnChild, type Child } from '../../bench/lib/rpc.ts'
import { TIMED_SHARE_LIMIT, timingMismatch } from '../../bench/lib/stats.ts'

/** A server answering `ok`; with `closeAfter`, it ends each connection after that many responses, as nginx does. */
function listen (closeAfter: number): Promise<Server> {
  const served = new WeakMap<object, number>()
  const server = createServer((req, res) => {
    const n = (served.get(req.socket) ?? 0) + 1
    served.set(req.socket, n)
    res.setHeader('content-type', 'text/plain')
    // The last response says so; the socket then closes, whatever the client has sent on it since.
    if (closeAfter > 0 && n >= closeAfter) res.setHeader('connection', 'close')
    res.end('ok')
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

/** A server answering `ok` after `ms`. */
function listenSlow (ms: number): Promise<Server> {
  const server = createServer((_req, res) => { setTimeout(() => res.end('ok'), ms) })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

describe('load generator timing check', () => {
  let loadgen: Child
  let keeps: Server
  let closes: Server
  let slow: Server
  let failing: Server
  beforeAll(async () => {
    loadgen = spawnChild(new URL('../../bench/lib/loadgen.ts', import.meta.url))
    keeps = await listen(0)
    closes = await listen(20)
    slow = await listenSlow(5)
    failing = createServer((_req, res) => { res.statusCode = 500; res.end('no') })
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve))
  })
  afterAll(async () => {
    await loadgen.stop()
    keeps.close()
    closes.close()
    slow.close()
    failing.close()
  })

  async function cannon (server: Server, connections: number): Promise<StreamResult> {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const res = await loadgen.call<JobResult<StreamResult[]>>('cannon', { streams: [{ id: 'probe', url, headers: {}, connections }], durationS: 1 })
    return res.results[0] as StreamResult
  }

  it('finds the response times within the connections\' time on a server that keeps its connections', async () => {
    for (const connections of [1, 4]) {
      const r = await cannon(keeps, connections)
      expect(r.responses).toBeGreaterThan(100)
      expect(r.timedShare).toBeGreaterThan(0)
      expect(r.timedShare).toBeLessThanOrEqual(TIMED_SHARE_LIMIT)
      expect(timingMismatch('keeps', [r])).toBeUndefined()
    }
  })

  it('flags the response times of a server that closes kept-alive connections', async () => {
    const r = await cannon(closes, 1)
    // Every 20 responses the server closes; each reconnection leaves one more request queued ahead of the rest.
    expect(r.responses).toBeGreaterThan(100)
    expect(r.timedShare).toBeGreaterThan(TIMED_SHARE_LIMIT)
    expect(timingMismatch('closes, 1 connection', [{ timedShare: 0.5 }, r])).toMatch(/^closes, 1 connection: in 1 of 2 runs .* not valid$/)
  })

  it('keeps the paced engine\'s own lag behind its schedule apart from the latency it measures', async () => {
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`
    const res = await loadgen.call<JobResult<PacedResult>>('paced', { url, requests: [{ headers: {} }], rate: 200, durationS: 1.5, warmupS: 0.25, connections: 8 })
    const p = res.results
    expect(p.errors).toBe(0)
    expect(p.samplesMs.length).toBeGreaterThan(150)
    expect(p.sendLagMs.length).toBe(p.samplesMs.length)
    // Node's timers run at whole milliseconds: some requests go out after their schedule, and the lag says by how much.
    expect(Math.max(...p.sendLagMs)).toBeGreaterThan(0)
    for (let i = 0; i < p.samplesMs.length; i++) {
      const lag = p.sendLagMs[i] as number
      expect(lag).toBeGreaterThanOrEqual(0)
      // From the moment it was sent, no answer can come sooner than the server's 5 ms timer allows (it counts from its
      // event loop's millisecond clock, so it may end up to 1 ms early); from the schedule, it comes the lag later.
      expect((p.samplesMs[i] as number) - lag).toBeGreaterThanOrEqual(4)
    }
  })

  it('finishes a paced job whose rate and duration round to no request, without waiting for one', async () => {
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`
    const res = await loadgen.call<JobResult<PacedResult>>('paced', { url, requests: [{ headers: {} }], rate: 0.4, durationS: 1, warmupS: 0, connections: 1 })
    expect(res.results.sent).toBe(0)
    expect(res.results.samplesMs.length).toBe(0)
    expect(res.results.achievedRps).toBe(0)
  })

  it('times one request at a time over several routes in turn, every route once a cycle', async () => {
    const url = (server: Server): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const routes = [{ url: url(keeps), headers: {} }, { url: url(slow), headers: { 'x-probe': 'slow' } }, { url: url(keeps), headers: { 'x-probe': 'again' } }]
    const res = await loadgen.call<JobResult<AlternatingResult>>('alternating', { routes, durationS: 0.5, warmupCycles: 3 })
    const r = res.results
    expect([r.non2xx, r.errors]).toEqual([0, 0])
    expect(r.cycles).toBeGreaterThan(10)
    // The warm-up cycles are dropped; every counted cycle timed each route once.
    expect(r.samplesMs.map((xs) => xs.length)).toEqual([r.cycles, r.cycles, r.cycles])
    // Nothing else was in flight: the slow route's time is its server's 5 ms timer (up to 1 ms early, as above) or more.
    for (const ms of r.samplesMs[1] as Float64Array) expect(ms).toBeGreaterThanOrEqual(4)
    // The cycles ran one after another, each waiting on the slow route once.
    expect(res.wallMs).toBeGreaterThanOrEqual(4 * (r.cycles + 3))
  })

  it('counts answers other than 2xx, and keeps no time for them', async () => {
    const routes = [{ url: `http://127.0.0.1:${(keeps.address() as AddressInfo).port}`, headers: {} }, { url: `http://127.0.0.1:${(failing.address() as AddressInfo).port}`, headers: {} }]
    const res = await loadgen.call<JobResult<AlternatingResult>>('alternating', { routes, durationS: 0.2, warmupCycles: 2 })
    const r = res.results
    expect(r.non2xx).toBe(r.cycles + 2)
    expect(r.samplesMs[0]).toHaveLength(r.cycles)
    expect(r.samplesMs[1]).toHaveLength(0)
  })
})
