// The ingress role: a client's request arrives (on the PoP's own port, or handed over in-process by the anycast edge).
// It plans with itself as ingress, then either inspects locally or relays the request, unread, to the inspection PoP.
// For a regional customer an out-of-region ingress uses only the Host (the SNI) to route: it never reads, logs or
// keeps the path, query, headers or body (docs/design.md invariant 1), and streams them through as opaque bytes.
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import { ERRORS, SimError, isSimError } from '../../core/errors.ts'
import { normaliseHost } from '../../core/planner.ts'
import type { ClientLocation, Customer, Hop, KeyOperation, Plan, RefusedPlan, ServedPlan } from '../../core/types.ts'
import { nowMs, overrun, type JitterRecord } from '../../net/delay.ts'
import { FWD_PREFIX, hasForwardHeaders, type ForwardFields } from '../../net/signing.ts'
import { classifyUpstreamError, describeUpstreamError, exchange, type Exchange } from '../../net/upstream.ts'
import { isLate } from '../../core/latency.ts'
import type { MeasuredHop, RequestHandshake, SettleRecord } from '../records.ts'
import { hostFieldError, newRay, requestLineError, requestLineTooLong, toSimError } from '../http-errors.ts'
import { bodyFailure } from '../body-failure.ts'
import { fieldCount } from '../client-location.ts'
import { HANDSHAKE_HEADER, HOP_BY_HOP, SIGNER_HEADER, TICKET_HEADER, type PopDeps } from './deps.ts'
import type { InspectInput, Inspector } from './inspect.ts'
import { RELAY_RESULT_HEADER, decodeRelayResult, serverTiming } from './server-timing.ts'
import type { TlsHandoff } from './tls-terminate.ts'
import { childTraceparent, newTrace } from './trace.ts'

/** What the anycast edge (or the TLS edge) already worked out before handing a request over. */
export interface Handoff {
  readonly client?: ClientLocation
  /** The request arrived on a real TLS connection this PoP terminated, handed over by the TLS edge. */
  readonly tls?: TlsHandoff
}

/** The exchange once the request has been processed, before the response leaves the ingress. */
interface Outcome {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Readable | Buffer | string
  readonly downstream: readonly MeasuredHop[]
  readonly relay?: MeasuredHop
  readonly inspectedAt?: string
  readonly code?: string
}

/** Whether a Transfer-Encoding field's last coding is chunked, the only framing of a request body it allows. */
function endsChunked (te: string): boolean {
  const last = te.slice(te.lastIndexOf(',') + 1).trim()
  return last.length === 7 && last.toLowerCase() === 'chunked'
}

export function hasBody (raw: IncomingMessage): boolean {
  const cl = raw.headers['content-length']
  return raw.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0')
}

/** Where the time the data path waited for a client's body adds up (wall-clock ms). */
export interface ClientWait {
  clientWaitMs: number
}

/**
 * The request body as an iterable that starts reading the socket only when undici starts sending it: a relay that
 * fails to connect (the inspection PoP is down) leaves the body untouched, so the ingress can re-plan for any method.
 * A reader that stops early (a body over the limit, a failed exchange) leaves the connection open, the rest of the
 * body unread (the client is held back by TCP) until the answer has left; then it is discarded (discardRest), so that
 * the client reads the answer rather than a reset. With `wait`, each read adds the time it waited for the client.
 */
export function lazyBody (raw: IncomingMessage, started: () => void, wait?: ClientWait): AsyncIterable<Buffer> | null {
  if (!hasBody(raw)) return null
  return {
    [Symbol.asyncIterator] () {
      started()
      const chunks = raw.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>
      // A read ends with the body's failure when the parser refuses the rest of it (body-failure.ts).
      const failed = bodyFailure(raw)
      const guarded: AsyncIterator<Buffer> = {
        next: async () => await Promise.race([chunks.next(), failed]),
        return: async (value?: unknown) => chunks.return === undefined ? { done: true, value: undefined } : await chunks.return(value)
      }
      return wait === undefined ? guarded : timedReads(guarded, wait)
    }
  }
}

/**
 * The body's chunks, reporting how long each read waited for the client: time a slow upload takes is the client's,
 * which the model (no bandwidth) does not have. Reads happen only when the next hop wants more, so time the data
 * path spends behind (backpressure) is not counted.
 */
function timedReads (chunks: AsyncIterator<Buffer>, wait: ClientWait): AsyncIterator<Buffer> {
  return {
    next () {
      const t = nowMs()
      return chunks.next().then((r) => { wait.clientWaitMs += nowMs() - t; return r })
    },
    return (value?: unknown) {
      return chunks.return === undefined ? Promise.resolve({ done: true, value: undefined }) : chunks.return(value)
    }
  }
}

/**
 * What inspection reads of a client request (method, target, headers and the not yet read body) and what it is to
 * do with it: one object shape, whichever role builds it.
 */
export function inspectInput (raw: IncomingMessage, ray: string, customer: Customer, downstream: readonly Hop[], tlsKey: KeyOperation | undefined, tlsResumed: boolean, wait?: ClientWait): InspectInput {
  return {
    ray,
    customer,
    method: raw.method ?? 'GET',
    url: raw.url ?? '/',
    headers: raw.headers,
    rawHeaders: raw.rawHeaders,
    body: lazyBody(raw, () => {}, wait),
    downstream,
    tlsKey,
    tlsResumed
  }
}

// Plans are shared, read-only objects (the planner's memo hands back the same one for the same request), so what is
// derived from one is derived once: its downstream hops and its relay field.
const downstreams = new WeakMap<ServedPlan, readonly Hop[]>()

/** The hops after the inspection PoP: the key operation's, if any, then the origin's. */
export function downstreamOf (p: ServedPlan): readonly Hop[] {
  let hops = downstreams.get(p)
  if (hops === undefined) downstreams.set(p, hops = p.hops.filter((h) => h.kind === 'key' || h.kind === 'origin'))
  return hops
}

export function encodeDownstream (hops: readonly Hop[]): string {
  return JSON.stringify(hops.map((h) => [h.kind, h.from, h.to, h.rttMs]))
}

const forwardPlans = new WeakMap<ServedPlan, string>()

/** The signed plan field of a relay: the planned key operation (`none`: no handshake) and the downstream hops. */
export function encodeForwardPlan (p: ServedPlan): string {
  let text = forwardPlans.get(p)
  if (text === undefined) forwardPlans.set(p, text = `{"tls":${JSON.stringify(p.tls.key)},"hops":${encodeDownstream(downstreamOf(p))}}`)
  return text
}

const clientFields = new WeakMap<ClientLocation, string>()

/**
 * The signed client field of a relay, `lat,lon[,country]`: written once per location object (the client locator hands
 * back the same one for the same header), as writing two coordinates out is most of its cost.
 */
export function encodeClient (client: ClientLocation): string {
  let text = clientFields.get(client)
  if (text === undefined) clientFields.set(client, text = `${client.lat},${client.lon}${client.country ? `,${client.country}` : ''}`)
  return text
}

const FULL_HANDSHAKES = new Set(['local', 'remote', 'keyless'])

function errorOutcome (err: SimError, ray: string, downstream: readonly MeasuredHop[] = [], extra: Partial<Outcome> = {}): Outcome {
  return {
    status: err.statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: { code: err.code, message: err.message, ray } }),
    downstream,
    code: err.code,
    ...extra
  }
}

/** A refusal by the planner, in the shared error shape with the planner's own reason. */
function refusedOutcome (p: RefusedPlan, ray: string): Outcome {
  return {
    status: p.status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: { code: p.code, message: p.reason, ray } }),
    downstream: [],
    code: p.code
  }
}

/**
 * An inspection PoP's error answer given without its timing report: a refusal of the relay, or its HTTP parser's
 * answer (a 408 for a body that stalled, a 400 or 431) before any route ran, whose body carries that PoP's own ray.
 * Either is the simulator's own JSON error, never an origin's response (every answer the inspection made carries the
 * report), so reading it reads no customer data: it is answered as an error of this request, under its ray, and is
 * not settled against the plan. Anything else is left as it came.
 */
export function answerBeforeInspection (res: Exchange, ray: string, inspection: string): Outcome | undefined {
  if (res.statusCode < 400 || res.headers[RELAY_RESULT_HEADER] !== undefined || !Buffer.isBuffer(res.body)) return undefined
  let error: { code?: unknown, message?: unknown } | undefined
  try { error = (JSON.parse(res.body.toString('utf8')) as { error?: typeof error }).error } catch { return undefined }
  if (typeof error?.code !== 'string' || !error.code.startsWith('SIM_ERR_') || typeof error.message !== 'string') return undefined
  return {
    status: res.statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: { code: error.code, message: error.message, ray } }),
    downstream: [],
    code: error.code,
    inspectedAt: inspection
  }
}

const NOWHERE: RefusedPlan['client'] = Object.freeze({ lat: 0, lon: 0, input: '' })

/** A stand-in plan for requests refused before planning (no host, spoofed headers, unlocatable client). */
function earlyPlan (host: string, err: SimError, ingress: string, client: RefusedPlan['client'] = NOWHERE): RefusedPlan {
  return { outcome: 'refused', host, client, code: err.code, status: err.statusCode, reason: err.message, ingress, ledger: [] }
}

/**
 * After an answer that left before the request body was all read (413, a refusal, an upstream error), how long the
 * rest of the body is still read and discarded before the connection is cut: a client still sending then reads the
 * answer, where closing at once would reset the connection under it and lose the answer (nginx's lingering close,
 * which is bounded by time too). A body that ends sooner leaves the connection open for the next request.
 */
export const LINGER_MS = 2000

const discarding = new WeakSet<IncomingMessage>()

/** Once the answer has left: reads and discards the rest of a request body for up to LINGER_MS, then closes. */
export function discardRest (raw: IncomingMessage): void {
  if (raw.complete || raw.destroyed || discarding.has(raw)) return
  discarding.add(raw)
  const timer = setTimeout(() => raw.destroy(), LINGER_MS)
  timer.unref()
  raw.once('close', () => clearTimeout(timer))
  raw.resume()
}

/**
 * Bytes of a request's head as node's HTTP parser counts them toward `maxHeaderSize`: the target and every field's
 * name and value. A PoP's own port accepts relays with the signed forwarding header on top of a client's headers, so
 * its parser allows more (FORWARDING_HEADER_ALLOWANCE); a client request is held to the limit here.
 */
export function headerBlockBytes (url: string, rawHeaders: readonly string[]): number {
  let n = url.length
  for (let i = 0; i < rawHeaders.length; i++) n += (rawHeaders[i] as string).length
  return n
}

export function createIngress (deps: PopDeps, inspect: Inspector) {
  const { pop, world, delay } = deps
  const clock = deps.clock ?? Date.now
  // Client connections that completed a TLS handshake, with the server names they did it for: a later request on
  // the same connection needs none (one TLS connection serves many HTTP requests, RFC 9112 section 9.3).
  const established = new WeakMap<object, Set<string>>()
  function isEstablished (socket: object, host: string): boolean {
    return established.get(socket)?.has(host) === true
  }
  function markEstablished (socket: object, host: string): void {
    let hosts = established.get(socket)
    if (hosts === undefined) established.set(socket, hosts = new Set())
    hosts.add(host)
  }

  function sinkOf (p: Plan | undefined, host: string): string | undefined {
    if (p?.outcome === 'served') return p.logSink
    const customer = world.customers.get(normaliseHost(host))
    if (!customer) return undefined
    return customer.logRegion ? world.logCores[customer.logRegion] : world.logCores.us
  }

  async function relay (r: InFlight, client: ClientLocation, first: ServedPlan): Promise<{ plan: Plan, outcome?: Outcome }> {
    const { raw, ray } = r
    let p: ServedPlan = first
    let bodyStarted = false
    const body = lazyBody(raw, () => { bodyStarted = true }, r)
    // Only framing and routing fields are touched: names are compared, values are copied without being read.
    const headers: string[] = []
    const rh = raw.rawHeaders
    for (let i = 0; i + 1 < rh.length; i += 2) {
      const name = (rh[i] as string).toLowerCase()
      if (!HOP_BY_HOP.has(name) && !name.startsWith('x-sim-client')) headers.push(rh[i] as string, rh[i + 1] as string)
    }
    const clientField = encodeClient(client)
    for (let attempt = 0; ; attempt++) {
      const relayHop = p.hops.find((h) => h.kind === 'relay') as Hop
      const outbound = delay.oneWayMs(relayHop.rttMs)
      const url = deps.directory(p.inspection)
      const fields: ForwardFields = { ray, ingress: pop.id, inspection: p.inspection, client: clientField, host: p.host, plan: encodeForwardPlan(p) }
      const t = nowMs()
      let res: Exchange
      try {
        if (url === undefined) throw Object.assign(new Error(`${p.inspection} is not listening`), { code: 'ECONNREFUSED' })
        res = await exchange(deps.upstreams.get(url), {
          path: raw.url ?? '/',
          method: raw.method as Dispatcher.HttpMethod,
          headers,
          body,
          sim: { delayMs: outbound, forward: fields }
        })
      } catch (err) {
        // The client's own fault, met while its body was relayed (a body the parser refused): answered as such.
        if (isSimError(err)) return { plan: p, outcome: errorOutcome(err, ray) }
        const kind = classifyUpstreamError(err)
        // Refused, or any failure of a PoP the runtime now knows is down (a socket it closed mid-request).
        const gone = kind === 'refused' || deps.directory(p.inspection) === undefined
        if (gone && !bodyStarted && attempt === 0) {
          // The chosen inspection PoP is down: re-plan once without it. The planner only ever offers in-region PoPs
          // (or refuses), so the retry can never move the plaintext out of the region.
          const again = deps.plan({ client, host: p.host, ingress: pop.id, down: [p.inspection], newConnection: p.tls.key !== 'none' }, world)
          deps.logger.warn({ ray, host: p.host, pop: pop.id, unreachable: p.inspection, next: again.outcome === 'served' ? again.inspection : again.code }, 'inspection PoP unreachable, re-planned')
          if (again.outcome === 'refused') return { plan: again }
          if (again.inspection === pop.id) return { plan: again, outcome: await inspectHere(r, again) }
          p = again
          continue
        }
        const sim = kind === 'timeout'
          ? new SimError('SIM_ERR_UPSTREAM_TIMEOUT', [`PoP ${p.inspection}`, 'the upstream timeout'])
          : new SimError('SIM_ERR_UPSTREAM_UNREACHABLE', [p.inspection, describeUpstreamError(err)])
        return { plan: p, outcome: errorOutcome(sim, ray, [], { inspectedAt: p.inspection }) }
      }
      const early = answerBeforeInspection(res, ray, p.inspection)
      if (early !== undefined) return { plan: p, outcome: early }
      // The jitter the inspection PoP's waits were given, for settling; then the response direction of the relay hop,
      // less what the exchange overran by: the time beyond the outbound wait and the inspection PoP's own (sockets,
      // timers firing late, a busy event loop) is the relay's too, so the hop takes its modelled round trip in all.
      const result = decodeRelayResult(res.headers[RELAY_RESULT_HEADER], downstreamOf(p))
      delay.addJitter(result.jitterMs)
      const inner = result.innerMs
      if (delay.enabled) await delay.wait(delay.oneWayMs(relayHop.rttMs) - overrun(t, outbound + inner))
      const measured = Math.max(0, nowMs() - t - inner)
      const code = result.code
      return {
        plan: p,
        outcome: {
          status: res.statusCode,
          headers: res.headers,
          body: res.body,
          downstream: result.hops,
          relay: { from: relayHop.from, to: relayHop.to, kind: 'relay', modelledMs: relayHop.rttMs, measuredMs: measured },
          inspectedAt: p.inspection,
          ...(code === undefined ? {} : { code })
        }
      }
    }
  }

  async function inspectHere (r: InFlight, p: ServedPlan, tlsResumed = false): Promise<Outcome> {
    const { raw, ray } = r
    const customer = world.customers.get(p.host)
    if (!customer) return errorOutcome(new SimError('SIM_ERR_HOST_UNKNOWN', [p.host]), ray)
    try {
      const out = await inspect(inspectInput(raw, ray, customer, downstreamOf(p), deps.tls === undefined ? undefined : p.tls.key, tlsResumed, r))
      // The headers are this request's own object: the trace context joins them.
      out.headers.traceparent = out.traceparent
      return { status: out.status, headers: out.headers, body: out.body, downstream: out.hops, inspectedAt: pop.id }
    } catch (err) {
      return errorOutcome(toSimError(err), ray, [], { inspectedAt: pop.id })
    }
  }

  /** Wall-clock ms the TLS edge's pipe applied to a hop of modelled round trip `rttMs` (both directions). */
  function piped (rttMs: number): number {
    return delay.enabled ? rttMs * delay.timeScale : 0
  }

  /** A request as it is served: filled in step by step, read when the response leaves and when the exchange closes. */
  interface InFlight {
    readonly raw: IncomingMessage
    readonly ray: string
    readonly host: string
    /** When the request reached this handler (`nowMs()`): the settling counts from here. */
    readonly t0: number
    readonly tlsIn: TlsHandoff | undefined
    planned: Plan | undefined
    located: ClientLocation | undefined
    accessRtt: number
    /** Time spent on the access hop, both directions. */
    accessSpent: number
    outcome: Outcome | undefined
    handshake: RequestHandshake | undefined
    /** How the response kept to the model, when it was settled against it. */
    settle: SettleRecord | undefined
    /** Wall-clock ms the data path waited for the client's body: the client's time, not the model's. */
    clientWaitMs: number
    /** Whether the connection closes after the answer: the rest of what the client sends cannot be delimited. */
    closeAfter: boolean
  }

  /**
   * Checks the request, locates the client, plans, waits the request direction of the access hop, then serves it:
   * refused, inspected here, or relayed unread to the inspection PoP. Errors become outcomes; nothing throws.
   */
  async function serve (r: InFlight, handoff: Handoff | undefined, log: FastifyRequest['log']): Promise<Outcome> {
    const { raw, ray, host, tlsIn } = r
    try {
      if (hasForwardHeaders(raw.headers)) throw new SimError('SIM_ERR_FORWARD_UNAUTHENTICATED', [`${FWD_PREFIX}-* headers are set by PoPs only`])
      // Handed over by the anycast edge, the request was held to the limit by the edge's parser, and its Host field and
      // target checked by the edge, already; a PoP's own port (plain or TLS) allows relays more, and checks them here.
      if (handoff === undefined || handoff.tls !== undefined) {
        // Node's parser refuses a head that reaches its limit, so this does too.
        const limit = deps.limits.headerLimitBytes
        if (headerBlockBytes(raw.url ?? '', raw.rawHeaders) >= limit) throw (raw.url ?? '').length >= limit ? requestLineTooLong(limit) : new SimError('SIM_ERR_HEADERS_TOO_LARGE', [limit])
        const hostError = hostFieldError(host)
        if (hostError !== undefined) throw hostError
        const target = requestLineError(raw)
        if (target !== undefined) throw target
      }
      // Node keeps the first of several Host fields; forwarded, they would be ambiguous to the next hop.
      if (fieldCount(raw.rawHeaders, 'host') > 1) throw new SimError('SIM_ERR_BAD_REQUEST', ['more than one Host header'])
      const te = raw.headers['transfer-encoding']
      if (te !== undefined && !endsChunked(te)) {
        r.closeAfter = true
        throw new SimError('SIM_ERR_BAD_REQUEST', [`Transfer-Encoding "${te.slice(0, 100)}" does not end in chunked, so the body's length cannot be known (RFC 9112 section 6.3)`])
      }
      const cl = raw.headers['content-length']
      if (cl !== undefined && Number(cl) > deps.limits.bodyLimitBytes) throw new SimError('SIM_ERR_BODY_TOO_LARGE', [deps.limits.bodyLimitBytes])
      const client = handoff?.client ?? deps.locateClient(raw.headers, raw.rawHeaders)
      r.located = client
      // A new connection (or a ticket the terminating PoP may not honour) plans the key operation; a request on an
      // established connection or with a session ticket plans none (RFC 8446 section 2.2).
      const ticket = raw.headers[TICKET_HEADER]
      const established = isEstablished(raw.socket, normaliseHost(host))
      // The first request on a real TLS connection whose handshake resumed a session: no key operation was made.
      const resumed = tlsIn !== undefined && !established && (raw.socket as Partial<TLSSocket>).isSessionReused?.() === true
      const newConnection = deps.tls === undefined || !(established || resumed || (typeof ticket === 'string' && ticket !== ''))
      let p: Plan
      if (tlsIn === undefined) {
        p = deps.plan({ client, host, ingress: pop.id, newConnection }, world)
      } else {
        // One TLS connection, one server name: a request for another host is misdirected (RFC 9110 section 15.5.20).
        if (normaliseHost(host) !== tlsIn.sni) {
          // The request is the connection's customer's traffic, whatever it names: its record (and its log, kept in
          // that customer's log region) is the SNI's.
          const err = new SimError('SIM_ERR_TLS_SNI_MISMATCH', [normaliseHost(host), tlsIn.sni])
          r.planned = earlyPlan(tlsIn.sni, err, tlsIn.ingress, client)
          throw err
        }
        // Planned as the TLS edge did: PoPs that may not hold the key are unavailable, so this PoP inspects. If the
        // ingress is in the region but outside the key policy, the edge handed over to this key holder: plan from here.
        p = deps.plan({ client, host, ingress: tlsIn.ingress, unavailable: tlsIn.unavailable, newConnection }, world)
        if (p.outcome === 'served' && p.inspection !== pop.id) p = deps.plan({ client, host, ingress: pop.id, newConnection }, world)
      }
      r.planned = p
      r.accessRtt = p.outcome === 'served' ? (p.hops[0] as Hop).rttMs : world.latency.rttMs(client, pop) + world.latency.params.accessMs
      // The request direction of the client's access hop; through the TLS edge, its pipe applied it. With latency off
      // there is nothing to wait (and no await: each is a turn of the microtask queue).
      if (tlsIn === undefined && delay.enabled) {
        const ta = nowMs()
        await delay.wait(delay.oneWayMs(r.accessRtt))
        r.accessSpent = nowMs() - ta
      }
      if (p.outcome === 'refused') return refusedOutcome(p, ray)
      if (p.inspection === pop.id) {
        const outcome = await inspectHere(r, p, resumed)
        if (tlsIn === undefined || tlsIn.relayRttMs === 0) return outcome
        // The ciphertext relay happened on the TLS stream itself (the edge's delayed pipe): report what it applied.
        return { ...outcome, relay: { from: tlsIn.ingress, to: pop.id, kind: 'relay', modelledMs: tlsIn.relayRttMs, measuredMs: piped(tlsIn.relayRttMs) } }
      }
      const relayed = await relay(r, client, p)
      r.planned = relayed.plan
      return relayed.plan.outcome === 'refused' ? refusedOutcome(relayed.plan, ray) : relayed.outcome as Outcome
    } catch (err) {
      const sim = isSimError(err) ? err : toSimError(err)
      if (!isSimError(err)) log.error({ ray, host, pop: pop.id, err }, 'ingress failure')
      r.planned ??= earlyPlan(host, sim, pop.id)
      return errorOutcome(sim, ray)
    }
  }

  /**
   * The TLS handshake a response reports (the inspection PoP made it): the connection is now established for the
   * host, and a ticket the terminating PoP did not honour fell back to a full handshake, which the record's plan says.
   */
  function noteHandshake (r: InFlight, outcome: Outcome): void {
    const hs = outcome.headers[HANDSHAKE_HEADER]
    const planned = r.planned
    if (typeof hs !== 'string' || planned?.outcome !== 'served' || r.located === undefined) return
    const signer = outcome.headers[SIGNER_HEADER]
    r.handshake = { at: planned.inspection, op: hs, ...(typeof signer === 'string' ? { signer } : {}) }
    markEstablished(r.raw.socket, planned.host)
    if (FULL_HANDSHAKES.has(hs) && planned.tls.key === 'none') {
      const full = deps.plan({ client: r.located, host: planned.host, ingress: pop.id, newConnection: true }, world)
      if (full.outcome === 'served' && full.inspection === planned.inspection) r.planned = full
    }
  }

  /** How late a settled response leaves: now against its deadline, judged against the whole modelled time. */
  function settleRecord (due: number, modelledMs: number): SettleRecord {
    const lateMs = Math.max(0, nowMs() - due)
    return { lateMs, late: isLate(lateMs, modelledMs * delay.timeScale) }
  }

  /**
   * The response direction of the access hop. A request served along its whole plan is settled against the plan's
   * modelled total plus the jitter its waits were given (here and, as reported, at the PoPs after this one) and the
   * time the data path waited for the client's body (an upload's time is the client's; the model has no bandwidth):
   * the response leaves when that much time has passed since the request came in, so the simulation's own time on
   * loopback (parsing, planning, sockets between PoPs, timers firing early or late) counts against the modelled waits
   * and PoP processing instead of adding to them. Errors keep the plain response leg. Through the TLS edge there is
   * no leg here (the edge's pipe carries every byte of the connection across the access hop and the relay, handshake
   * included): the part of the plan after them is settled the same way.
   */
  async function lastLeg (r: InFlight, outcome: Outcome, jitter: JitterRecord): Promise<void> {
    const planned = r.planned
    // Latency off has no model to keep to: the response leaves as soon as it is ready.
    const settles = delay.enabled && planned?.outcome === 'served' && outcome.code === undefined
    // Draws never move a total by more than the jitter fraction of it: a report beyond that (a real origin may send
    // any header) is cut to the bound instead of holding the response.
    const deadline = (modelledMs: number): number => {
      const total = modelledMs * delay.timeScale
      const bound = delay.jitter * total
      return r.t0 + total + Math.max(-bound, Math.min(bound, jitter.jitterMs)) + r.clientWaitMs
    }
    if (r.tlsIn !== undefined) {
      if (!settles) return
      // The plan's own access and relay hops, whatever the edge piped: what is left is the part after them.
      let before = 0
      for (const h of planned.hops) if (h.kind === 'access' || h.kind === 'relay') before += h.rttMs
      const due = deadline(planned.modelledMs - before)
      await delay.waitUntil(due)
      r.settle = settleRecord(due, planned.modelledMs)
      return
    }
    const tb = nowMs()
    // Drawn even when settling: its jitter belongs to the request's total.
    const leg = delay.oneWayMs(r.accessRtt)
    if (settles) {
      const due = deadline(planned.modelledMs)
      await delay.waitUntil(due)
      r.settle = settleRecord(due, planned.modelledMs)
    } else {
      await delay.wait(leg)
    }
    r.accessSpent += nowMs() - tb
  }

  /** The response to the client: the outcome's status and headers (internal ones dropped), where it went, its timing. */
  function send (reply: FastifyReply, r: InFlight, outcome: Outcome, ingressId: string, hops: readonly MeasuredHop[]): FastifyReply {
    reply.code(outcome.status)
    const headers = outcome.headers
    for (const k in headers) {
      const v = headers[k]
      if (v === undefined || HOP_BY_HOP.has(k) || k.startsWith('x-sim-fwd') || k === 'x-sim-ray') continue
      reply.header(k, v)
    }
    if (outcome.headers.traceparent === undefined) reply.header('traceparent', childTraceparent(newTrace()))
    reply.header('x-sim-ray', r.ray)
      .header('x-sim-ingress', ingressId)
      .header('x-sim-inspected-at', outcome.inspectedAt ?? 'none')
      .header('server-timing', serverTiming(hops))
    if (r.tlsIn !== undefined) reply.header('x-sim-tls-terminated-at', pop.id)
    if (r.closeAfter) reply.header('connection', 'close')
    return reply.send(outcome.body)
  }

  return async function handleClient (request: FastifyRequest, reply: FastifyReply, handoff?: Handoff): Promise<FastifyReply> {
    const raw = request.raw
    const at = clock()
    const tlsIn = handoff?.tls
    // Through the TLS edge, the ingress is the PoP that took the connection in, which relayed the ciphertext here.
    const ingressId = tlsIn?.ingress ?? pop.id
    const r: InFlight = {
      raw,
      ray: newRay(ingressId),
      host: raw.headers.host ?? '',
      t0: nowMs(),
      tlsIn,
      // Every field from the start: one object shape for every request.
      planned: undefined,
      located: undefined,
      accessRtt: world.latency.params.accessMs,
      accessSpent: 0,
      outcome: undefined,
      handshake: undefined,
      settle: undefined,
      clientWaitMs: 0,
      closeAfter: false
    }
    const hops: MeasuredHop[] = []

    // A response closes once: `on` spares the wrapper `once` makes.
    reply.raw.on('close', function recordRequest () {
      // A request destroyed early (its client gone) has no socket left.
      const clientIp = String(raw.headers['x-sim-client-ip'] ?? (raw.socket as Socket | null)?.remoteAddress ?? '')
      // Answered before the body was all read (413, a refusal, an upstream error): the rest is read and dropped, for
      // a bounded time, so that the client gets the answer rather than a reset.
      if (!raw.complete) discardRest(raw)
      // The connection closed before the whole response was written: the client went away (or timed out) first.
      const closed = !reply.raw.writableFinished
      const status = closed ? ERRORS.SIM_ERR_CLIENT_CLOSED.status : reply.raw.statusCode
      const measuredMs = nowMs() - r.t0
      const sink = sinkOf(r.planned, r.planned?.host ?? r.host)
      const plan = r.planned ?? earlyPlan(r.host, new SimError('SIM_ERR_INTERNAL', ['no plan']), pop.id)
      const code = closed ? 'SIM_ERR_CLIENT_CLOSED' : r.outcome?.code
      const inspectedAt = r.outcome?.inspectedAt
      const shipped = sink !== undefined && deps.shipper.ship(sink, {
        ray: r.ray,
        at,
        clientIp,
        host: plan.host,
        pop: pop.id,
        inspectedAt: inspectedAt || undefined,
        status,
        code: code || undefined,
        ms: Math.round(measuredMs * 1000) / 1000
      })
      // Metadata only: host, PoP, outcome and timing. Never the path, query, headers or body.
      request.log.info({ ray: r.ray, host: plan.host, pop: pop.id, status, code, ms: Math.round(measuredMs) }, 'request completed')
      deps.events.emit('request', {
        ray: r.ray,
        at,
        host: plan.host,
        method: raw.method ?? '',
        status,
        code: code || undefined,
        plan,
        hops,
        measuredMs,
        handshake: r.handshake,
        logSink: shipped ? sink : undefined,
        settle: r.settle
      })
    })

    // Everything up to the response leaving, with a record of the jitter drawn on the way (the settling adds it).
    const outcome = await delay.tracked(async (jitter) => {
      const o = await serve(r, handoff, request.log)
      noteHandshake(r, o)
      // Latency off: no response leg and nothing to settle against.
      if (delay.enabled) await lastLeg(r, o, jitter)
      return o
    })
    r.outcome = outcome
    hops.push(tlsIn === undefined
      ? { from: 'client', to: r.planned?.ingress ?? ingressId, kind: 'access', modelledMs: r.accessRtt, measuredMs: r.accessSpent }
      // What the TLS edge's pipe applied, as for the relay.
      : { from: 'client', to: ingressId, kind: 'access', modelledMs: tlsIn.accessRttMs, measuredMs: piped(tlsIn.accessRttMs) })
    if (outcome.relay) hops.push(outcome.relay)
    hops.push(...outcome.downstream)
    return send(reply, r, outcome, ingressId, hops)
  }
}
