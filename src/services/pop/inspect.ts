// The inspection role: where TLS terminates and the plaintext is handled. Runs the WAF rules, performs the modelled
// key operation, adds the customer's inspection header and sends the request to the origin, streaming both ways.
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { SimError } from '../../core/errors.ts'
import type { Customer, Hop } from '../../core/types.ts'
import { nowMs } from '../../net/delay.ts'
import { classifyUpstreamError, describeUpstreamError, sendRequest } from '../../net/upstream.ts'
import type { MeasuredHop } from '../../runtime/types.ts'
import { SEEN_FROM_HEADER } from '../origin/app.ts'
import { HOP_BY_HOP, type PopDeps } from './deps.ts'
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
}

export interface InspectOutcome {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Readable
  readonly hops: MeasuredHop[]
  readonly traceparent: string
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

export function createInspector (deps: PopDeps) {
  const { pop, delay } = deps

  return async function inspect (input: InspectInput): Promise<InspectOutcome> {
    const hops: MeasuredHop[] = []
    const rule = wafCheck(input.url)
    if (rule !== undefined) throw new SimError('SIM_ERR_WAF_BLOCKED', [rule])

    // Key operation for a new TLS connection: a round trip to the signer when the key is not held here.
    for (const h of input.downstream) {
      if (h.kind !== 'key') continue
      const t = nowMs()
      await delay.wait(delay.oneWayMs(h.rttMs))
      await delay.wait(delay.oneWayMs(h.rttMs))
      hops.push({ from: h.from, to: h.to, kind: 'key', modelledMs: h.rttMs, measuredMs: nowMs() - t })
    }

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
    const abort = new AbortController()
    let res
    try {
      res = await sendRequest(deps.upstreams.get(originUrl), {
        path: input.url,
        method: input.method as Dispatcher.HttpMethod,
        headers,
        body: input.body === null ? null : limitedBody(input.body, deps.limits.bodyLimitBytes, abort),
        signal: abort.signal,
        sim: { delayMs: delay.oneWayMs(originHop.rttMs) }
      })
    } catch (err) {
      if (abort.signal.aborted) throw abort.signal.reason
      if (err instanceof SimError) throw err
      const kind = classifyUpstreamError(err)
      if (kind === 'timeout') throw new SimError('SIM_ERR_UPSTREAM_TIMEOUT', [`origin of ${input.customer.host}`, 'the upstream timeout'])
      throw new SimError('SIM_ERR_ORIGIN_UNREACHABLE', [input.customer.host, describeUpstreamError(err)])
    }
    // The response direction of the origin hop.
    await delay.wait(delay.oneWayMs(originHop.rttMs))
    const service = Number(res.headers['x-sim-origin-service-ms'] ?? 0)
    hops.push({ from: originHop.from, to: originHop.to, kind: 'origin', modelledMs: originHop.rttMs, measuredMs: Math.max(0, nowMs() - t - (Number.isFinite(service) ? service : 0)) })

    const out: Record<string, string | string[] | undefined> = {}
    for (const [k, v] of Object.entries(res.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v
    return { status: res.statusCode, headers: out, body: res.body, hops, traceparent }
  }
}

export type Inspector = ReturnType<typeof createInspector>
