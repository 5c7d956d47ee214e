// The inspection role: where TLS terminates and the plaintext is handled. Runs the WAF rules, performs the modelled
// key operation, adds the customer's inspection header and sends the request to the origin, streaming both ways.
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { SimError } from '../../core/errors.ts'
import type { Customer, Hop, KeyOperation } from '../../core/types.ts'
import { nowMs, overrun } from '../../net/delay.ts'
import { classifyUpstreamError, describeUpstreamError, exchange } from '../../net/upstream.ts'
import type { MeasuredHop } from '../records.ts'
import type { HandshakeResult } from '../keys/handshake.ts'
import { ORIGIN_JITTER_HEADER, ORIGIN_SERVICE_HEADER, SEEN_FROM_HEADER } from '../origin/app.ts'
import { HANDSHAKE_HEADER, HOP_BY_HOP, SIGNER_HEADER, TICKET_HEADER, type PopDeps } from './deps.ts'
import { childTraceparent, newTrace, parseTraceparent } from './trace.ts'
import { wafCheck } from './waf.ts'

export interface InspectInput {
  readonly ray: string
  readonly customer: Customer
  readonly method: string
  /** Request target as received (path and query). */
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly rawHeaders: readonly string[]
  readonly body: AsyncIterable<Buffer> | null
  /** The key and origin hops of the plan, downstream of this PoP. */
  readonly downstream: readonly Hop[]
  /** The planned key operation: `none` when the client's TLS connection is already established (no handshake). */
  readonly tlsKey?: KeyOperation | undefined
  /**
   * The first request on a real TLS connection (through the TLS edge) whose handshake resumed a session from a
   * ticket (RFC 8446 section 2.2): that handshake made no key operation.
   */
  readonly tlsResumed?: boolean | undefined
}

export interface InspectOutcome {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Readable | Buffer
  readonly hops: MeasuredHop[]
  readonly traceparent: string
  readonly handshake?: HandshakeResult
}

/** Headers that never reach an origin: hop-by-hop ones and the simulator's routing inputs. */
function forOrigin (name: string): boolean {
  return !HOP_BY_HOP.has(name) && !name.startsWith('x-sim-') && name !== 'traceparent'
}

/** Counts body bytes on their way to the origin, failing the stream past the limit (a 413 when nothing was answered yet). */
export function limitedBody (source: AsyncIterable<Buffer>, limit: number, abort: AbortController): AsyncIterable<Buffer> {
  return {
    async * [Symbol.asyncIterator] () {
      let n = 0
      for await (const chunk of source) {
        n += chunk.length
        if (n > limit) {
          const err = new SimError('SIM_ERR_BODY_TOO_LARGE', [limit])
          // Aborting (not only throwing) makes undici drop the half-written request's socket; left alone, the
          // origin would wait for the rest of a chunked body until the keep-alive timeout.
          abort.abort(err)
          throw err
        }
        yield chunk
      }
    }
  }
}

/** The handshakes that make no key operation, the same object for every request. */
const RESUMED: HandshakeResult = Object.freeze({ op: 'resumed', ms: 0 })
const NO_HANDSHAKE: HandshakeResult = Object.freeze({ op: 'none', ms: 0 })

function hasKeyHop (hops: readonly Hop[]): boolean {
  for (const h of hops) if (h.kind === 'key') return true
  return false
}

export function createInspector (deps: PopDeps) {
  const { pop, delay } = deps

  /**
   * The handshake of a client connection at this PoP (where TLS terminates). A real TLS connection that resumed a
   * session made no key operation, and a request on an established connection (`tlsKey` none, no ticket) needs no
   * handshake at all: both are answered without waiting. Otherwise, a ticket resumes and a new connection is a real
   * signature made here, by the nearest authorised PoP or by the customer's key server, verified here.
   */
  function handshakeHere (input: InspectInput, hops: MeasuredHop[]): HandshakeResult | Promise<HandshakeResult> {
    if (input.tlsResumed === true) return RESUMED
    const t = input.headers[TICKET_HEADER]
    const ticket = typeof t === 'string' && t !== '' ? t : undefined
    if (input.tlsKey === 'none' && ticket === undefined) return NO_HANDSHAKE
    return keyOperation(input, ticket, hops)
  }

  async function keyOperation (input: InspectInput, ticket: string | undefined, hops: MeasuredHop[]): Promise<HandshakeResult> {
    const r = await (deps.tls as NonNullable<PopDeps['tls']>).handshaker.handshake({
      pop: pop.id,
      customer: input.customer,
      ...(ticket === undefined ? {} : { sessionTicket: ticket })
    })
    if (r.op === 'remote' || r.op === 'keyless') {
      const planned = input.downstream.find((h) => h.kind === 'key')
      hops.push({ from: pop.id, to: r.signer ?? planned?.to ?? 'signer', kind: 'key', modelledMs: r.modelledRttMs ?? planned?.rttMs ?? 0, measuredMs: r.ms })
    }
    return r
  }

  /** Without key services (unit set-ups): the key round trip of the plan as a modelled delay only. */
  async function modelledKeyHops (input: InspectInput, hops: MeasuredHop[]): Promise<void> {
    for (const h of input.downstream) {
      if (h.kind !== 'key') continue
      const t = nowMs()
      await delay.wait(delay.oneWayMs(h.rttMs))
      await delay.wait(delay.oneWayMs(h.rttMs))
      hops.push({ from: h.from, to: h.to, kind: 'key', modelledMs: h.rttMs, measuredMs: nowMs() - t })
    }
  }

  return async function inspect (input: InspectInput): Promise<InspectOutcome> {
    const hops: MeasuredHop[] = []
    // TLS comes first: a request exists only on an established connection (RFC 8446 section 2).
    // Only what needs waiting is awaited: an await costs a turn of the microtask queue even when nothing is pending.
    let handshake: HandshakeResult | undefined
    if (deps.tls !== undefined && input.tlsKey !== undefined) {
      const h = handshakeHere(input, hops)
      handshake = h instanceof Promise ? await h : h
    } else if (hasKeyHop(input.downstream)) {
      await modelledKeyHops(input, hops)
    }
    const rule = wafCheck(input.url)
    if (rule !== undefined) throw new SimError('SIM_ERR_WAF_BLOCKED', [rule])

    const originHop = input.downstream.find((h) => h.kind === 'origin')
    const originUrl = deps.originUrl(input.customer.host)
    if (!originHop || !originUrl) throw new SimError('SIM_ERR_ORIGIN_UNREACHABLE', [input.customer.host, 'no origin configured'])

    const trace = parseTraceparent(input.headers.traceparent) ?? newTrace()
    const traceparent = childTraceparent(trace)
    const headers: string[] = []
    const raw = input.rawHeaders
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase()
      if (forOrigin(name)) headers.push(raw[i] as string, raw[i + 1] as string)
    }
    headers.push(SEEN_FROM_HEADER, pop.id, 'traceparent', traceparent)
    const ih = input.customer.inspectionHeader
    if (ih) headers.push(ih.name, ih.value)

    const t = nowMs()
    const outbound = delay.oneWayMs(originHop.rttMs)
    // Only a request with a body can outgrow the limit and need aborting mid-send.
    const abort = input.body === null ? undefined : new AbortController()
    let res
    try {
      res = await exchange(deps.upstreams.get(originUrl), {
        path: input.url,
        method: input.method as Dispatcher.HttpMethod,
        headers,
        body: input.body === null || abort === undefined ? null : limitedBody(input.body, deps.limits.bodyLimitBytes, abort),
        ...(abort === undefined ? {} : { signal: abort.signal }),
        sim: { delayMs: outbound }
      })
    } catch (err) {
      if (abort?.signal.aborted === true) throw abort.signal.reason
      if (err instanceof SimError) throw err
      const kind = classifyUpstreamError(err)
      if (kind === 'timeout') throw new SimError('SIM_ERR_UPSTREAM_TIMEOUT', [`origin of ${input.customer.host}`, 'the upstream timeout'])
      throw new SimError('SIM_ERR_ORIGIN_UNREACHABLE', [input.customer.host, describeUpstreamError(err)])
    }
    // The jitter of the origin's service time, for settling; then the response direction of the origin hop. An origin
    // of the simulation reports its service time, and what the exchange took beyond it and the outbound wait (sockets,
    // timers firing late, a busy event loop) comes off this wait, so the hop takes its modelled round trip in all. An
    // external origin reports nothing: its time is its own, and the hop waits in full.
    delay.addJitter(Number(res.headers[ORIGIN_JITTER_HEADER] ?? 0))
    const reported = Number(res.headers[ORIGIN_SERVICE_HEADER])
    const service = Number.isFinite(reported) ? reported : undefined
    if (delay.enabled) await delay.wait(delay.oneWayMs(originHop.rttMs) - (service === undefined ? 0 : overrun(t, outbound + service)))
    hops.push({ from: originHop.from, to: originHop.to, kind: 'origin', modelledMs: originHop.rttMs, measuredMs: Math.max(0, nowMs() - t - (service ?? 0)) })

    const out: Record<string, string | string[] | undefined> = {}
    const answered = res.headers
    // The origin's service time was for this PoP alone (the settling above).
    for (const k in answered) if (!HOP_BY_HOP.has(k) && k !== ORIGIN_SERVICE_HEADER) out[k] = answered[k]
    if (handshake === undefined) return { status: res.statusCode, headers: out, body: res.body, hops, traceparent }
    out[HANDSHAKE_HEADER] = handshake.op
    if (handshake.signer !== undefined) out[SIGNER_HEADER] = handshake.signer
    if (handshake.ticket !== undefined) out[TICKET_HEADER] = handshake.ticket
    return { status: res.statusCode, headers: out, body: res.body, hops, traceparent, handshake }
  }
}

export type Inspector = ReturnType<typeof createInspector>
