// The load generator, run as its own process (bench/run.ts forks it) so that it never shares an event loop with the
// servers it measures. Three engines:
// - cannon: autocannon streams, many at once, closed-loop or each at a fixed rate; each response's time comes from
//   autocannon's `response` event (hrtime, fractional ms), recorded into our own sample arrays, since autocannon's
//   histograms and tables are in whole milliseconds.
// - paced: open-loop requests at a fixed rate with undici (round-robin over routes, which may be on different servers),
//   each timed from its intended send time (the coordinated-omission correction of wrk2) and from the moment it was
//   actually sent: Node's timers run at whole milliseconds and late, so the generator sends a request about half a
//   millisecond after its schedule, which is the generator's own lag, kept apart from the latency of what it measures.
// - sequential: one request at a time, either each on a new connection or all on one kept-alive connection.
// - alternating: one request at a time over several routes in turn, each on its own kept-alive connection: every
//   route's latency with nothing else in flight, the routes measured within the same milliseconds, so that the
//   machine's drift reaches them all alike. Each request finds its servers idle since their last one, as sporadic
//   traffic does (caches and branch predictors cooled by the other routes' work), where a closed loop on one route
//   keeps them hot.
// - rated: autocannon's own fixed rate (`overallRate`) with its coordinated-omission correction, as a cross-check of
//   the paced engine.
import autocannon from 'autocannon'
import { Client, Pool } from 'undici'
import { cpuShare, sendProgress, serve } from './rpc.ts'
import { achievedRate } from './stats.ts'
import { holdingSessions } from './tls-sessions.ts'

export interface CannonStream {
  readonly id: string
  readonly url: string
  readonly headers: Record<string, string>
  readonly connections: number
  /** Requests per second over all the stream's connections (autocannon's `overallRate`); unset: a closed loop. */
  readonly rate?: number
}

export interface CannonJob {
  readonly streams: readonly CannonStream[]
  readonly durationS: number
  /** Max samples kept per stream: bounds memory on very fast variants. */
  readonly maxSamples?: number
}

export interface StreamResult {
  readonly id: string
  readonly samplesMs: Float64Array
  readonly responses: number
  readonly non2xx: number
  readonly errors: number
  readonly rps: number
  /**
   * The response times added up, over the time the stream's connections had: at most 1 for a closed loop without
   * pipelining, since a connection waits for each response before it sends the next request. Above it, the times
   * are not the requests' own: autocannon 9 matches a response to a request still queued from a connection the
   * server closed (it reconnects on `end` without clearing its queue), so every later time on that connection
   * includes the requests before it.
   */
  readonly timedShare: number
}

export interface JobResult<T> {
  readonly results: T
  readonly wallMs: number
  /** CPU share of the load generator process during the job (1 = one core fully busy). */
  readonly cpu: number
}

class Samples {
  data: Float64Array
  n = 0
  readonly max: number
  constructor (max: number) {
    this.max = max
    this.data = new Float64Array(Math.min(max, 4096))
  }
  push (x: number): void {
    if (this.n === this.data.length) {
      if (this.n >= this.max) return
      const grown = new Float64Array(Math.min(this.max, this.data.length * 2))
      grown.set(this.data)
      this.data = grown
    }
    this.data[this.n++] = x
  }

  get values (): Float64Array { return this.data.slice(0, this.n) }
}

function runCannon (s: CannonStream, durationS: number, maxSamples: number, onResponse: () => void): Promise<StreamResult> {
  const samples = new Samples(maxSamples)
  let non2xx = 0
  let timedMs = 0
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: s.url,
      headers: s.headers,
      connections: s.connections,
      duration: durationS,
      // Fastify answers 1 KiB bodies with content-length; no pipelining, like browsers and the PoPs' own pools.
      pipelining: 1,
      timeout: 30,
      ...(s.rate === undefined ? {} : { overallRate: s.rate })
    }, (err, res) => {
      if (err) { reject(err); return }
      resolve({
        id: s.id,
        samplesMs: samples.values,
        responses: samples.n,
        non2xx,
        errors: res.errors + res.timeouts,
        rps: samples.n / durationS,
        timedShare: timedMs / (s.connections * (performance.now() - t0))
      })
    })
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      timedMs += responseTime
      if (statusCode < 200 || statusCode > 299) non2xx++
      else samples.push(responseTime)
      onResponse()
    })
  })
}

async function cannon (job: CannonJob): Promise<JobResult<StreamResult[]>> {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let total = 0
  const timer = setInterval(() => sendProgress({ responses: total, seconds: (performance.now() - t0) / 1000 }), 1000)
  try {
    const results = await Promise.all(job.streams.map((s) => runCannon(s, job.durationS, job.maxSamples ?? 1_000_000, () => { total++ })))
    const wallMs = performance.now() - t0
    return { results, wallMs, cpu: cpuShare(cpu0, wallMs) }
  } finally {
    clearInterval(timer)
  }
}

export interface PacedRequest {
  readonly headers: Record<string, string>
  /** The server this request goes to; the job's `url` when unset. Two servers in one job are loaded evenly interleaved. */
  readonly url?: string
}

export interface PacedJob {
  readonly url: string
  /** Requests are sent round-robin over this list. */
  readonly requests: readonly PacedRequest[]
  readonly rate: number
  readonly durationS: number
  /** Leading seconds whose samples are dropped (pools filling, JIT). */
  readonly warmupS: number
  /** Connections per route: each route has its own pool, so a connection always carries one host (one TLS session). */
  readonly connections: number
}

export interface PacedResult {
  /** Latency from each request's intended send time, ms. */
  readonly samplesMs: Float64Array
  /** How long after its intended time each of those requests was sent, ms: the generator's own lag. */
  readonly sendLagMs: Float64Array
  /** Index into `requests` of each sample. */
  readonly route: Uint16Array
  readonly sent: number
  readonly non2xx: number
  readonly errors: number
  /** How late, at most, the generator sent a request compared with its schedule (ms): its own lag. */
  readonly maxSendLagMs: number
  /** Kept responses per second over their completions (bench/lib/stats.ts achievedRate). */
  readonly achievedRps: number
}

function paced (job: PacedJob): Promise<JobResult<PacedResult>> {
  // One pool per route: a client connection carries one host, as a TLS connection carries one SNI, so each
  // connection pays one handshake and then runs resumed, whatever the mix of routes.
  const pools = job.requests.map((r) => new Pool(r.url ?? job.url, { connections: job.connections, pipelining: 1, keepAliveTimeout: 30_000 }))
  const total = Math.round(job.rate * job.durationS)
  const interval = 1000 / job.rate
  const samples = new Samples(total)
  const lags = new Float64Array(total)
  const ends = new Float64Array(total)
  const routes = new Uint16Array(total)
  let done = 0
  let non2xx = 0
  let errors = 0
  let maxLag = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now() + 5
  const warmEnd = t0 + job.warmupS * 1000
  let i = 0
  return new Promise((resolve) => {
    const progress = setInterval(() => sendProgress({ responses: done, seconds: (performance.now() - t0) / 1000 }), 1000)
    function finish (): void {
      clearInterval(progress)
      const wallMs = performance.now() - t0
      const kept = samples.n
      Promise.allSettled(pools.map((p) => p.close())).finally(() => resolve({
        results: {
          samplesMs: samples.values,
          sendLagMs: lags.slice(0, kept),
          route: routes.slice(0, kept),
          sent: i,
          non2xx,
          errors,
          maxSendLagMs: maxLag,
          achievedRps: achievedRate(ends.subarray(0, kept))
        },
        wallMs,
        cpu: cpuShare(cpu0, wallMs)
      }))
    }
    function send (k: number, intended: number): void {
      const r = k % job.requests.length
      const req = job.requests[r] as PacedRequest
      const pool = pools[r] as Pool
      const sent = performance.now()
      pool.request({ path: '/', method: 'GET', headers: req.headers }).then(async (res) => {
        await res.body.dump()
        const end = performance.now()
        if (res.statusCode < 200 || res.statusCode > 299) non2xx++
        else if (intended >= warmEnd) {
          ends[samples.n] = end
          routes[samples.n] = r
          lags[samples.n] = sent - intended
          samples.push(end - intended)
        }
      }, () => { errors++ }).finally(() => {
        if (++done === total) finish()
      })
    }
    function tick (): void {
      const now = performance.now()
      while (i < total && t0 + i * interval <= now) {
        const intended = t0 + i * interval
        maxLag = Math.max(maxLag, now - intended)
        send(i, intended)
        i++
      }
      if (i < total) setTimeout(tick, Math.max(0, t0 + i * interval - performance.now()))
    }
    // A rate and duration that round to no request at all: nothing to send, nothing to wait for.
    if (total === 0) finish()
    else setTimeout(tick, 5)
  })
}

export interface RatedJob {
  readonly url: string
  readonly headers: Record<string, string>
  readonly rate: number
  readonly durationS: number
  readonly warmupS: number
  readonly connections: number
}

export interface RatedResult {
  /** p50 and p99 of autocannon's own histogram: whole ms, with its coordinated-omission correction. */
  readonly correctedP50Ms: number
  readonly correctedP99Ms: number
  /** p50 of the response times autocannon reports per response (not corrected). */
  readonly responseP50Ms: number
  readonly achievedRps: number
  readonly non2xx: number
  readonly errors: number
}

function autocannonRun (opts: autocannon.Options, onResponse?: (ms: number) => void): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, res) => { if (err) reject(err); else resolve(res) })
    if (onResponse) {
      instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
        if (statusCode >= 200 && statusCode <= 299) onResponse(responseTime)
      })
    }
  })
}

async function rated (job: RatedJob): Promise<JobResult<RatedResult>> {
  const base: autocannon.Options = {
    url: job.url,
    headers: job.headers,
    connections: job.connections,
    overallRate: job.rate,
    pipelining: 1,
    timeout: 30
  }
  // A warm-up run of its own, not recorded: autocannon's histogram has no way to drop leading samples.
  if (job.warmupS > 0) await autocannonRun({ ...base, duration: job.warmupS })
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const samples = new Samples(Math.ceil(job.rate * job.durationS * 1.2) + 16)
  const res = await autocannonRun({ ...base, duration: job.durationS }, (ms) => samples.push(ms))
  const wallMs = performance.now() - t0
  const times = samples.values.sort()
  return {
    results: {
      correctedP50Ms: res.latency.p50,
      correctedP99Ms: res.latency.p99,
      responseP50Ms: times.length > 0 ? times[Math.floor(times.length / 2)] as number : Number.NaN,
      achievedRps: res.requests.average,
      non2xx: res.non2xx,
      errors: res.errors + res.timeouts
    },
    wallMs,
    cpu: cpuShare(cpu0, wallMs)
  }
}

export interface SequentialJob {
  readonly url: string
  readonly headers: Record<string, string>
  readonly count: number
  /** true: every request on a new TCP connection; false: all on one kept-alive connection. */
  readonly newConnections: boolean
  /**
   * An https URL: the CA to verify the chain with and the server name to send. With `resume`, one client sends each
   * request on a connection of its own (`Connection: close`) and resumes the TLS session of the one before (a ticket).
   */
  readonly tls?: { readonly ca: string, readonly servername: string, readonly resume?: boolean }
}

export interface SequentialResult {
  readonly samplesMs: Float64Array
  readonly serverTiming: readonly string[]
  /** `x-sim-tls-handshake` of each answer ('' without one). */
  readonly handshakes: readonly string[]
  readonly non2xx: number
}

async function sequential (job: SequentialJob): Promise<JobResult<SequentialResult>> {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const samples = new Samples(job.count)
  const timings: string[] = []
  const handshakes: string[] = []
  let non2xx = 0
  let shared: Client | undefined
  const tlsOptions = job.tls === undefined ? undefined : { ca: job.tls.ca, servername: job.tls.servername }
  const options = tlsOptions === undefined ? {} : { connect: job.tls?.resume === true ? holdingSessions(tlsOptions) : tlsOptions }
  const headers = job.tls?.resume === true ? { ...job.headers, connection: 'close' } : job.headers
  for (let k = 0; k < job.count; k++) {
    const client = job.newConnections ? new Client(job.url, options) : (shared ??= new Client(job.url, { ...options, keepAliveTimeout: 30_000 }))
    const t = performance.now()
    const res = await client.request({ path: '/', method: 'GET', headers })
    await res.body.dump()
    samples.push(performance.now() - t)
    if (res.statusCode < 200 || res.statusCode > 299) non2xx++
    timings.push(String(res.headers['server-timing'] ?? ''))
    handshakes.push(String(res.headers['x-sim-tls-handshake'] ?? ''))
    if (job.newConnections) await client.close()
  }
  await shared?.close()
  const wallMs = performance.now() - t0
  return { results: { samplesMs: samples.values, serverTiming: timings, handshakes, non2xx }, wallMs, cpu: cpuShare(cpu0, wallMs) }
}

export interface AlternatingRoute {
  readonly url: string
  readonly headers: Record<string, string>
}

export interface AlternatingJob {
  readonly routes: readonly AlternatingRoute[]
  /** Time measured, after the warm-up cycles (whole cycles run until it is over). */
  readonly durationS: number
  /** Leading cycles whose samples are dropped (the connections opening, the generator's own code compiling). */
  readonly warmupCycles: number
}

export interface AlternatingResult {
  /** Response times of each route (ms), from just before the request to the end of its body; index as `routes`. */
  readonly samplesMs: readonly Float64Array[]
  /** Cycles measured (each sends one request to every route). */
  readonly cycles: number
  readonly non2xx: number
  readonly errors: number
}

/**
 * One request at a time: cycle after cycle, one request to each route, the route a cycle starts with moving on by one
 * each time, so that no route always follows the same one. Runs whole cycles until the duration is over.
 */
async function alternating (job: AlternatingJob): Promise<JobResult<AlternatingResult>> {
  const n = job.routes.length
  const clients = job.routes.map((r) => new Client(r.url, { keepAliveTimeout: 30_000, pipelining: 1 }))
  const samples = job.routes.map(() => new Samples(1_000_000))
  let non2xx = 0
  let errors = 0
  let cycles = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  // Set when the warm-up cycles are over: slow first answers (connections opening, code compiling) cannot use up the
  // time measured.
  let end = job.warmupCycles > 0 ? Number.POSITIVE_INFINITY : t0 + job.durationS * 1000
  const progress = setInterval(() => sendProgress({ responses: cycles * n, seconds: (performance.now() - t0) / 1000 }), 1000)
  try {
    for (let c = 0; c < job.warmupCycles || performance.now() < end; c++) {
      if (c === job.warmupCycles && job.warmupCycles > 0) end = performance.now() + job.durationS * 1000
      const counted = c >= job.warmupCycles
      for (let k = 0; k < n; k++) {
        const r = (c + k) % n
        const route = job.routes[r] as AlternatingRoute
        const t = performance.now()
        try {
          const res = await (clients[r] as Client).request({ path: '/', method: 'GET', headers: route.headers })
          await res.body.dump()
          const ms = performance.now() - t
          if (res.statusCode < 200 || res.statusCode > 299) non2xx++
          else if (counted) (samples[r] as Samples).push(ms)
        } catch {
          errors++
        }
      }
      if (counted) cycles++
    }
  } finally {
    clearInterval(progress)
    await Promise.allSettled(clients.map((c) => c.close()))
  }
  const wallMs = performance.now() - t0
  return { results: { samplesMs: samples.map((s) => s.values), cycles, non2xx, errors }, wallMs, cpu: cpuShare(cpu0, wallMs) }
}

serve({ cannon, paced, sequential, rated, alternating })
