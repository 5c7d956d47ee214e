// The ingress role: a client's request arrives (on the PoP's own port, or handed over in-process by the anycast edge).
// It plans with itself as ingress, then either inspects locally or relays the request, unread, to the inspection PoP.
// For a regional customer an out-of-region ingress uses only the Host (the SNI) to route: it never reads, logs or
// keeps the path, query, headers or body (DESIGN.md invariant 1), and streams them through as opaque bytes.
import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import { SimError, isSimError } from '../../core/errors.ts'
import { normaliseHost } from '../../core/planner.ts'
import type { ClientLocation, Hop, Plan, RefusedPlan, ServedPlan } from '../../core/types.ts'
import { nowMs } from '../../net/delay.ts'
import { FWD_PREFIX, hasForwardHeaders, type ForwardFields } from '../../net/signing.ts'
import { classifyUpstreamError, describeUpstreamError, exchange, type Exchange } from '../../net/upstream.ts'
import type { MeasuredHop, RequestHandshake } from '../../runtime/types.ts'
import { newRay, toSimError } from '../http-errors.ts'
import { HANDSHAKE_HEADER, HOP_BY_HOP, SIGNER_HEADER, TICKET_HEADER, type PopDeps } from './deps.ts'
import type { InspectInput, Inspector } from './inspect.ts'
import { decodeHops, serverTiming } from './server-timing.ts'
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

export function hasBody (raw: IncomingMessage): boolean {
  const cl = raw.headers['content-length']
  return raw.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0')
}

/**
 * The request body as an iterable that starts reading the socket only when undici starts sending it: a relay that
 * fails to connect (the inspection PoP is down) leaves the body untouched, so the ingress can re-plan for any method.
 */
export function lazyBody (raw: IncomingMessage, started: () => void): AsyncIterable<Buffer> | null {
  if (!hasBody(raw)) return null
  return {
    [Symbol.asyncIterator] () {
      started()
      return raw[Symbol.asyncIterator]()
    }
  }
}

/** What inspection reads of a client request: method, target, headers and the (not yet read) body. */
export function requestParts (raw: IncomingMessage): Pick<InspectInput, 'method' | 'url' | 'headers' | 'rawHeaders' | 'body'> {
  return {
    method: raw.method ?? 'GET',
    url: raw.url ?? '/',
    headers: raw.headers,
    rawHeaders: raw.rawHeaders,
    body: lazyBody(raw, () => {})
  }
}

export function downstreamOf (p: ServedPlan): Hop[] {
  return p.hops.filter((h) => h.kind === 'key' || h.kind === 'origin')
}

export function encodeDownstream (hops: readonly Hop[]): string {
  return JSON.stringify(hops.map((h) => [h.kind, h.from, h.to, h.rttMs]))
}

/** The signed plan field of a relay: the planned key operation (`none`: no handshake) and the downstream hops. */
export function encodeForwardPlan (p: ServedPlan): string {
  return `{"tls":${JSON.stringify(p.tls.key)},"hops":${encodeDownstream(downstreamOf(p))}}`
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

/** A stand-in plan for requests refused before planning (no host, spoofed headers, unlocatable client). */
function earlyPlan (host: string, err: SimError, ingress: string): RefusedPlan {
  return { outcome: 'refused', host, client: { lat: 0, lon: 0, input: '' }, code: err.code, status: err.statusCode, reason: err.message, ingress, ledger: [] }
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

  async function relay (raw: IncomingMessage, ray: string, client: ClientLocation, first: ServedPlan): Promise<{ plan: Plan, outcome?: Outcome }> {
    let p: ServedPlan = first
    let bodyStarted = false
    const body = lazyBody(raw, () => { bodyStarted = true })
    // Only framing and routing fields are touched: names are compared, values are copied without being read.
    const headers: string[] = []
    const rh = raw.rawHeaders
    for (let i = 0; i + 1 < rh.length; i += 2) {
      const name = (rh[i] as string).toLowerCase()
      if (!HOP_BY_HOP.has(name) && !name.startsWith('x-sim-client')) headers.push(rh[i] as string, rh[i + 1] as string)
    }
    const clientField = `${client.lat},${client.lon}${client.country ? `,${client.country}` : ''}`
    for (let attempt = 0; ; attempt++) {
      const relayHop = p.hops.find((h) => h.kind === 'relay') as Hop
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
          sim: { delayMs: delay.oneWayMs(relayHop.rttMs), forward: fields }
        })
      } catch (err) {
        const kind = classifyUpstreamError(err)
        // Refused, or any failure of a PoP the runtime now knows is down (a socket it closed mid-request).
        const gone = kind === 'refused' || deps.directory(p.inspection) === undefined
        if (gone && !bodyStarted && attempt === 0) {
          // The chosen inspection PoP is down: re-plan once without it. The planner only ever offers in-region PoPs
          // (or refuses), so the retry can never move the plaintext out of the region.
          const again = deps.plan({ client, host: p.host, ingress: pop.id, down: [p.inspection], newConnection: p.tls.key !== 'none' }, world)
          deps.logger.warn({ ray, host: p.host, pop: pop.id, unreachable: p.inspection, next: again.outcome === 'served' ? again.inspection : again.code }, 'inspection PoP unreachable, re-planned')
          if (again.outcome === 'refused') return { plan: again }
          if (again.inspection === pop.id) return { plan: again, outcome: await inspectHere(raw, ray, again) }
          p = again
          continue
        }
        const sim = kind === 'timeout'
          ? new SimError('SIM_ERR_UPSTREAM_TIMEOUT', [`PoP ${p.inspection}`, 'the upstream timeout'])
          : new SimError('SIM_ERR_UPSTREAM_UNREACHABLE', [p.inspection, describeUpstreamError(err)])
        return { plan: p, outcome: errorOutcome(sim, ray, [], { inspectedAt: p.inspection }) }
      }
      // The jitter the inspection PoP's waits were given, for settling; then the response direction of the relay hop.
      delay.addJitter(Number(res.headers['x-sim-fwd-jitter-ms'] ?? 0))
      await delay.wait(delay.oneWayMs(relayHop.rttMs))
      const inner = Number(res.headers['x-sim-fwd-inner-ms'] ?? 0)
      const measured = Math.max(0, nowMs() - t - (Number.isFinite(inner) ? inner : 0))
      const code = res.headers['x-sim-fwd-code']
      return {
        plan: p,
        outcome: {
          status: res.statusCode,
          headers: res.headers,
          body: res.body,
          downstream: decodeHops(res.headers['x-sim-fwd-timing']),
          relay: { from: relayHop.from, to: relayHop.to, kind: 'relay', modelledMs: relayHop.rttMs, measuredMs: measured },
          inspectedAt: p.inspection,
          ...(typeof code === 'string' ? { code } : {})
        }
      }
    }
  }

  async function inspectHere (raw: IncomingMessage, ray: string, p: ServedPlan): Promise<Outcome> {
    const customer = world.customers.get(p.host)
    if (!customer) return errorOutcome(new SimError('SIM_ERR_HOST_UNKNOWN', [p.host]), ray)
    try {
      const out = await inspect({
        ray,
        customer,
        ...requestParts(raw),
        downstream: downstreamOf(p),
        ...(deps.tls === undefined ? {} : { tlsKey: p.tls.key })
      })
      return { status: out.status, headers: { ...out.headers, traceparent: out.traceparent }, body: out.body, downstream: out.hops, inspectedAt: pop.id }
    } catch (err) {
      return errorOutcome(toSimError(err), ray, [], { inspectedAt: pop.id })
    }
  }

  return async function handleClient (request: FastifyRequest, reply: FastifyReply, handoff?: Handoff): Promise<FastifyReply> {
    const raw = request.raw
    const t0 = nowMs()
    const at = clock()
    const tlsIn = handoff?.tls
    // Through the TLS edge, the ingress is the PoP that took the connection in, which relayed the ciphertext here.
    const ingressId = tlsIn?.ingress ?? pop.id
    const ray = newRay(ingressId)
    const host = raw.headers.host ?? ''
    let planned: Plan | undefined
    const hops: MeasuredHop[] = []
    // Filled in when the response leaves; read when the exchange closes.
    const done: { code?: string | undefined, inspectedAt?: string | undefined, handshake?: RequestHandshake } = {}

    reply.raw.once('close', function recordRequest () {
      // Answered before the body was all read (413, a refusal, an upstream error): stop reading it, which also
      // aborts a relay still streaming it, instead of leaving both sockets waiting on a body nobody wants.
      if (!raw.complete) raw.destroy()
      const status = reply.raw.statusCode
      const measuredMs = nowMs() - t0
      const sink = sinkOf(planned, host)
      const plan = planned ?? earlyPlan(host, new SimError('SIM_ERR_INTERNAL', ['no plan']), pop.id)
      const clientIp = String(raw.headers['x-sim-client-ip'] ?? raw.socket.remoteAddress ?? '')
      const shipped = sink !== undefined && deps.shipper.ship(sink, {
        ray, at, clientIp, host: plan.host, pop: pop.id, status, ms: Math.round(measuredMs * 1000) / 1000,
        ...(done.inspectedAt ? { inspectedAt: done.inspectedAt } : {}),
        ...(done.code ? { code: done.code } : {})
      })
      // Metadata only: host, PoP, outcome and timing. Never the path, query, headers or body.
      request.log.info({ ray, host: plan.host, pop: pop.id, status, code: done.code, ms: Math.round(measuredMs) }, 'request completed')
      deps.events.emit('request', {
        ray, at, host: plan.host, method: raw.method ?? '', status, plan, hops, measuredMs,
        ...(done.code ? { code: done.code } : {}),
        ...(done.handshake ? { handshake: done.handshake } : {}),
        ...(shipped ? { logSink: sink } : {})
      })
    })

    let outcome!: Outcome
    let located: ClientLocation | undefined
    let accessRtt = world.latency.params.accessMs
    let accessSpent = 0
    // Everything up to the response leaving, with a record of the jitter drawn on the way (the settling adds it).
    await delay.tracked(async (jitter) => {
      try {
        if (hasForwardHeaders(raw.headers)) throw new SimError('SIM_ERR_FORWARD_UNAUTHENTICATED', [`${FWD_PREFIX}-* headers are set by PoPs only`])
        if (host === '') throw new SimError('SIM_ERR_HOST_MISSING')
        const cl = raw.headers['content-length']
        if (cl !== undefined && Number(cl) > deps.limits.bodyLimitBytes) throw new SimError('SIM_ERR_BODY_TOO_LARGE', [deps.limits.bodyLimitBytes])
        const client = handoff?.client ?? deps.locateClient(raw.headers)
        located = client
        // A new connection (or a ticket the terminating PoP may not honour) plans the key operation; a request on an
        // established connection or with a session ticket plans none (RFC 8446 section 2.2).
        const ticket = raw.headers[TICKET_HEADER]
        const newConnection = deps.tls === undefined || !(isEstablished(raw.socket, normaliseHost(host)) || (typeof ticket === 'string' && ticket !== ''))
        let p: Plan
        if (tlsIn === undefined) {
          p = deps.plan({ client, host, ingress: pop.id, newConnection }, world)
        } else {
          // One TLS connection, one server name: a request for another host is misdirected (RFC 9110 section 15.5.20).
          if (normaliseHost(host) !== tlsIn.sni) throw new SimError('SIM_ERR_TLS_SNI_MISMATCH', [normaliseHost(host), tlsIn.sni])
          // Planned as the TLS edge did: PoPs that may not hold the key are unavailable, so this PoP inspects. If the
          // ingress is in the region but outside the key policy, the edge handed over to this key holder: plan from here.
          p = deps.plan({ client, host, ingress: tlsIn.ingress, down: tlsIn.down, newConnection }, world)
          if (p.outcome === 'served' && p.inspection !== pop.id) p = deps.plan({ client, host, ingress: pop.id, newConnection }, world)
        }
        planned = p
        accessRtt = p.outcome === 'served' ? (p.hops[0] as Hop).rttMs : world.latency.rttMs(client, pop) + world.latency.params.accessMs
        // The request direction of the client's access hop.
        const ta = nowMs()
        await delay.wait(delay.oneWayMs(accessRtt))
        accessSpent = nowMs() - ta
        if (p.outcome === 'refused') {
          outcome = refusedOutcome(p, ray)
        } else if (p.inspection === pop.id) {
          outcome = await inspectHere(raw, ray, p)
          const relayHop = p.hops.find((h) => h.kind === 'relay')
          if (tlsIn !== undefined && relayHop !== undefined) {
            // The ciphertext relay happened on the TLS stream itself (the edge's delayed pipe): report what it applied.
            const applied = delay.enabled ? relayHop.rttMs * delay.timeScale : 0
            outcome = { ...outcome, relay: { from: relayHop.from, to: relayHop.to, kind: 'relay', modelledMs: relayHop.rttMs, measuredMs: applied } }
          }
        } else {
          const r = await relay(raw, ray, client, p)
          planned = r.plan
          outcome = r.plan.outcome === 'refused' ? refusedOutcome(r.plan, ray) : r.outcome as Outcome
        }
      } catch (err) {
        const sim = isSimError(err) ? err : toSimError(err)
        if (!isSimError(err)) request.log.error({ ray, host, pop: pop.id, err }, 'ingress failure')
        planned ??= earlyPlan(host, sim, pop.id)
        outcome = errorOutcome(sim, ray)
      }

      const hs = outcome.headers[HANDSHAKE_HEADER]
      if (typeof hs === 'string' && planned?.outcome === 'served' && located !== undefined) {
        const signer = outcome.headers[SIGNER_HEADER]
        done.handshake = { at: planned.inspection, op: hs, ...(typeof signer === 'string' ? { signer } : {}) }
        markEstablished(raw.socket, planned.host)
        // A ticket the terminating PoP did not honour fell back to a full handshake: the record's plan says so too.
        if (FULL_HANDSHAKES.has(hs) && planned.tls.key === 'none') {
          const full = deps.plan({ client: located, host: planned.host, ingress: pop.id, newConnection: true }, world)
          if (full.outcome === 'served' && full.inspection === planned.inspection) planned = full
        }
      }

      // The response direction of the access hop, then the response leaves. A request served along its whole plan is
      // settled against the plan's modelled total plus the jitter its waits were given (here and, as reported, at the
      // PoPs after this one): the response leaves when that much time has passed since the request came in, so the
      // simulation's own time on loopback (parsing, planning, sockets between PoPs, timers firing early or late)
      // counts against the modelled waits and PoP processing instead of adding to them. Through the TLS edge the relay
      // happened before the request reached this handler: it keeps the plain response leg.
      const tb = nowMs()
      // Drawn even when settling: its jitter belongs to the request's total.
      const lastLeg = delay.oneWayMs(accessRtt)
      if (tlsIn === undefined && planned?.outcome === 'served' && outcome.code === undefined) {
        // Draws never move a total by more than the jitter fraction of it: a report beyond that (a real origin may
        // send any header) is cut to the bound instead of holding the response.
        const total = planned.modelledMs * delay.timeScale
        const bound = delay.jitter * total
        await delay.waitUntil(t0 + total + Math.max(-bound, Math.min(bound, jitter.jitterMs)))
      } else {
        await delay.wait(lastLeg)
      }
      accessSpent += nowMs() - tb
    })
    hops.push({ from: 'client', to: planned?.ingress ?? ingressId, kind: 'access', modelledMs: accessRtt, measuredMs: accessSpent })
    if (outcome.relay) hops.push(outcome.relay)
    hops.push(...outcome.downstream)
    done.code = outcome.code
    done.inspectedAt = outcome.inspectedAt
    const inspectedAt = outcome.inspectedAt

    reply.code(outcome.status)
    for (const [k, v] of Object.entries(outcome.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k) || k.startsWith('x-sim-fwd') || k === 'x-sim-ray') continue
      reply.header(k, v)
    }
    if (outcome.headers.traceparent === undefined) reply.header('traceparent', childTraceparent(newTrace()))
    reply.header('x-sim-ray', ray)
      .header('x-sim-ingress', ingressId)
      .header('x-sim-inspected-at', inspectedAt ?? 'none')
      .header('server-timing', serverTiming(hops))
    if (tlsIn !== undefined) reply.header('x-sim-tls-terminated-at', pop.id)
    return reply.send(outcome.body)
  }
}
