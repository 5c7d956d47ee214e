// The inspection role for relayed traffic: a request another PoP (the ingress) forwards here, authenticated by the
// HMAC over its forwarding headers. Unsigned, forged, replayed or misaddressed relays are refused before anything
// is read (docs/design.md invariant 5); an authentic one is inspected and sent to the origin.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { SimError } from '../../core/errors.ts'
import type { Hop, KeyOperation } from '../../core/types.ts'
import { nowMs, type JitterRecord } from '../../net/delay.ts'
import type { MeasuredHop } from '../records.ts'
import { sendError, toSimError } from '../http-errors.ts'
import type { PopDeps } from './deps.ts'
import { discardRest, hasBody, inspectInput } from './ingress.ts'
import type { Inspector } from './inspect.ts'
import { RELAY_RESULT_HEADER, encodeRelayResult } from './server-timing.ts'

const KEY_OPS = new Set<string>(['local', 'remote', 'keyless', 'none'])

/** No jitter drawn (a run without jitter keeps no record). */
const NO_JITTER: JitterRecord = Object.freeze({ jitterMs: 0 })

interface Downstream { readonly hops: readonly Hop[], readonly tlsKey?: KeyOperation }

/** The signed plan field: `{ tls, hops }` (see encodeDownstream in ingress.ts); a bare hop list carries no TLS mode. */
function parseDownstream (text: string): Downstream {
  try {
    const v = JSON.parse(text) as { tls?: string, hops?: unknown } | unknown[]
    const rows = (Array.isArray(v) ? v : v.hops) as [Hop['kind'], string, string, number][]
    const hops = rows.map(([kind, from, to, rttMs]) => ({ kind, from, to, rttMs }))
    const tls = Array.isArray(v) ? undefined : v.tls
    return typeof tls === 'string' && KEY_OPS.has(tls) ? { hops, tlsKey: tls as KeyOperation } : { hops }
  } catch {
    return { hops: [] }
  }
}

/** How many distinct plan fields a PoP keeps parsed: routes repeat, so a handful covers a run. */
const PLAN_CACHE_ENTRIES = 512

export function createRelayed (deps: PopDeps, inspect: Inspector) {
  const { pop, world } = deps
  // Parsed plan fields by their text (read-only once parsed): a relay of a route seen before parses nothing. The
  // text was authenticated before it is looked up, and the cache is emptied when full, so it stays bounded.
  const plans = new Map<string, Downstream>()
  // The last one looked up, compared as text first: a route repeats, and comparing two strings costs less than
  // hashing a fresh one (each relay's field is a new string) for the map.
  let lastText = ''
  let last: Downstream = { hops: [] }
  function plannedDownstream (text: string): Downstream {
    if (text === lastText) return last
    let d = plans.get(text)
    if (d === undefined) {
      if (plans.size >= PLAN_CACHE_ENTRIES) plans.clear()
      plans.set(text, d = parseDownstream(text))
    }
    lastText = text
    last = d
    return d
  }

  return async function handleRelayed (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const t0 = nowMs()
    const raw = request.raw
    // A body left unread by an early answer (over the limit, blocked) is discarded once the answer has left.
    if (hasBody(raw)) reply.raw.once('close', () => { discardRest(raw) })
    const v = deps.signer.verify(raw.headers)
    if (!v.ok) {
      request.log.warn({ pop: pop.id, code: 'SIM_ERR_FORWARD_UNAUTHENTICATED', reason: v.reason }, 'unauthenticated relay refused')
      return sendError(reply, new SimError('SIM_ERR_FORWARD_UNAUTHENTICATED', [v.reason]), pop.id)
    }
    const f = v.fields
    // An error answer carries the request's ray; a served one does not need it (the ingress, which made it, adds it).
    const refuse = (err: SimError) => sendError(reply.header('x-sim-ray', f.ray), err, pop.id)
    if (f.inspection !== pop.id) return refuse(new SimError('SIM_ERR_FORWARD_UNAUTHENTICATED', [`signed for ${f.inspection}, not ${pop.id}`]))
    const customer = world.customers.get(f.host)
    if (!customer) return refuse(new SimError('SIM_ERR_HOST_UNKNOWN', [f.host]))
    // Defence in depth for invariant 1: even an authentic relay is not decrypted outside the customer's region
    // (with failover open, the ingress inspects itself; it never relays out of the region).
    if (customer.region !== null && customer.region.members[pop.index] !== 1) {
      return refuse(new SimError('SIM_ERR_REGION_UNAVAILABLE', [customer.region.id, customer.host]))
    }

    let hops: MeasuredHop[] = []
    let status: number
    const planned = plannedDownstream(f.plan)
    try {
      // With jitter, the waits here are drawn here: the ingress settles the request against them (reported in
      // RELAY_RESULT_HEADER).
      let jitter = NO_JITTER
      const out = await deps.delay.tracked((record) => {
        jitter = record
        return inspect(inspectInput(raw, f.ray, customer, planned.hops, planned.tlsKey, false))
      })
      const jitterMs = jitter.jitterMs
      hops = out.hops
      status = out.status
      reply.code(out.status)
      const headers = out.headers
      for (const k in headers) {
        const val = headers[k]
        if (val !== undefined) reply.header(k, val)
      }
      reply.header('traceparent', out.traceparent)
        .header(RELAY_RESULT_HEADER, encodeRelayResult(nowMs() - t0, jitterMs, undefined, hops, planned.hops))
      request.log.info({ ray: f.ray, host: customer.host, pop: pop.id, role: 'inspection', ingress: f.ingress, status }, 'request inspected')
      return reply.send(out.body)
    } catch (err) {
      const sim = toSimError(err)
      request.log.info({ ray: f.ray, host: customer.host, pop: pop.id, role: 'inspection', ingress: f.ingress, code: sim.code }, 'request refused at inspection')
      reply.header(RELAY_RESULT_HEADER, encodeRelayResult(nowMs() - t0, 0, sim.code, hops, planned.hops))
      return refuse(sim)
    }
  }
}
