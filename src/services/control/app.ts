// The control plane (default port 8081): topology and customers, what-if plans, PoP down/up, the data-flow ledger
// (JSON and a live event stream), Prometheus metrics and the teaching page. Built here, listened to by the runtime.
import secureJson from 'secure-json-parse'
import Fastify, { LogController } from 'fastify'
import type { FastifyBaseLogger, FastifyInstance, FastifySchema } from 'fastify'
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js'
import { Type } from '@sinclair/typebox'
import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { SimError } from '../../core/errors.ts'
import { normaliseHost, plan } from '../../core/planner.ts'
import { parseClientLocation } from '../../core/client.ts'
import { largeCities, nameOf } from '../../core/places.ts'
import type { IpLocator, PlanRequest } from '../../core/types.ts'
import { LATE_FRACTION, LATE_MIN_MS } from '../../core/latency.ts'
import type { RequestRecord } from '../records.ts'
import type { SimRuntime } from './runtime.ts'
import { installErrorHandling, serverOptions } from '../http-errors.ts'
import { keyAuditRoutes } from '../keys/audit-routes.ts'
import { createLedgerStore, type LedgerEntry } from './ledger-store.ts'
import { createControlMetrics } from './metrics.ts'
import { loadBasemap } from './basemap.ts'
import { registerPage } from './page.ts'
import { SendBody, sendThroughEdge, type SendRequest } from './send.ts'
import { createSseHub } from './sse.ts'
import { customersView, popView, topologyView } from './views.ts'

export interface ControlDeps {
  /** Locates `client=` IP addresses (geoip-lite in the runtime, a table in tests). */
  readonly ipLocator: IpLocator
  /** Recent requests kept for `GET /api/ledger` (configuration `server.ledgerSize`). Default 1000. */
  readonly ledgerSize?: number
  /** Period of the comment lines that keep idle event streams open. Default 15 s. */
  readonly heartbeatMs?: number
  /** Requests POST /api/requests sends through the edge at once, at most (more get 429). Default MAX_SENDS. */
  readonly maxSends?: number
}

/** Requests sent through the edge at once by POST /api/requests, at most: a class's worth of clicks. */
export const MAX_SENDS = 32

const PopParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 16, description: 'PoP id (IATA code, any case).' })
}, { additionalProperties: false })

const PlanQuery = Type.Object({
  client: Type.String({ minLength: 1, maxLength: 256, description: 'Client: IP address, PoP IATA code, city or "lat,lon".' }),
  host: Type.String({ minLength: 1, maxLength: 253, description: 'Customer host name.' }),
  down: Type.Optional(Type.String({ maxLength: 4096, description: 'Comma-separated PoP ids to treat as down for this plan only.' })),
  ingress: Type.Optional(Type.String({ minLength: 1, maxLength: 16, description: 'Forces the ingress PoP (a request sent straight to a PoP).' })),
  newConnection: Type.Optional(Type.Boolean({ default: true, description: 'false: a resumed TLS session, no key operation.' }))
}, { additionalProperties: false })

const LedgerQuery = Type.Object({
  host: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'Only requests for this host.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, description: 'At most this many records, the most recent.' }))
}, { additionalProperties: false })

const RayParams = Type.Object({
  ray: Type.String({ minLength: 1, maxLength: 64, description: 'A request\'s ray, as in its x-sim-ray header: <16 hex>-<INGRESS>.' })
}, { additionalProperties: false })

const PlacesQuery = Type.Object({
  minPopulation: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000, default: 1_000_000, description: 'Only cities of at least this many people (default 1,000,000; 0 lists all 7,329).' }))
}, { additionalProperties: false })

const StreamQuery = Type.Object({
  host: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'Only requests for this host.' }))
}, { additionalProperties: false })

/** Most records resent to a reconnecting stream client: enough for a brief outage, not a flood. */
const MAX_REPLAY = 100

/** Planner refusals that mean the question itself was wrong, answered as 400 errors rather than as a plan. */
const BAD_QUESTION = new Set(['SIM_ERR_HOST_UNKNOWN', 'SIM_ERR_POP_UNKNOWN'])

/**
 * A request part checked as it was sent (TypeBox): fastify's Ajv coerces types and drops unknown fields by default, so
 * that a body of {"load":null} read as load 0 and {"load":"0.5","x":1} as {"load":0.5}. For routes whose body is JSON.
 */
function asSent ({ schema, httpPart }: FastifyRouteSchemaDef<FastifySchema>) {
  const check = TypeCompiler.Compile(schema as TSchema)
  return function validate (data: unknown) {
    if (check.Check(data)) return { value: data }
    const first = check.Errors(data).First()
    const message = first === undefined ? 'is invalid' : first.message.charAt(0).toLowerCase() + first.message.slice(1)
    return { error: new Error(`${httpPart ?? 'request'}${first?.path ?? ''} ${message}`) }
  }
}

export function buildControlApp (runtime: SimRuntime, deps: ControlDeps): FastifyInstance {
  const logger: FastifyBaseLogger = runtime.logger.child({ service: 'control' })
  // Scrapes and page polls would drown the log; state changes are logged by their handlers.
  const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }), ...serverOptions('CONTROL') })
  installErrorHandling(app, 'CONTROL')
  // JSON bodies parsed as fastify's own parser does (secure-json-parse: a __proto__ or constructor.prototype key is
  // refused), with the parser's reason in the 400 instead of fastify's one sentence for every fault.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, function parseJson (_request, body, done) {
    try {
      done(null, secureJson.parse(body as string))
    } catch (err) {
      done(new SimError('SIM_ERR_BAD_REQUEST', [`the body is not valid JSON: ${(err as Error).message}`]), undefined)
    }
  })
  const ledger = createLedgerStore(deps.ledgerSize ?? 1000)
  const maxSends = deps.maxSends ?? MAX_SENDS
  const metrics = createControlMetrics(() => runtime.world)
  const stream = createSseHub({ heartbeatMs: deps.heartbeatMs ?? 15_000 })
  // One state change at a time per PoP, so concurrent down/up calls cannot interleave a listener stop and restart.
  const popLocks = new Map<string, Promise<unknown>>()

  function onRequest (record: RequestRecord): void {
    // Runs inside the PoP's emit(): a fault here must never fail the request it describes.
    try {
      ledger.add(record)
      metrics.observe(record)
      stream.broadcast({ event: 'request', id: record.ray, data: record, topic: record.plan.host })
    } catch (err) {
      app.log.error({ err, ray: record.ray }, 'ledger record not recorded')
    }
  }
  function onPopDown (id: string): void { stream.broadcast({ event: 'health', data: { pop: id, down: true } }) }
  function onPopUp (id: string): void { stream.broadcast({ event: 'health', data: { pop: id, down: false } }) }
  runtime.events.on('request', onRequest)
  runtime.events.on('pop-down', onPopDown)
  runtime.events.on('pop-up', onPopUp)

  // Open event streams would otherwise keep server.close() waiting forever.
  app.addHook('preClose', async function endStreams () { stream.close() })
  app.addHook('onClose', async function unsubscribe () {
    runtime.events.off('request', onRequest)
    runtime.events.off('pop-down', onPopDown)
    runtime.events.off('pop-up', onPopUp)
  })

  function popOrThrow (input: string) {
    const pop = runtime.world.topology.byId.get(input.toUpperCase())
    if (!pop) throw new SimError('SIM_ERR_POP_UNKNOWN', [input])
    return pop
  }

  app.get('/healthz', async function healthz () {
    return { status: 'ok', sseClients: stream.size, ledger: { size: ledger.size, capacity: ledger.capacity } }
  })

  app.get('/api/topology', async function getTopology () {
    const view = topologyView(runtime.world)
    // Each PoP's own address: a client may send its request straight there, making that PoP its ingress.
    const pops = view.pops.map((p) => ({ ...p, url: runtime.popUrl(p.id) ?? null }))
    return { ...view, pops, ...(runtime.latency === undefined ? {} : { latency: runtime.latency }) }
  })

  // The page's land and borders: the same for every run, so browsers may keep it for a day.
  let basemapJson: string | undefined
  app.get('/api/basemap', async function getBasemap (_request, reply) {
    basemapJson ??= JSON.stringify(loadBasemap())
    return reply.type('application/json; charset=utf-8').header('cache-control', 'public, max-age=86400').send(basemapJson)
  })

  // The world's cities a client may be placed in by name (regions/cities.json), largest first, each with the label
  // that names it alone ("New York, US", "Suzhou, Jiangsu"): the page suggests them.
  app.get<{ Querystring: Static<typeof PlacesQuery> }>('/api/places', {
    schema: { querystring: PlacesQuery }
  }, async function getPlaces (request) {
    const places = [...largeCities(request.query.minPopulation ?? 1_000_000)].sort((a, b) => b.population - a.population)
    return { places: places.map((p) => ({ name: p.name, label: nameOf(p), country: p.country, province: p.province, lat: p.lat, lon: p.lon, population: p.population })) }
  })

  app.get('/api/customers', async function getCustomers () {
    return customersView(runtime.world)
  })

  app.get<{ Params: Static<typeof PopParams> }>('/api/pops/:id', {
    schema: { params: PopParams }
  }, async function getPop (request) {
    return popView(runtime.world, popOrThrow(request.params.id))
  })

  for (const state of ['down', 'up'] as const) {
    app.post<{ Params: Static<typeof PopParams> }>(`/api/pops/:id/${state}`, {
      schema: { params: PopParams }
    }, async function setPopState (request) {
      const pop = popOrThrow(request.params.id)
      const down = state === 'down'
      const previous = popLocks.get(pop.id) ?? Promise.resolve()
      let changed = false
      const next = previous.catch(() => {}).then(async function apply () {
        // Idempotent: asking for the state a PoP is already in changes nothing and does not touch its listener.
        if ((runtime.world.health.down[pop.index] === 1) === down) return
        await runtime.setPopDown(pop.id, down)
        changed = true
      })
      popLocks.set(pop.id, next)
      try {
        await next
      } finally {
        if (popLocks.get(pop.id) === next) popLocks.delete(pop.id)
      }
      request.log.info({ pop: pop.id, down, changed }, 'pop state set')
      return { pop: popView(runtime.world, pop), changed }
    })
  }

  // PUT /api/pops/:id/load {"load": 0..1}: sets a PoP's utilisation, which the load-aware strategy scores
  // (a queueing penalty that grows as load / (1 - load)), so an architect can see inspection move off a busy PoP.
  app.put<{ Params: Static<typeof PopParams>, Body: { load: number } }>('/api/pops/:id/load', {
    validatorCompiler: asSent,
    schema: {
      params: PopParams,
      body: Type.Object({ load: Type.Number({ minimum: 0, maximum: 1, description: 'Utilisation, 0 (idle) to 1 (saturated).' }) }, { additionalProperties: false })
    }
  }, async function setPopLoad (request) {
    const pop = popOrThrow(request.params.id)
    runtime.world.health.load[pop.index] = request.body.load
    request.log.info({ pop: pop.id, load: request.body.load }, 'pop load set')
    return { pop: popView(runtime.world, pop) }
  })

  // Each send opens a connection of its own to the edge: at most MAX_SENDS at once, so that a script calling in a loop
  // without waiting cannot hold an unbounded number of sockets (429 with Retry-After, as for any rate limit).
  let sending = 0
  app.post<{ Body: SendRequest }>('/api/requests', {
    validatorCompiler: asSent,
    schema: { body: SendBody }
  }, async function sendRequest (request, reply) {
    if (sending >= maxSends) {
      reply.header('retry-after', '1')
      throw new SimError('SIM_ERR_TOO_MANY_SENDS', [maxSends])
    }
    sending++
    try {
      return await sendThroughEdge(runtime.edgeUrl, request.body)
    } finally {
      sending--
    }
  })

  const keys = runtime.keys
  if (keys !== undefined) {
    // GET /api/keys/audit: every key fetch and signature, allowed or refused.
    void app.register(keyAuditRoutes, { audit: keys.audit })

    const keyServerOf = (input: string): string => {
      const id = keys.keyServerIds.find((k) => k === input || k === input.toUpperCase())
      if (id === undefined) throw new SimError('SIM_ERR_KEY_SERVER_UNKNOWN', [input, keys.keyServerIds.join(', ') || 'none'])
      return id
    }
    app.get('/api/keyservers', async function listKeyServers () {
      return { keyServers: keys.keyServerIds.map((id) => ({ id, up: keys.isKeyServerUp(id) })) }
    })
    for (const state of ['down', 'up'] as const) {
      app.post<{ Params: { id: string } }>(`/api/keyservers/:id/${state}`, {
        schema: { params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'Key server id: a PoP IATA code or "lat,lon".' }) }, { additionalProperties: false }) }
      }, async function setKeyServerState (request) {
        const id = keyServerOf(request.params.id)
        const down = state === 'down'
        const changed = keys.isKeyServerUp(id) === down
        await keys.setKeyServerDown(id, down)
        request.log.info({ keyServer: id, down, changed }, 'key server state set')
        return { keyServer: { id, up: keys.isKeyServerUp(id) }, changed }
      })
    }
  }

  app.get<{ Querystring: Static<typeof PlanQuery> }>('/api/plan', {
    schema: { querystring: PlanQuery }
  }, async function whatIf (request) {
    const q = request.query
    const world = runtime.world
    const client = parseClientLocation(q.client, world.topology, deps.ipLocator)
    if ('error' in client) throw new SimError(client.error, client.args)
    const down = q.down === undefined ? [] : q.down.split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== '')
    const req: PlanRequest = {
      client,
      host: q.host,
      down,
      ...(q.newConnection !== undefined ? { newConnection: q.newConnection } : {}),
      ...(q.ingress !== undefined ? { ingress: q.ingress.toUpperCase() } : {})
    }
    const result = plan(req, world)
    // An unknown host or PoP is a wrong query parameter (400), not a misdirected request (421) or a missing resource
    // (404): it names the parameter, with the planner's reason, which has the offending value.
    if (result.outcome === 'refused' && BAD_QUESTION.has(result.code)) {
      // In the planner's order: the host, then the down list, then the ingress.
      const param = result.code === 'SIM_ERR_HOST_UNKNOWN' ? 'host' : down.some((id) => !world.topology.byId.has(id)) ? 'down' : 'ingress'
      throw new SimError('SIM_ERR_INPUT_INVALID', [`querystring/${param}`, result.reason])
    }
    // A refusal by policy (fail closed, no signer) is a valid answer to "what would happen": 200 with the plan.
    return result
  })

  app.get<{ Querystring: Static<typeof LedgerQuery> }>('/api/ledger', {
    schema: { querystring: LedgerQuery }
  }, async function getLedger (request, reply) {
    const { host, limit } = request.query
    const held = ledger.list({ ...(host !== undefined ? { host: normaliseHost(host) } : {}), ...(limit !== undefined ? { limit } : {}) })
    // The records are held as JSON text already.
    const body = `{"capacity":${ledger.capacity},"total":${ledger.total},"records":[${held.map((e) => e.json).join(',')}]}`
    return reply.type('application/json; charset=utf-8').send(body)
  })

  app.get<{ Params: Static<typeof RayParams> }>('/api/ledger/:ray', {
    schema: { params: RayParams }
  }, async function getLedgerRecord (request, reply) {
    const held = ledger.find(request.params.ray)
    if (held === undefined) {
      const why = `it keeps the latest ${ledger.capacity} of the ${ledger.total} requests of this run; a ray from another run or a request still in flight is not there`
      throw new SimError('SIM_ERR_RAY_UNKNOWN', [request.params.ray, why])
    }
    return reply.type('application/json; charset=utf-8').send(held.json)
  })

  app.get<{ Querystring: Static<typeof StreamQuery> }>('/api/ledger/stream', {
    schema: { querystring: StreamQuery }
  }, async function ledgerStream (request, reply) {
    const host = request.query.host === undefined ? undefined : normaliseHost(request.query.host)
    // A reconnecting EventSource sends the last id it saw: resend what came after it, or everything held when that
    // id is gone (overwritten, or from a previous run). https://html.spec.whatwg.org/multipage/server-sent-events.html#the-last-event-id-header
    const last = request.headers['last-event-id']
    let replay: LedgerEntry[] = []
    if (typeof last === 'string' && last !== '') {
      const held = ledger.list(host !== undefined ? { host } : {})
      const i = held.findIndex((r) => r.ray === last)
      replay = (i === -1 ? held : held.slice(i + 1)).slice(-MAX_REPLAY)
    }
    stream.attach(request, reply, {
      ...(host !== undefined ? { topic: host } : {}),
      replay: replay.map((e) => ({ event: 'request', id: e.ray, json: e.json }))
    })
  })

  app.get('/api/fidelity', async function getFidelity () {
    const latency = runtime.latency ?? { enabled: false, timeScale: 1 }
    const f = runtime.fidelity?.snapshot()
    if (f === undefined) return { latency, monitored: false, note: 'latency off: responses are not held to a modelled time' }
    return {
      latency,
      monitored: true,
      tolerance: { minMs: LATE_MIN_MS, fraction: LATE_FRACTION },
      settled: f.settled,
      late: f.late,
      lateShare: f.settled === 0 ? 0 : Math.round(f.late / f.settled * 10000) / 10000,
      maxLateMs: Math.round(f.maxLateMs * 100) / 100,
      warnings: f.warnings,
      recent: { ...f.recent, lateShare: f.recent.responses === 0 ? 0 : Math.round(f.recent.late / f.recent.responses * 10000) / 10000 }
    }
  })

  app.get('/metrics', async function getMetrics (_request, reply) {
    const text = await metrics.render()
    return reply.type(metrics.contentType).send(text)
  })

  registerPage(app)
  return app
}
