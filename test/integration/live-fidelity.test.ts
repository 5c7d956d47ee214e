// The simulation's own fidelity check, with fault injection: an origin that takes 150 ms of real time the model does
// not know about stands in for a machine too busy to keep up, so its responses leave the ingress late. The request
// records, the metrics, GET /api/fidelity and a warning in the log must all say so; a response that kept to its model
// must not be counted late, and latency off has no model to keep to.
import { EventEmitter } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createFidelityMonitor } from '../../src/runtime/fidelity.ts'
import { isLate } from '../../src/core/latency.ts'
import type { FidelitySnapshot } from '../../src/services/control/runtime.ts'
import { startSimulation, type StartedSimulation } from '../../src/runtime/start.ts'
import type { RequestRecord, RuntimeEvents } from '../../src/services/records.ts'
import { captureLogger, eventually, get, smallScenario, type LogLine } from './live-helpers.ts'

const SLOW = 'slow-origin.example'
const NEAR = 'near-origin.example'
const GONE = 'gone-origin.example'
const EXTRA_MS = 150

const customer = (host: string) => ({
  host, region: null, keys: { mode: 'everywhere' as const }, logRegion: null, failover: 'closed' as const, chinaNetwork: false,
  origin: { pop: 'FRA', responseBytes: 64, serviceTimeMs: 1 }
})

describe('isLate', () => {
  it('needs both more than 1 ms and more than 5% of the modelled time', () => {
    expect(isLate(0, 100)).toBe(false)
    expect(isLate(1, 10)).toBe(false)
    expect(isLate(4.9, 100)).toBe(false)
    expect(isLate(5.1, 100)).toBe(true)
    expect(isLate(1.5, 10)).toBe(true)
    expect(isLate(0.9, 1)).toBe(false)
  })
})

describe('createFidelityMonitor', () => {
  const record = (late: boolean): RequestRecord => ({ settle: { lateMs: late ? 50 : 0.2, late } } as unknown as RequestRecord)

  async function windowWith (late: number, onTime: number): Promise<{ warnings: LogLine[], snapshot: FidelitySnapshot }> {
    const { logger, lines } = captureLogger()
    const events = new EventEmitter<RuntimeEvents>()
    const monitor = createFidelityMonitor({ events, logger, windowMs: 30 })
    try {
      for (let i = 0; i < late; i++) events.emit('request', record(true))
      for (let i = 0; i < onTime; i++) events.emit('request', record(false))
      // A record without a settle (latency off, an error answer) is not counted at all.
      events.emit('request', {} as RequestRecord)
      await new Promise((resolve) => setTimeout(resolve, 80))
      return { warnings: lines.filter((l) => l.level === 40), snapshot: monitor.snapshot() }
    } finally {
      monitor.close()
    }
  }

  it('warns when most of a window\'s responses were late, not for a tail', async () => {
    const tail = await windowWith(40, 60)
    expect(tail.warnings).toHaveLength(0)
    expect(tail.snapshot).toEqual({ settled: 100, late: 40, maxLateMs: 50, warnings: 0, recent: { responses: 100, late: 40 } })
    const behind = await windowWith(60, 40)
    expect(behind.warnings).toHaveLength(1)
    expect(behind.warnings[0]).toMatchObject({ settled: 100, late: 60, lateShare: 0.6, maxLateMs: 50 })
    expect(behind.snapshot.warnings).toBe(1)
    // Too few to judge.
    expect((await windowWith(4, 0)).warnings).toHaveLength(0)
  })

  it('keeps the verdicts of the latest 100 responses beside the totals', () => {
    const events = new EventEmitter<RuntimeEvents>()
    const monitor = createFidelityMonitor({ events, logger: captureLogger().logger })
    try {
      for (let i = 0; i < 3; i++) events.emit('request', record(true))
      expect(monitor.snapshot().recent).toEqual({ responses: 3, late: 3 })
      // 150 on time push the late ones out of the latest 100; the totals keep them.
      for (let i = 0; i < 150; i++) events.emit('request', record(false))
      expect(monitor.snapshot()).toMatchObject({ settled: 153, late: 3, recent: { responses: 100, late: 0 } })
      for (let i = 0; i < 30; i++) events.emit('request', record(true))
      expect(monitor.snapshot()).toMatchObject({ settled: 183, late: 33, recent: { responses: 100, late: 30 } })
    } finally {
      monitor.close()
    }
  })

  it('stops listening when closed', async () => {
    const events = new EventEmitter<RuntimeEvents>()
    const monitor = createFidelityMonitor({ events, logger: captureLogger().logger })
    monitor.close()
    events.emit('request', record(true))
    expect(monitor.snapshot().settled).toBe(0)
    expect(events.listenerCount('request')).toBe(0)
  })
})

describe('the fidelity monitor of a live simulation', () => {
  let slowOrigin: Server
  let slowUrl: string
  let rt: StartedSimulation | undefined
  let lines: LogLine[]

  beforeAll(async () => {
    slowOrigin = createServer((_req, res) => { setTimeout(() => res.end('slow'), EXTRA_MS) })
    await new Promise<void>((resolve) => slowOrigin.listen(0, '127.0.0.1', resolve))
    slowUrl = `http://127.0.0.1:${(slowOrigin.address() as AddressInfo).port}`
  })
  afterAll(async () => { await new Promise((resolve) => slowOrigin.close(resolve)) })
  afterEach(async () => {
    await rt?.close()
    rt = undefined
  })

  async function start (latency: boolean): Promise<StartedSimulation> {
    const captured = captureLogger()
    lines = captured.lines
    const scenario = await smallScenario({ latency: { enabled: latency, timeScale: 10, jitter: 0 }, customers: [customer(SLOW), customer(NEAR), customer(GONE)] })
    rt = await startSimulation(scenario, {
      logger: captured.logger,
      // The second origin's address refuses connections: its requests are answered 502, off their plan.
      externalOrigins: new Map([[SLOW, slowUrl], [GONE, 'http://127.0.0.1:1']]),
      fidelityWindowMs: 100
    })
    return rt
  }

  function recordsOf (sim: StartedSimulation): RequestRecord[] {
    const records: RequestRecord[] = []
    sim.events.on('request', (r) => records.push(r))
    return records
  }

  it('counts responses that left after their modelled time, in the records, the metrics, the API and the log', async () => {
    const sim = await start(true)
    const records = recordsOf(sim)
    const answers = await Promise.all(Array.from({ length: 6 }, async () => get(`${sim.edgeUrl}/`, { host: SLOW, 'x-sim-client': 'FRA' })))
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200])
    // Recorded when each exchange closes, which may be just after the client has its answer.
    await eventually(async () => records.length === 6 ? true : undefined)
    for (const r of records) {
      // 150 ms at the origin, of which the last response leg (30 ms at this time scale) absorbs a part.
      expect(r.settle?.late).toBe(true)
      expect(r.settle?.lateMs).toBeGreaterThan(EXTRA_MS - 60)
    }

    const api = await get(`${sim.controlUrl}/api/fidelity`, {})
    expect(api.status).toBe(200)
    expect(api.json()).toMatchObject({
      latency: { enabled: true, timeScale: 10 }, monitored: true, settled: 6, late: 6, lateShare: 1, tolerance: { minMs: 1, fraction: 0.05 },
      recent: { responses: 6, late: 6, lateShare: 1 }
    })
    expect(api.json().maxLateMs).toBeGreaterThan(EXTRA_MS - 60)

    const metrics = (await get(`${sim.controlUrl}/metrics`, {})).text
    expect(metrics).toMatch(/^rsim_settled_responses_total\{timing="late"\} 6$/m)
    expect(metrics).toMatch(/^rsim_response_lateness_seconds_count 6$/m)
    expect(metrics).toMatch(/^rsim_response_lateness_seconds_bucket\{le="0.05"\} 0$/m)

    // The next window's end logs one warning with the window's figures.
    await new Promise((resolve) => setTimeout(resolve, 250))
    const warnings = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('simulation behind its model'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({ level: 40, settled: 6, late: 6, lateShare: 1 })
    expect(warnings[0]?.eventLoopDelayP99Ms).toEqual(expect.any(Number))
    expect((await get(`${sim.controlUrl}/api/fidelity`, {})).json().warnings).toBe(1)
  })

  it('does not count a response that kept to its model, nor one that did not follow its plan', async () => {
    const sim = await start(true)
    const records = recordsOf(sim)
    const served = await get(`${sim.edgeUrl}/`, { host: NEAR, 'x-sim-client': 'FRA' })
    const failed = await get(`${sim.edgeUrl}/`, { host: GONE, 'x-sim-client': 'FRA' })
    expect([served.status, failed.status]).toEqual([200, 502])
    await eventually(async () => records.length === 2 ? true : undefined)
    // Far below the 120 ms of the slow origin: the simulated origin keeps to its model (timer noise aside).
    expect(records[0]?.settle?.lateMs).toBeLessThan(30)
    expect(records[1]?.settle).toBeUndefined()
    expect((await get(`${sim.controlUrl}/api/fidelity`, {})).json()).toMatchObject({ settled: 1 })
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect(lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('simulation behind its model'))).toBe(false)
  })

  it('has nothing to monitor with latency off', async () => {
    const sim = await start(false)
    const records = recordsOf(sim)
    expect((await get(`${sim.edgeUrl}/`, { host: SLOW, 'x-sim-client': 'FRA' })).status).toBe(200)
    await eventually(async () => records.length === 1 ? true : undefined)
    expect(records[0]?.settle).toBeUndefined()
    expect(sim.fidelity).toBeUndefined()
    expect((await get(`${sim.controlUrl}/api/fidelity`, {})).json()).toEqual({
      latency: { enabled: false, timeScale: 10 }, monitored: false, note: 'latency off: responses are not held to a modelled time'
    })
  })
})
