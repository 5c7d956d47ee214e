// `POST /api/requests`: one real request sent through the anycast edge for a client and a customer, as `curl -H 'Host:
// ...' -H 'x-sim-client: ...'` would send it. The teaching page cannot: a browser may not set Host, and the edge is
// another origin. The request runs like any other (it is in the ledger, the event stream and the metrics); the answer
// here is what the client saw of it.
import { Type } from '@sinclair/typebox'
import type { Static } from '@sinclair/typebox'
import { Client } from 'undici'
import { SimError } from '../../core/errors.ts'
import { classifyUpstreamError, describeUpstreamError } from '../../net/upstream.ts'

export const SendBody = Type.Object({
  host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[\\x21-\\x7e]+$', description: 'Customer host, sent as the Host header.' }),
  client: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Client location, sent as x-sim-client (IATA code, city, lat,lon or IP address); without it, the scenario\'s default client.' })),
  path: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: '^/[\\x21-\\x7e]*$', description: 'Request target (default /).' }))
}, { additionalProperties: false })

export type SendRequest = Static<typeof SendBody>

/** What the client saw: the status, where the request went (the response's own headers) and how long it took. */
export interface SendResult {
  readonly status: number
  readonly ray: string | null
  readonly ingress: string | null
  readonly inspectedAt: string | null
  readonly tlsHandshake: string | null
  readonly serverTiming: string | null
  /** Wall-clock time from sending to the last byte of the answer, ms (the modelled latency, time-scaled, when on). */
  readonly ms: number
  /** The simulator's error answer, when it refused the request. */
  readonly error?: { readonly code: string, readonly message: string }
}

/** The longest a request may take: a far keyless handshake adds a second or so; nothing in a scenario takes longer. */
export const SEND_TIMEOUT_MS = 60_000

/** Error answers are small JSON; anything larger than this is not one of the simulator's. */
const ERROR_BODY_LIMIT = 16 * 1024

function header (headers: Record<string, string | string[] | undefined>, name: string): string | null {
  const v = headers[name]
  return typeof v === 'string' ? v : null
}

/**
 * A location as a header can carry it: accents dropped (a city is matched without them), the rest must be
 * printable ASCII.
 */
function clientField (client: string): string {
  const ascii = client.normalize('NFD').replace(/[\u0300-\u036f]/g, '')
  if (!/^[\x20-\x7e]+$/.test(ascii)) throw new SimError('SIM_ERR_INPUT_INVALID', ['body/client', `"${client.slice(0, 100)}" cannot be sent in a header: letters without accents, digits, spaces and punctuation only`])
  return ascii
}

/**
 * Reads an answer's body to its end, as a client does: one cut short would close the connection under the edge while
 * it is still answering, and the request would be recorded as its client gone (499). undici's `dump()` reads 128 KiB
 * and then does just that. Returns the text when it is small enough to be an error answer of the simulator's.
 */
async function drain (body: AsyncIterable<Buffer>): Promise<string | undefined> {
  let text = ''
  let tooLong = false
  for await (const chunk of body) {
    tooLong ||= text.length + chunk.length > ERROR_BODY_LIMIT
    if (!tooLong) text += chunk.toString('utf8')
  }
  return tooLong ? undefined : text
}

/** The simulator's error in an error answer's text (an origin's own error page has none). */
function errorOf (text: string | undefined): SendResult['error'] {
  if (text === undefined) return undefined
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown, message?: unknown } }).error
    return typeof error?.code === 'string' && typeof error.message === 'string' ? { code: error.code, message: error.message } : undefined
  } catch {
    return undefined
  }
}

/** Sends the request on a connection of its own (a new visitor: a new TLS connection in the model) and reports it. */
export async function sendThroughEdge (edgeUrl: string, req: SendRequest): Promise<SendResult> {
  const headers: Record<string, string> = { host: req.host }
  if (req.client !== undefined) headers['x-sim-client'] = clientField(req.client)
  const client = new Client(edgeUrl, { headersTimeout: SEND_TIMEOUT_MS, bodyTimeout: SEND_TIMEOUT_MS })
  const t = performance.now()
  try {
    const res = await client.request({ path: req.path ?? '/', method: 'GET', headers })
    const text = await drain(res.body)
    const error = res.statusCode >= 400 ? errorOf(text) : undefined
    const h = res.headers
    return {
      status: res.statusCode,
      ray: header(h, 'x-sim-ray'),
      ingress: header(h, 'x-sim-ingress'),
      inspectedAt: header(h, 'x-sim-inspected-at'),
      tlsHandshake: header(h, 'x-sim-tls-handshake'),
      serverTiming: header(h, 'server-timing'),
      ms: Math.round((performance.now() - t) * 1000) / 1000,
      ...(error === undefined ? {} : { error })
    }
  } catch (err) {
    if (classifyUpstreamError(err) === 'timeout') throw new SimError('SIM_ERR_UPSTREAM_TIMEOUT', ['the anycast edge', SEND_TIMEOUT_MS])
    throw new SimError('SIM_ERR_INTERNAL', [`the anycast edge did not answer: ${describeUpstreamError(err)}`])
  } finally {
    await client.close()
  }
}
