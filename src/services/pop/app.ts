// A PoP service: one data centre as a Fastify instance (never listening here; the runtime listens). One catch-all
// route: a request signed by another PoP is relayed traffic to inspect; anything else is a client request and this
// PoP is its ingress.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { FWD, FWD_HEADER } from '../../net/signing.ts'
import { FORWARDING_HEADER_ALLOWANCE, answerContinue, installErrorHandling, sameLogger, serverOptions } from '../http-errors.ts'
import { REMOTE_SIGN_PATH, remoteSignRoute } from '../keys/remote-sign.ts'
import type { PopDeps } from './deps.ts'
import { createIngress, type Handoff } from './ingress.ts'
import { createInspector } from './inspect.ts'
import { createRelayed } from './relayed.ts'
import { tlsHandoffOf } from './tls-terminate.ts'

export interface PopHandlers {
  /** Client traffic with this PoP as ingress; the anycast edge calls it in-process. */
  handleClient (request: FastifyRequest, reply: FastifyReply, handoff?: Handoff): Promise<FastifyReply>
  handleRelayed (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply>
}

export function createPopHandlers (deps: PopDeps): PopHandlers {
  const inspect = createInspector(deps)
  return { handleClient: createIngress(deps, inspect), handleRelayed: createRelayed(deps, inspect) }
}

/**
 * Body parsing is removed: every content type is handed through as the raw stream, so an ingress can relay bytes it
 * never reads and an inspection PoP can stream them to the origin (no buffering, no size-dependent memory).
 */
export function passThroughBodies (app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', function passThrough (_request, _payload, done) { done(null) })
}

/**
 * Options shared by the data-path apps: no per-request logging or pino child, the shared error answers, and the
 * parser's header limit (`maxHeaderSize`, which names `headerLimitBytes` in its 431s).
 */
export function dataPathLoggerOptions (headerLimitBytes: number, label: string, keepAliveTimeoutMs: number, maxHeaderSize = headerLimitBytes) {
  return {
    // Fastify's own per-request lines would log the URL; the ingress logs its own, URL-free line instead.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: sameLogger,
    ...serverOptions(label, maxHeaderSize, headerLimitBytes),
    keepAliveTimeout: keepAliveTimeoutMs
  }
}

/** Requests on a TLS connection terminated here carry the TLS edge's hand-off (client, ingress, server name). */
function clientHandoff (socket: object): Handoff | undefined {
  const tls = tlsHandoffOf(socket)
  return tls === undefined ? undefined : { client: tls.client, tls }
}

export function buildApp (deps: PopDeps & { readonly handlers?: PopHandlers }): FastifyInstance {
  const handlers = deps.handlers ?? createPopHandlers(deps)
  const app = Fastify({
    loggerInstance: deps.logger.child({ service: 'pop' }) as FastifyBaseLogger,
    // Relays from other PoPs carry the signed forwarding header on top of the client's headers.
    ...dataPathLoggerOptions(deps.limits.headerLimitBytes, deps.pop.id, deps.limits.keepAliveTimeoutMs, deps.limits.headerLimitBytes + FORWARDING_HEADER_ALLOWANCE)
  })
  answerContinue(app, deps.pop.id, deps.limits.bodyLimitBytes)
  passThroughBodies(app)
  // Geo Key Manager: other PoPs ask this one to sign when it is inside a customer's key policy (signed calls only).
  const signForPop = deps.tls === undefined ? undefined : remoteSignRoute(deps.pop.id, deps.tls.locality, deps.signer)
  // Calls from other PoPs are told apart by their signed headers, not by their path alone, so that no path of a
  // customer's is taken from it: a relay carries the forwarding header; a signing call the signed body headers on
  // the internal path. Neither arrives on a client's TLS connection: there, such a header is a client's, refused as such.
  function popEntry (request: FastifyRequest, reply: FastifyReply) {
    const handoff = clientHandoff(request.raw.socket)
    if (handoff === undefined) {
      if (request.headers[FWD_HEADER] !== undefined) return handlers.handleRelayed(request, reply)
      if (signForPop !== undefined && request.headers[FWD.sig] !== undefined && request.method === 'POST' && request.raw.url === REMOTE_SIGN_PATH) return signForPop(request, reply)
    }
    return handlers.handleClient(request, reply, handoff)
  }
  installErrorHandling(app, deps.pop.id, popEntry)
  app.all('/*', popEntry)
  // The bare root is not matched by '/*' in find-my-way.
  app.all('/', popEntry)
  return app
}
