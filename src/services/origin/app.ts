// A simulated origin server for one customer: answers after its service time with a body of the configured size,
// and echoes which PoP connected to it (`seenFrom`), so tests and demos can see where a request was inspected.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Delay } from '../../net/delay.ts'
import { DEFAULT_MAX_HEADER_SIZE, FORWARDING_HEADER_ALLOWANCE, REQUEST_TIMEOUT_MS, installErrorHandling, sameLogger, serverOptions } from '../http-errors.ts'

export interface OriginDeps {
  readonly host: string
  readonly responseBytes: number
  readonly serviceTimeMs: number
  readonly delay: Delay
  readonly logger: Logger
  /** The inspection header the customer expects, echoed back as `inspected` when present. */
  readonly inspectionHeader?: string
  readonly bodyLimitBytes?: number
  /** The scenario's `server.headerLimitBytes`: what PoPs hold clients to (the origin takes what they add on top). */
  readonly headerLimitBytes?: number
}

/** Header by which an inspection PoP names itself to the origin (on loopback every peer is 127.0.0.1). */
export const SEEN_FROM_HEADER = 'x-sim-pop'

/** The origin's own time on a request, ms: the inspection PoP settles its origin hop against it, then drops it. */
export const ORIGIN_SERVICE_HEADER = 'x-sim-origin-service-ms'

/** How far the service time drawn with jitter was from the configured one, ms (only with jitter). */
export const ORIGIN_JITTER_HEADER = 'x-sim-origin-jitter-ms'

export function buildApp (deps: OriginDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger.child({ service: 'origin', host: deps.host }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: sameLogger,
    bodyLimit: deps.bodyLimitBytes ?? 1048576,
    // A client request within the limit reaches the origin with the inspection PoP's headers added; a client that
    // stalls its body is timed out by the PoP it sent to, so the origin waits longer than the PoPs do.
    ...serverOptions('ORIGIN', (deps.headerLimitBytes ?? DEFAULT_MAX_HEADER_SIZE) + FORWARDING_HEADER_ALLOWANCE, undefined, 2 * REQUEST_TIMEOUT_MS)
  })
  // Request bodies are drained, not parsed: an origin here only measures and echoes.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', function drain (_req, payload, done) {
    let bytes = 0
    payload.on('data', (c: Buffer) => { bytes += c.length })
    payload.on('end', () => done(null, bytes))
    payload.on('error', (err) => done(err))
  })

  const inspectionHeader = deps.inspectionHeader?.toLowerCase()

  async function answerAsOrigin (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const started = performance.now()
    // With jitter, the service time drawn here is reported, so that the ingress settles the request against it.
    const jitterMs = await deps.delay.tracked(async (record) => {
      await deps.delay.wait(deps.delay.scaledMs(deps.serviceTimeMs))
      return record.jitterMs
    })
    const seenFrom = String(request.headers[SEEN_FROM_HEADER] ?? 'unknown')
    const inspected = inspectionHeader ? request.headers[inspectionHeader] ?? null : null
    const echo = {
      host: deps.host,
      seenFrom,
      method: request.method,
      path: request.url,
      inspected,
      // A method fastify does not route by name (PROPFIND...) comes without its body parsed: drained here.
      requestBytes: typeof request.body === 'number' ? request.body : await drain(request.raw),
      padding: ''
    }
    let text = JSON.stringify(echo)
    const missing = deps.responseBytes - Buffer.byteLength(text)
    if (missing > 0) {
      echo.padding = '.'.repeat(missing)
      text = JSON.stringify(echo)
    }
    if (jitterMs !== 0) reply.header(ORIGIN_JITTER_HEADER, jitterMs.toFixed(3))
    return reply
      .header('x-sim-origin-seen-from', seenFrom)
      .header(ORIGIN_SERVICE_HEADER, (performance.now() - started).toFixed(3))
      .type('application/json; charset=utf-8')
      .send(text)
  }
  app.all('/*', answerAsOrigin)
  installErrorHandling(app, 'ORIGIN', answerAsOrigin)
  return app
}

/** Reads a request body to its end, counting its bytes. */
async function drain (raw: AsyncIterable<Buffer>): Promise<number> {
  let bytes = 0
  for await (const chunk of raw) bytes += chunk.length
  return bytes
}
