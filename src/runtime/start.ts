// Starts a whole simulated network in one process: every PoP of the scenario as its own Fastify service on its own
// 127.0.0.1 port, the anycast edge, one origin per customer, the log sinks of the log cores and the control plane.
// A directory maps PoP ids to base URLs; the services themselves never listen (docs/design.md, Processes and services).
import { EventEmitter } from 'node:events'
import type { AddressInfo, Server as NetServer, Socket } from 'node:net'
import { SimError, isSimError } from '../core/errors.ts'
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import type { Scenario } from '../config/schema.ts'
import { memoisePlanner } from '../core/plan-memo.ts'
import { plan as planAfresh } from '../core/planner.ts'
import type { IpLocator, Pop } from '../core/types.ts'
import { buildWorld } from '../core/world.ts'
import { createDelay } from '../net/delay.ts'
import { createGeoIpLocator } from '../net/geoip-locator.ts'
import { createForwardSigner } from '../net/signing.ts'
import { createUpstreams } from '../net/upstream.ts'
import { createClientLocator } from '../services/client-location.ts'
import { buildControlApp, type ControlDeps } from '../services/control/app.ts'
import type { SimRuntime } from '../services/control/runtime.ts'
import { buildApp as buildEdgeApp } from '../services/edge/app.ts'
import { buildApp as buildLogSinkApp } from '../services/logs/app.ts'
import { buildApp as buildOriginApp } from '../services/origin/app.ts'
import { buildApp as buildPopApp, createPopHandlers, type PopHandlers } from '../services/pop/app.ts'
import type { PopDeps } from '../services/pop/deps.ts'
import { createLogShipper } from '../services/pop/log-shipper.ts'
import { createTlsEdge } from '../services/edge/tls-edge.ts'
import { createTlsTerminator, type TlsTerminator } from '../services/pop/tls-terminate.ts'
import type { RuntimeEvents } from '../services/records.ts'
import { createFidelityMonitor, type FidelityMonitor } from './fidelity.ts'
import { startKeys, type RuntimeKeys } from './keys.ts'
import { warmUp, type WarmUpReport } from './warm-up.ts'

export type ControlAppFactory = (runtime: SimRuntime, deps: ControlDeps) => FastifyInstance

export interface StartOptions {
  /** Overrides `latency.enabled`. */
  readonly latency?: boolean
  /** Overrides `latency.timeScale`. */
  readonly timeScale?: number
  readonly edgePort?: number
  readonly controlPort?: number
  readonly host?: string
  readonly logger?: Logger
  readonly ipLocator?: IpLocator
  /** Origins that run elsewhere, by customer host (base URL); no simulated origin is started for them. */
  readonly externalOrigins?: ReadonlyMap<string, string>
  /** The control plane; `false` runs without one (tests of the data path). Default: services/control. */
  readonly controlApp?: ControlAppFactory | false
  /** Writes the run's CA certificate there (`curl --cacert`); `rsim start` uses `.rsim/ca.pem`. Not written without. */
  readonly caPath?: string
  /** Port of the real TLS edge (0: ephemeral); no TLS edge without. `rsim start` uses server.tlsPort (8443). */
  readonly tlsPort?: number
  /**
   * Warms the data path up in a small throwaway copy of the scenario (runtime/warm-up.ts) once the listeners are up
   * and before returning, so that the first requests run on compiled code. `rsim start` does; tests and benchmarks
   * (which warm up themselves) do not.
   */
  readonly warmUp?: boolean
  /** Window of the fidelity monitor's warnings, ms (default 10 s); tests shorten it. */
  readonly fidelityWindowMs?: number
}

/** The runtime as started: the SimRuntime interface plus what the banner reports. */
export interface StartedSimulation extends SimRuntime {
  readonly popCount: number
  /** Wall-clock ms from the call to every listener answering. */
  readonly startupMs: number
  /** The key services: material (the CA), audit log, key-locality module, handshaker (each PoP's TLS state). */
  readonly keys: RuntimeKeys
  /** What the warm-up did, when there was one. */
  readonly warmUp?: WarmUpReport
}

interface PopEntry {
  readonly pop: Pop
  readonly app: FastifyInstance
  readonly handlers: PopHandlers
  port: number
  up: boolean
}

/**
 * The edge, the control plane and the TLS edge need a port each (0, ephemeral, may repeat). The configuration is
 * checked for this when it loads; here the ports the command line set over it are too, before anything listens, so
 * that a clash says so rather than that a port is in use.
 */
function checkDistinctPorts (options: StartOptions, server: Scenario['server']): void {
  const listeners: [string, number | undefined][] = [
    ['the anycast edge (--port)', options.edgePort ?? server.edgePort],
    ['the control plane (--control-port)', options.controlApp === false ? undefined : options.controlPort ?? server.controlPort],
    ['the TLS edge (--tls-port)', options.tlsPort]
  ]
  const seen = new Map<number, string>()
  for (const [name, port] of listeners) {
    if (port === undefined || port === 0) continue
    const other = seen.get(port)
    if (other !== undefined) throw new SimError('SIM_ERR_LISTEN_FAILED', [options.host ?? server.host, port, `${other} and ${name} are both given this port; each needs its own`])
    seen.set(port, name)
  }
}

/** Listens on host:port; a port in use, forbidden or out of range is a coded error naming the address, not a crash. */
export async function listenOn (srv: NetServer, host: string, port: number): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject)
      srv.listen({ host, port }, () => { srv.off('error', reject); resolve() })
    })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'EADDRINUSE'
      ? 'the port is in use (another rsim start? choose others with --port, --control-port, --tls-port)'
      : e.code === 'EACCES' ? 'permission denied' : `${e.code ?? 'error'}: ${e.message}`
    throw new SimError('SIM_ERR_LISTEN_FAILED', [host, port, why])
  }
}

/**
 * The connections each server has taken and not yet closed. A pooled connection that never sent a byte looks like
 * one whose request is on its way, so node's closeIdleConnections() leaves it, and a server waits for it until the
 * pool that opened it closes: after a relay failed mid-body, undici opens a fresh connection, and a PoP's close would
 * wait on another PoP's pool, which closes only after every PoP has. Closing ends such connections itself.
 */
const accepted = new WeakMap<NetServer, Set<Socket>>()

function trackConnections (server: NetServer): void {
  const open = new Set<Socket>()
  accepted.set(server, open)
  server.on('connection', (socket: Socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  })
}

/**
 * Listens on the app's own node server rather than through `app.listen`, which logs a line per listener (340 of them
 * at start-up); the banner and one summary line say where things are. `app.close()` still closes the server.
 */
async function listen (app: FastifyInstance, host: string, port: number, started?: FastifyInstance[]): Promise<number> {
  started?.push(app)
  await app.ready()
  trackConnections(app.server)
  await listenOn(app.server, host, port)
  return (app.server.address() as AddressInfo).port
}

/**
 * Closes an app gracefully: no new connections, requests in flight finish. Node closes the connections that are
 * idle when `server.close()` is called, but a kept-alive connection whose request finishes afterwards would wait out
 * its keep-alive timeout; closing idle connections as they appear ends the wait as soon as the last response is sent.
 */
async function closeGracefully (app: FastifyInstance): Promise<void> {
  // A connection silent over two sweeps (40 ms) never carried a request: a relay writes its head as it connects.
  const silent = new Set<Socket>()
  const sweep = setInterval(() => {
    app.server.closeIdleConnections()
    for (const socket of accepted.get(app.server) ?? []) {
      if (socket.bytesRead > 0) continue
      if (silent.has(socket)) socket.destroy()
      else silent.add(socket)
    }
  }, 20)
  try {
    await app.close()
  } finally {
    clearInterval(sweep)
  }
}

/** What has been started so far, so that a failed start can close it again. */
interface Started {
  readonly apps: FastifyInstance[]
  /** Listeners that are not Fastify apps (the TLS edge). */
  readonly servers: NetServer[]
}

function closeServer (srv: NetServer): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!srv.listening) { resolve(); return }
    srv.close(() => resolve())
  })
}

export async function startSimulation (scenario: Scenario, options: StartOptions = {}): Promise<StartedSimulation> {
  const started: Started = { apps: [], servers: [] }
  let sim: StartedSimulation
  try {
    sim = await startAll(scenario, options, started)
  } catch (err) {
    // A listener that failed (port in use) must not leave the others running, or the process never exits.
    await Promise.allSettled([...started.apps.map((a) => a.close()), ...started.servers.map(closeServer)])
    throw err
  }
  if (options.warmUp !== true) return sim
  // After the listeners, so that a start that cannot listen fails at once rather than after the warm-up; before this
  // returns, so that the caller (the banner of `rsim start`) announces a warmed simulation. The warm-up only saves the
  // first requests some time: if it fails, the simulation runs all the same, and says so.
  try {
    const warm = await warmUp(scenario, startSimulation, options.host)
    sim.logger.info({ requests: warm.requests, pops: warm.pops, ms: Math.round(warm.ms) }, 'data path warmed up')
    return Object.assign(sim, { warmUp: warm })
  } catch (err) {
    sim.logger.warn({ err }, 'warm-up failed: the first requests will run over their model')
    return sim
  }
}

async function startAll (scenario: Scenario, options: StartOptions, { apps, servers }: Started): Promise<StartedSimulation> {
  const started = performance.now()
  const logger = options.logger ?? pino({ level: scenario.logging.level })
  const host = options.host ?? scenario.server.host
  const server = scenario.server
  checkDistinctPorts(options, server)
  const { world, notes } = buildWorld(scenario)
  for (const note of notes) logger.info({ note }, 'scenario note')
  // One memo for the whole data path (edge, TLS edge, every PoP): a request's two plans are one lookup each, and the
  // records of repeated requests share their plan.
  const plan = memoisePlanner(planAfresh)
  const events = new EventEmitter<RuntimeEvents>()
  // Every completed request is an event; the control plane and tests subscribe, possibly many at once.
  events.setMaxListeners(0)
  const ipLocator = options.ipLocator ?? createGeoIpLocator()
  const delay = createDelay({
    enabled: options.latency ?? scenario.latency.enabled,
    timeScale: options.timeScale ?? scenario.latency.timeScale,
    jitter: scenario.latency.jitter,
    seed: scenario.latency.seed
  })
  const signer = createForwardSigner({ windowMs: server.signatureWindowMs })
  const upstreams = createUpstreams({ delay, signer, timeoutMs: server.upstreamTimeoutMs, keepAliveTimeoutMs: server.keepAliveTimeoutMs })
  const locateClient = createClientLocator(world.topology, ipLocator, scenario.network.defaultClient)
  // The default client is located now, so that one no request could be located from (an address GeoLite2 cannot
  // place, in a scenario parsed without a locator) stops the start instead of failing every request that names none.
  try {
    locateClient({})
  } catch (err) {
    if (!isSimError(err)) throw err
    throw new SimError('SIM_ERR_CONFIG_INVALID', [`  network.defaultClient: ${err.message}`])
  }
  const url = (port: number): string => `http://${host.includes(':') ? `[${host}]` : host}:${port}`

  // Log sinks: one per distinct log core.
  const logSinkUrls = new Map<string, string>()
  const sinkApps: FastifyInstance[] = []
  for (const core of new Set(Object.values(world.logCores))) {
    const app = buildLogSinkApp({ id: core, signer, logger, capacity: Math.max(1000, server.ledgerSize * 10) })
    sinkApps.push(app)
    logSinkUrls.set(core, url(await listen(app, host, 0, apps)))
  }

  // Origins: one per customer, at its configured size and service time.
  const originUrls = new Map<string, string>()
  const originApps: FastifyInstance[] = []
  for (const c of world.customers.values()) {
    const external = options.externalOrigins?.get(c.host)
    if (external !== undefined) { originUrls.set(c.host, external); continue }
    const app = buildOriginApp({
      host: c.host,
      responseBytes: c.origin.responseBytes,
      serviceTimeMs: c.origin.serviceTimeMs,
      delay,
      logger,
      bodyLimitBytes: server.bodyLimitBytes,
      headerLimitBytes: server.headerLimitBytes,
      ...(c.inspectionHeader ? { inspectionHeader: c.inspectionHeader.name } : {})
    })
    originApps.push(app)
    originUrls.set(c.host, url(await listen(app, host, 0, apps)))
  }

  const shipper = createLogShipper({ sinkUrl: (s) => logSinkUrls.get(s), upstreams, signer, logger })
  const pops = new Map<string, PopEntry>()
  const directory = (id: string): string | undefined => {
    const e = pops.get(id)
    return e?.up === true ? url(e.port) : undefined
  }
  // Key services before the PoPs: each PoP terminates TLS with them (the signer PoPs are found through the directory).
  const keys = await startKeys({
    world,
    host,
    ...(options.caPath === undefined ? {} : { caPath: options.caPath }),
    signer,
    upstreams,
    delay,
    directory,
    logger,
    timeoutMs: server.upstreamTimeoutMs,
    listen: (app, port) => listen(app, host, port, apps)
  })
  const tls = { handshaker: keys.handshaker, locality: keys.locality }
  const limits = { bodyLimitBytes: server.bodyLimitBytes, headerLimitBytes: server.headerLimitBytes, keepAliveTimeoutMs: server.keepAliveTimeoutMs }
  for (const pop of world.topology.pops) {
    const deps: PopDeps = {
      pop, world, plan, locateClient, directory, originUrl: (h) => originUrls.get(h), signer, upstreams, delay, shipper, events, logger, limits, tls
    }
    const handlers = createPopHandlers(deps)
    pops.set(pop.id, { pop, app: buildPopApp({ ...deps, handlers }), handlers, port: 0, up: false })
  }
  // All PoPs listen concurrently: start-up is bound by the event loop, not by 340 sequential round trips.
  await Promise.all([...pops.values()].map(async (e) => {
    e.port = await listen(e.app, host, server.popBasePort === 0 ? 0 : server.popBasePort + e.pop.index, apps)
    e.up = true
  }))

  const edge = buildEdgeApp({
    world,
    plan,
    locateClient,
    pops: (id) => { const e = pops.get(id); return e?.up === true ? e.handlers : undefined },
    logger,
    headerLimitBytes: server.headerLimitBytes,
    bodyLimitBytes: server.bodyLimitBytes,
    keepAliveTimeoutMs: server.keepAliveTimeoutMs
  })
  const edgeUrl = url(await listen(edge, host, options.edgePort ?? server.edgePort, apps))

  // The real TLS edge: terminators are made per PoP on first use, on the PoP's own HTTP server.
  const terminators = new Map<string, TlsTerminator>()
  function terminator (id: string): TlsTerminator | undefined {
    const e = pops.get(id)
    if (e?.up !== true) return undefined
    let t = terminators.get(id)
    if (t === undefined) {
      t = createTlsTerminator({ pop: id, locality: keys.locality, state: keys.handshaker.state(id), server: e.app.server, logger: logger.child({ service: 'pop' }) })
      terminators.set(id, t)
    }
    return t
  }
  let tlsEdge: NetServer | undefined
  let tlsEdgeAddress: { host: string, port: number } | undefined
  if (options.tlsPort !== undefined) {
    const srv = createTlsEdge({ world, plan, locateClient, terminator, delay, logger })
    tlsEdge = srv
    servers.push(srv)
    await listenOn(srv, host, options.tlsPort)
    tlsEdgeAddress = { host, port: (srv.address() as AddressInfo).port }
  }

  async function setPopDown (id: string, down: boolean): Promise<void> {
    const e = pops.get(id)
    if (!e) throw new Error(`unknown PoP ${id}`)
    if (down === !e.up) return
    const srv = e.app.server
    if (down) {
      // Health first, so that no new plan picks it, then the listener really stops: connections are refused.
      world.health.down[e.pop.index] = 1
      e.up = false
      await new Promise<void>((resolve) => {
        srv.close(() => resolve())
        srv.closeAllConnections()
      })
      logger.warn({ pop: id }, 'PoP down')
      events.emit('pop-down', id)
    } else {
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen({ host, port: e.port }, () => { srv.off('error', reject); resolve() })
      })
      e.up = true
      world.health.down[e.pop.index] = 0
      logger.info({ pop: id }, 'PoP up')
      events.emit('pop-up', id)
    }
  }

  let fidelity: FidelityMonitor | undefined
  let controlApp: FastifyInstance | undefined
  let closing: Promise<void> | undefined
  const runtime: StartedSimulation & { controlUrl: string, startupMs: number } = {
    world,
    logger,
    events,
    popUrl: directory,
    setPopDown,
    edgeUrl,
    controlUrl: '',
    originUrls,
    logSinkUrls,
    keys,
    latency: { enabled: delay.enabled, timeScale: delay.timeScale },
    ...(tlsEdgeAddress === undefined ? {} : { tlsEdge: tlsEdgeAddress }),
    ...(keys.material.caPath === undefined ? {} : { caPath: keys.material.caPath }),
    popCount: pops.size,
    startupMs: 0,
    close () {
      closing ??= (async () => {
        // Outside in: the edge and the control plane stop taking requests and finish those in flight (which run
        // through the PoPs), then the PoPs; the last log batches leave, the pools close their sockets (a server
        // cannot tell a pooled connection that never sent a request from an active one), then origins and sinks.
        const tlsClosed = tlsEdge === undefined ? undefined : closeServer(tlsEdge)
        await Promise.all([closeGracefully(edge), controlApp && closeGracefully(controlApp), tlsClosed])
        await Promise.all([...pops.values()].map((e) => closeGracefully(e.app)))
        await keys.close()
        await shipper.close()
        await upstreams.close()
        await Promise.all([...originApps, ...sinkApps].map(closeGracefully))
        fidelity?.close()
        events.removeAllListeners()
      })()
      return closing
    }
  }
  const factory = options.controlApp === undefined ? buildControlApp : options.controlApp
  if (factory !== false) {
    controlApp = factory(runtime, { ipLocator, ledgerSize: server.ledgerSize })
    runtime.controlUrl = url(await listen(controlApp, host, options.controlPort ?? server.controlPort, apps))
  }
  // Last, once nothing can fail to listen any more. Only latency on has a model for responses to keep to.
  if (delay.enabled) {
    fidelity = createFidelityMonitor({ events, logger, ...(options.fidelityWindowMs === undefined ? {} : { windowMs: options.fidelityWindowMs }) })
    Object.assign(runtime, { fidelity })
  }
  runtime.startupMs = performance.now() - started
  logger.info({ pops: pops.size, edge: edgeUrl, control: runtime.controlUrl, ms: Math.round(runtime.startupMs) }, 'simulation started')
  return runtime
}
