// The servers under test, run as their own process: the residency-sim runtime (every PoP, the edge, origins, log
// sinks, control plane) and the Node peer forwarders, all on one event loop like `rsim start`, so each variant is
// measured on the same single core while the load generator has the other.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { Session } from 'node:inspector/promises'
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { parseScenario } from '../../src/config/load.ts'
import { createDelay } from '../../src/net/delay.ts'
import { loopDelayMs } from '../../src/runtime/fidelity.ts'
import { startSimulation, type StartedSimulation } from '../../src/runtime/start.ts'
import { buildApp as buildOriginApp } from '../../src/services/origin/app.ts'
import { buildHttpProxy } from '../peers/http-proxy.ts'
import { buildPlainForwarder } from '../peers/plain-forwarder.ts'
import type { CpuProfile } from './profile-analysis.ts'
import { serve } from './rpc.ts'
import { LOOP_DELAY_SAMPLE_MS } from './stats.ts'

export interface SimStartParams {
  readonly yaml: string
  readonly latency: boolean
  readonly timeScale: number
  /** PoPs whose own port URLs are wanted. */
  readonly pops?: readonly string[]
  /** Also run the real TLS edge (an ephemeral port). */
  readonly tls?: boolean
}

export interface SimInfo {
  readonly edgeUrl: string
  readonly originUrls: Record<string, string>
  readonly popUrls: Record<string, string>
  readonly startupMs: number
  readonly pops: number
  readonly rssMiB: number
  /** The real TLS edge, when asked for: its URL and the run's CA certificate (PEM) to verify the chain with. */
  readonly tls?: { readonly url: string, readonly ca: string }
}

export interface PeerUrls {
  /** The origin the peers forward to: the caller's, or one of their own in this process. */
  readonly origin: string
  readonly plain: readonly [string, string]
  /** The plain forwarder answering through residency-sim's own buffered exchange. */
  readonly plainBuffered: readonly [string, string]
  readonly httpProxy: readonly [string, string]
}

let sim: StartedSimulation | undefined
let peers: FastifyInstance[] = []
let cpuMark = process.cpuUsage()
let wallMark = performance.now()

async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

async function startSim (p: SimStartParams): Promise<SimInfo> {
  await stopSim()
  const scenario = parseScenario(p.yaml, 'bench-scenario.yaml')
  // Errors only: a line per request on stdout would cost more than the forwarding being measured.
  sim = await startSimulation(scenario, {
    latency: p.latency, timeScale: p.timeScale, edgePort: 0, controlPort: 0, logger: pino({ level: 'error' }), ...(p.tls === true ? { tlsPort: 0 } : {})
  })
  const popUrls: Record<string, string> = {}
  for (const id of p.pops ?? []) {
    const u = sim.popUrl(id)
    if (u !== undefined) popUrls[id] = u
  }
  return {
    edgeUrl: sim.edgeUrl,
    originUrls: Object.fromEntries(sim.originUrls),
    popUrls,
    startupMs: sim.startupMs,
    pops: sim.popCount,
    rssMiB: Math.round(process.memoryUsage().rss / 1048576),
    ...(sim.tlsEdge === undefined ? {} : { tls: { url: `https://127.0.0.1:${sim.tlsEdge.port}`, ca: sim.keys.material.ca.certPem } })
  }
}

/**
 * Stops the simulation, waiting at most `limitMs`: a close that hangs is reported (ms, or -1 when it did not finish)
 * rather than stalling the bench; the runner starts a fresh servers process for the next scenario anyway.
 */
async function stopSim (p?: { limitMs?: number }): Promise<number> {
  const s = sim
  sim = undefined
  if (!s) return 0
  const t0 = performance.now()
  let timer: NodeJS.Timeout | undefined
  const closed = await Promise.race([
    s.close().then(() => true),
    new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), p?.limitMs ?? 5000) })
  ])
  clearTimeout(timer)
  return closed ? Math.round(performance.now() - t0) : -1
}

export interface PeerStartParams {
  /** Forward to this origin; without it, the peers get their own origin in this process (same app and settings). */
  readonly originUrl?: string
  readonly origin?: { readonly host: string, readonly responseBytes: number, readonly serviceTimeMs: number, readonly inspectionHeader?: string }
}

async function startPeers (p: PeerStartParams): Promise<PeerUrls> {
  await stopPeers()
  let originUrl = p.originUrl
  if (originUrl === undefined) {
    const o = p.origin ?? { host: 'origin.example', responseBytes: 1024, serviceTimeMs: 1 }
    // The simulator's own origin service, latency off: the peers' chain ends at the very same code.
    const origin = buildOriginApp({
      host: o.host,
      responseBytes: o.responseBytes,
      serviceTimeMs: o.serviceTimeMs,
      delay: createDelay({ enabled: false, timeScale: 1, jitter: 0, seed: 1 }),
      logger: pino({ level: 'error' }),
      ...(o.inspectionHeader === undefined ? {} : { inspectionHeader: o.inspectionHeader })
    })
    originUrl = await listen(origin)
    peers.push(origin)
  }
  const plainBack = buildPlainForwarder(originUrl)
  const plainBackUrl = await listen(plainBack)
  const plainFront = buildPlainForwarder(plainBackUrl)
  const plainOne = buildPlainForwarder(originUrl)
  const bufferedBack = buildPlainForwarder(originUrl, { buffered: true })
  const bufferedBackUrl = await listen(bufferedBack)
  const bufferedFront = buildPlainForwarder(bufferedBackUrl, { buffered: true })
  const bufferedOne = buildPlainForwarder(originUrl, { buffered: true })
  const proxyBack = buildHttpProxy(originUrl)
  const proxyBackUrl = await listen(proxyBack)
  const proxyFront = buildHttpProxy(proxyBackUrl)
  const proxyOne = buildHttpProxy(originUrl)
  // Closed in this order: the front of each chain before its back, the origin last.
  peers = [plainFront, plainOne, bufferedFront, bufferedOne, proxyFront, proxyOne, plainBack, bufferedBack, proxyBack, ...peers]
  return {
    origin: originUrl,
    plain: [await listen(plainOne), await listen(plainFront)],
    plainBuffered: [await listen(bufferedOne), await listen(bufferedFront)],
    httpProxy: [await listen(proxyOne), await listen(proxyFront)]
  }
}

async function stopPeers (): Promise<void> {
  const all = peers
  peers = []
  for (const a of all) {
    // Teardown between variants: idle keep-alive sockets of the load generator must not hold the close.
    const closing = a.close()
    a.server.closeAllConnections()
    await closing
  }
}

// The event loop's delay over the same window as the CPU share: how far behind the servers' loop fell.
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_SAMPLE_MS })

/** Starts a CPU measurement window; `cpu` returns this process's CPU share since then (1 = one core). */
function mark (): null {
  cpuMark = process.cpuUsage()
  wallMark = performance.now()
  loopDelay.disable()
  loopDelay.reset()
  loopDelay.enable()
  return null
}

/** The simulation's own fidelity counts (runtime/fidelity.ts; latency on only) and the loop delay since `mark`. */
export interface SimFidelity {
  readonly settled: number
  readonly late: number
  readonly loopDelayP99Ms: number
  readonly loopDelayMaxMs: number
}

function simFidelity (): SimFidelity | null {
  const f = sim?.fidelity?.snapshot()
  if (f === undefined) return null
  return { settled: f.settled, late: f.late, loopDelayP99Ms: loopDelayMs(loopDelay.percentile(99), LOOP_DELAY_SAMPLE_MS), loopDelayMaxMs: loopDelayMs(loopDelay.max, LOOP_DELAY_SAMPLE_MS) }
}

function cpu (): number {
  const d = process.cpuUsage(cpuMark)
  const wall = performance.now() - wallMark
  return wall > 0 ? Math.round(((d.user + d.system) / 1000 / wall) * 1000) / 1000 : 0
}

/** CPU time of this process since `mark`, ms (all its threads: the event loop, garbage collection, libuv). */
function cpuTime (): number {
  const d = process.cpuUsage(cpuMark)
  return (d.user + d.system) / 1000
}

// Calibration (`bench:compare --calibrate`): a known amount of fixed CPU work added to every HTTP request a server of
// this process takes in (Node's `http.server.request.start` channel: the edge, each PoP's port, the origins, the log
// sinks), so that a method's reading of a difference can be checked against the difference it was given.
const REQUEST_START = 'http.server.request.start'
let workIterations = 0
let workSink = 0
/** Each call's µs by the clock during a round (the last 65,536): their median is the work's cost under that load. */
const workTimes = new Float64Array(65_536)
let workCount = 0

/** The fixed work: integer arithmetic in registers, no allocation and no memory traffic, so its cost is the CPU's. */
function spin (n: number): void {
  let x = workSink | 0
  for (let i = 0; i < n; i++) x = (Math.imul(x, 1103515245) + 12345) | 0
  workSink = x
}

function onRequestStart (): void {
  const t = performance.now()
  spin(workIterations)
  workTimes[workCount++ & 65_535] = (performance.now() - t) * 1000
}

/** µs per call of the work with `iterations`, now: the least of ten batches of `n` calls by the clock. */
function timeWork (n: number, iterations: number): number {
  let best = Infinity
  for (let b = 0; b < 10; b++) {
    const t = performance.now()
    for (let k = 0; k < n; k++) spin(iterations)
    best = Math.min(best, (performance.now() - t) * 1000 / n)
  }
  return best
}

/** Adds about `us` µs of work per request taken in; returns the loop's iterations and their µs timed alone. */
function addWork (p: { us: number }): { iterations: number, us: number } {
  const perIteration = timeWork(5, 100_000) / 100_000
  workIterations = Math.max(1, Math.round(p.us / perIteration))
  workCount = 0
  unsubscribe(REQUEST_START, onRequestStart)
  subscribe(REQUEST_START, onRequestStart)
  return { iterations: workIterations, us: timeWork(20, workIterations) }
}

/**
 * The requests that did the work since the last call, and the work's µs per call over them: the median by the clock,
 * under the round's load (a call the scheduler interrupts reads long, rarely enough not to move the median).
 */
function workDone (): { requests: number, us: number } {
  const requests = workCount
  const times = workTimes.slice(0, Math.min(requests, workTimes.length)).sort()
  workCount = 0
  return { requests, us: times.length === 0 ? 0 : times[times.length >> 1] as number }
}

// A sampling CPU profile of this process (the servers' event loop) through the inspector, for bench/profile.ts.
let session: Session | undefined

async function profileStart (p: { intervalUs: number }): Promise<null> {
  session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: p.intervalUs })
  await session.post('Profiler.start')
  return null
}

async function profileStop (): Promise<CpuProfile> {
  if (session === undefined) throw new Error('no profile started')
  const { profile } = await session.post('Profiler.stop')
  session.disconnect()
  session = undefined
  return profile as CpuProfile
}

serve({ startSim, stopSim, startPeers, stopPeers, mark, cpu, cpuTime, simFidelity, profileStart, profileStop, addWork, workDone }, async () => { await stopPeers(); await stopSim({ limitMs: 2000 }) })
