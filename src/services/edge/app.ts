// The anycast edge: the single address clients send to. Like BGP anycast, it costs no hop: it locates the client,
// picks the ingress PoP the way the planner does (nearest healthy PoP) and hands the request over in-process to that
// PoP's handler, which then runs the request exactly as if it had arrived on the PoP's own port.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { Logger } from 'pino'
import { SimError, isSimError } from '../../core/errors.ts'
import type { ClientLocation, Plan, PlanRequest, World } from '../../core/types.ts'
import { hasForwardHeaders } from '../../net/signing.ts'
import { installErrorHandling, planRefusal, sendError } from '../http-errors.ts'
import { dataPathLoggerOptions, passThroughBodies, type PopHandlers } from '../pop/app.ts'

export interface EdgeDeps {
  readonly world: World
  readonly plan: (req: PlanRequest, world: World) => Plan
  readonly locateClient: (headers: IncomingHttpHeaders) => ClientLocation
  /** The handlers of the PoPs in this process that are up. */
  readonly pops: (id: string) => PopHandlers | undefined
  readonly logger: Logger
  readonly headerLimitBytes: number
  readonly keepAliveTimeoutMs: number
}

const LABEL = 'EDGE'

export function buildApp (deps: EdgeDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger.child({ service: 'edge' }) as FastifyBaseLogger,
    ...dataPathLoggerOptions(deps.headerLimitBytes, LABEL, deps.keepAliveTimeoutMs)
  })
  installErrorHandling(app, LABEL)
  passThroughBodies(app)

  const route = async function anycastToIngress (request: FastifyRequest, reply: FastifyReply) {
    const headers = request.raw.headers
    // Spoofed forwarding headers are refused by the ingress with its own ray; nothing to decide here.
    let client: ClientLocation | undefined
    let ingress: string | undefined
    if (!hasForwardHeaders(headers) && headers.host !== undefined) {
      try {
        client = deps.locateClient(headers)
      } catch (err) {
        if (!isSimError(err)) throw err
        return sendError(reply, err, LABEL)
      }
      // Only the ingress of the plan is used: the chosen PoP plans again with its own view (as a real PoP would).
      const p = deps.plan({ client, host: headers.host }, deps.world)
      if (p.ingress === undefined) return sendError(reply, p.outcome === 'refused' ? planRefusal(p.code, p.reason) : new SimError('SIM_ERR_INTERNAL', ['plan without ingress']), LABEL)
      ingress = p.ingress
    } else {
      ingress = deps.world.anycast.nearest(client ?? { lat: 0, lon: 0 }, deps.world.health.down, false)?.id
    }
    const handlers = ingress === undefined ? undefined : deps.pops(ingress)
    if (!handlers) return sendError(reply, new SimError('SIM_ERR_NO_HEALTHY_POP'), LABEL)
    return handlers.handleClient(request, reply, client ? { client } : {})
  }
  app.all('/', route)
  app.all('/*', route)
  return app
}
