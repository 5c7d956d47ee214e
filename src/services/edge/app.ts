// The anycast edge: the single address clients send to. Like BGP anycast, it costs no hop: it locates the client,
// picks the ingress PoP the way the planner does (nearest healthy PoP) and hands the request over in-process to that
// PoP's handler, which then runs the request exactly as if it had arrived on the PoP's own port.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { Logger } from 'pino'
import { SimError, isSimError } from '../../core/errors.ts'
import type { ClientLocation, Plan, PlanRequest, World } from '../../core/types.ts'
import { answerContinue, hostFieldError, installErrorHandling, planRefusal, requestLineError, sendError } from '../http-errors.ts'
import { dataPathLoggerOptions, passThroughBodies, type PopHandlers } from '../pop/app.ts'

export interface EdgeDeps {
  readonly world: World
  readonly plan: (req: PlanRequest, world: World) => Plan
  readonly locateClient: (headers: IncomingHttpHeaders, rawHeaders?: readonly string[]) => ClientLocation
  /** The handlers of the PoPs in this process that are up. */
  readonly pops: (id: string) => PopHandlers | undefined
  readonly logger: Logger
  readonly headerLimitBytes: number
  readonly bodyLimitBytes: number
  readonly keepAliveTimeoutMs: number
}

const LABEL = 'EDGE'

export function buildApp (deps: EdgeDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger.child({ service: 'edge' }) as FastifyBaseLogger,
    ...dataPathLoggerOptions(deps.headerLimitBytes, LABEL, deps.keepAliveTimeoutMs)
  })
  answerContinue(app, LABEL, deps.bodyLimitBytes)
  passThroughBodies(app)

  const route = async function anycastToIngress (request: FastifyRequest, reply: FastifyReply) {
    const headers = request.raw.headers
    const host = headers.host
    const hostError = hostFieldError(host)
    if (host === undefined || hostError !== undefined) return sendError(reply, hostError ?? new SimError('SIM_ERR_HOST_MISSING'), LABEL)
    // The request line before the Host's customer: HTTP/2.0 in text, an absolute URL or `*` is the wrong request
    // whatever it names.
    const target = requestLineError(request.raw)
    if (target !== undefined) return sendError(reply, target, LABEL)
    let client: ClientLocation
    try {
      client = deps.locateClient(headers, request.raw.rawHeaders)
    } catch (err) {
      if (!isSimError(err)) throw err
      return sendError(reply, err, LABEL)
    }
    // Only the ingress of the plan is used: the chosen PoP plans again with its own view (as a real PoP would), and
    // refuses spoofed forwarding headers itself, with its own ray.
    const p = deps.plan({ client, host }, deps.world)
    if (p.ingress === undefined) return sendError(reply, p.outcome === 'refused' ? planRefusal(p.code, p.reason) : new SimError('SIM_ERR_INTERNAL', ['plan without ingress']), LABEL)
    const ingress = p.ingress
    const handlers = deps.pops(ingress)
    if (!handlers) return sendError(reply, new SimError('SIM_ERR_NO_HEALTHY_POP'), LABEL)
    return handlers.handleClient(request, reply, { client })
  }
  installErrorHandling(app, LABEL, route)
  app.all('/', route)
  app.all('/*', route)
  return app
}
