// The floor for a Node forwarder: fastify in, one keep-alive undici pool out, bodies streamed both ways, hop-by-hop
// headers dropped (RFC 9110 section 7.6.1). No routing, signing, planning or logging: the cost of a hop and nothing
// else, to compare residency-sim's hop against. The buffered variant answers through the simulation's own upstream
// exchange (src/net/upstream.ts: a response of up to 64 KiB with a Content-Length is read whole and leaves in one
// write, larger ones stream), so that it differs from residency-sim's hop by the simulator's features alone.
import Fastify, { type FastifyInstance } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import { Pool, type Dispatcher } from 'undici'
import { exchange } from '../../src/net/upstream.ts'

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization'])

function forwardable (headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v
  return out
}

export interface PlainForwarderOptions {
  /** Small responses read whole and sent in one write, as residency-sim's hops do, instead of streamed. */
  readonly buffered?: boolean
}

export function buildPlainForwarder (upstream: string, opts: PlainForwarderOptions = {}): FastifyInstance {
  const pool = new Pool(upstream, { connections: 64, keepAliveTimeout: 10_000 })
  // Teardown between benchmark variants must not wait for the load generator's idle keep-alive sockets. A request
  // without a body gets an already-ended body stream, as in residency-sim's services (src/services/http-errors.ts):
  // the floor keeps every setting that makes residency-sim's hop cheaper.
  const app = Fastify({ logger: false, forceCloseConnections: true, http: { optimizeEmptyRequests: true } })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', function passThrough (_req, _payload, done) { done(null) })
  app.addHook('onClose', async () => { await pool.close() })
  app.all('/*', async function forward (request, reply) {
    const raw = request.raw
    const hasBody = raw.headers['content-length'] !== undefined || raw.headers['transfer-encoding'] !== undefined
    const req = {
      path: raw.url ?? '/',
      method: raw.method as Dispatcher.HttpMethod,
      headers: forwardable(raw.headers),
      body: hasBody ? raw : null
    }
    const res = opts.buffered === true ? await exchange(pool, req) : await pool.request(req)
    return reply.code(res.statusCode).headers(forwardable(res.headers)).send(res.body)
  })
  return app
}
