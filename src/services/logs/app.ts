// A log sink: the core data centre of one log region (Customer Metadata Boundary). It accepts batches of NDJSON log
// records only from PoPs (HMAC-signed batches) and keeps the most recent ones in a bounded in-memory store: as their
// NDJSON lines, read back into objects only when asked for (a record is kept for thousands of requests, and one
// string is cheaper for the garbage collector to keep than the object and its strings).
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { SimError } from '../../core/errors.ts'
import type { ForwardSigner } from '../../net/signing.ts'
import { installErrorHandling, sendError, serverOptions } from '../http-errors.ts'

/** One shipped log record: request metadata only (docs/design.md, log locality): never a path, header or body. */
export interface LogRecord {
  readonly ray: string
  readonly at: number
  readonly clientIp: string
  readonly host: string
  /** The ingress PoP that shipped it. */
  readonly pop: string
  readonly inspectedAt?: string | undefined
  readonly status: number
  readonly code?: string | undefined
  readonly ms: number
}

export interface LogSinkDeps {
  /** Sink id: the core PoP id (FRA, IAD). */
  readonly id: string
  readonly signer: ForwardSigner
  readonly logger: Logger
  readonly capacity?: number
  readonly bodyLimitBytes?: number
}

/** A fixed-size ring: O(1) append, oldest records dropped first. */
export class RecordRing<T> {
  readonly #items: (T | undefined)[]
  #next = 0
  #size = 0
  constructor (capacity: number) { this.#items = new Array<T | undefined>(capacity) }
  push (item: T): void {
    this.#items[this.#next] = item
    this.#next = (this.#next + 1) % this.#items.length
    if (this.#size < this.#items.length) this.#size++
  }
  get size (): number { return this.#size }
  /** Oldest first. */
  toArray (): T[] {
    const out: T[] = []
    const start = (this.#next - this.#size + this.#items.length) % this.#items.length
    for (let i = 0; i < this.#size; i++) out.push(this.#items[(start + i) % this.#items.length] as T)
    return out
  }
}

export function buildApp (deps: LogSinkDeps): FastifyInstance {
  const label = `LOGS-${deps.id}`
  const app = Fastify({
    loggerInstance: deps.logger.child({ service: 'logs', sink: deps.id }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimitBytes ?? 8 * 1048576,
    ...serverOptions(label)
  })
  installErrorHandling(app, label)
  const store = new RecordRing<string>(deps.capacity ?? 10000)
  let received = 0

  // The body must be kept as bytes: the signature covers them exactly.
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'buffer' }, function keepBytes (_req, body, done) {
    done(null, body)
  })

  app.post('/logs', async function receiveBatch (request, reply) {
    const body = request.body
    if (!Buffer.isBuffer(body)) return sendError(reply, new SimError('SIM_ERR_BAD_REQUEST', ['expected application/x-ndjson']), label)
    const v = deps.signer.verifyBody(request.headers, body)
    if (!v.ok) {
      request.log.warn({ sink: deps.id, reason: v.reason }, 'unsigned log batch refused')
      return sendError(reply, new SimError('SIM_ERR_FORWARD_UNAUTHENTICATED', [v.reason]), label)
    }
    let accepted = 0
    for (const line of body.toString('utf8').split('\n')) {
      if (line === '') continue
      let rec: LogRecord
      try { rec = JSON.parse(line) as LogRecord } catch { continue }
      // A PoP may only ship records of requests it took in.
      if (rec === null || typeof rec !== 'object' || rec.pop !== v.pop) continue
      store.push(line)
      accepted++
    }
    received += accepted
    return reply.code(202).send({ accepted })
  })

  app.get<{ Querystring: { host?: string, ray?: string } }>('/logs', async function readBack (request) {
    const { host, ray } = request.query
    let records = store.toArray().map((line) => JSON.parse(line) as LogRecord)
    if (host !== undefined) records = records.filter((r) => r.host === host)
    if (ray !== undefined) records = records.filter((r) => r.ray === ray)
    return { sink: deps.id, received, records }
  })
  return app
}
