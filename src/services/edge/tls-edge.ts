// The real TLS edge (default port 8443): accepts TCP, reads an optional PROXY protocol header (v1/v2, as sent by
// `curl --haproxy-clientip`) for the client's address, peeks at the ClientHello's server name without terminating TLS,
// plans like the anycast edge, then hands the still-encrypted stream to the PoP that terminates it: the inspection PoP
// when it may hold the key, else the nearest healthy PoP of the processing region that may (node:tls signs with a key
// it holds; it cannot ask another PoP to sign, so real TLS cannot model Geo Key Manager's remote signing). The relay
// to that PoP carries the modelled one-way delay on each direction. Bad bytes get a clean close and a coded log line.
import { createServer, type Server, type Socket } from 'node:net'
import { duplexPair, type Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { SimError, isSimError, type ErrorCode } from '../../core/errors.ts'
import type { ClientLocation, Customer, Hop, Plan, PlanRequest, Pop, World } from '../../core/types.ts'
import type { IncomingHttpHeaders } from 'node:http'
import { parseClientHello } from '../../net/client-hello.ts'
import type { Delay } from '../../net/delay.ts'
import { parseProxyHeader } from '../../net/proxy-protocol.ts'
import { writeRawError } from '../http-errors.ts'
import type { TlsHandoff, TlsTerminator } from '../pop/tls-terminate.ts'

export interface TlsEdgeDeps {
  readonly world: World
  readonly plan: (req: PlanRequest, world: World) => Plan
  readonly locateClient: (headers: IncomingHttpHeaders) => ClientLocation
  /** The terminator of a PoP of this process that is up. */
  readonly terminator: (popId: string) => TlsTerminator | undefined
  readonly delay: Delay
  readonly logger: Logger
  /** Time allowed for the PROXY header and the whole ClientHello. Default 10 s. */
  readonly helloTimeoutMs?: number
}

const LOOPBACK = /^(?:127\.|::1$|::ffff:127\.)/

// TLS alerts sent before closing (RFC 8446 section 6): a client learns why instead of seeing a bare reset.
const ALERT = { handshakeFailure: 40, decodeError: 50, unrecognizedName: 112 } as const

function alertRecord (description: number): Buffer {
  // A fatal alert (level 2) in a plaintext record: content type 21, legacy version TLS 1.2 (section 5.1).
  return Buffer.from([21, 3, 3, 0, 2, 2, description])
}

/** PoPs outside the customer's key policy, by index (1: outside), made once per customer and kept with it. */
const outsidePolicy = new WeakMap<Customer, Uint8Array>()
function unauthorised (customer: Customer): Uint8Array {
  let mask = outsidePolicy.get(customer)
  if (mask === undefined) {
    const allowed = customer.keys.allowed
    mask = new Uint8Array(allowed.length)
    for (let i = 0; i < allowed.length; i++) mask[i] = allowed[i] === 1 ? 0 : 1
    outsidePolicy.set(customer, mask)
  }
  return mask
}

/** The nearest healthy PoP to `from` that may both process (region) and hold the key (policy). */
function nearestAuthorised (world: World, customer: Customer, from: Pop): Pop | undefined {
  let best: Pop | undefined
  let bestRtt = Infinity
  for (const p of world.topology.pops) {
    if (customer.keys.allowed[p.index] !== 1 || world.health.down[p.index] === 1) continue
    if (customer.region !== null && customer.region.members[p.index] !== 1) continue
    if (p.network === 'china' && !customer.chinaNetwork) continue
    const rtt = world.latency.popRttMs(from.index, p.index)
    if (rtt < bestRtt) { best = p; bestRtt = rtt }
  }
  return best
}

/** Copies `from` to `to`, each chunk after `ms` (order kept): the propagation delay of one direction of a hop. */
function delayedPipe (from: Duplex, to: Duplex, ms: number): void {
  if (ms < 0.5) {
    from.pipe(to)
    return
  }
  let chain = Promise.resolve()
  from.on('data', (chunk: Buffer) => {
    const due = performance.now() + ms
    chain = chain.then(() => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())))).then(() => { if (!to.destroyed) to.write(chunk) })
  })
  from.on('end', () => { void chain.then(() => to.end()) })
}

interface Route { readonly terminator: TlsTerminator, readonly handoff: TlsHandoff }

/** The first byte of a request line (a method token in capitals), never of a TLS record (0x14 to 0x17). */
const PLAIN_TEXT = /^[A-Z]$/

export function createTlsEdge (deps: TlsEdgeDeps): Server {
  const { world, logger } = deps
  const timeoutMs = deps.helloTimeoutMs ?? 10_000
  const log = logger.child({ service: 'tls-edge' })

  /** Where the connection for `sni` from `client` is terminated, or why it cannot be. */
  function route (client: ClientLocation, sni: string): Route | SimError {
    const first = deps.plan({ client, host: sni }, world)
    if (first.outcome === 'refused') {
      const err = new SimError(first.code as ErrorCode, [])
      err.message = first.reason
      return err
    }
    const customer = world.customers.get(first.host) as Customer
    const ingress = world.topology.byId.get(first.ingress) as Pop
    const unavailable = unauthorised(customer)
    // Plan again with the PoPs that may not hold the key as unavailable: the region's strategy then picks among key
    // holders, and the terminating PoP plans the same way when the requests arrive.
    const p = deps.plan({ client, host: first.host, ingress: ingress.id, unavailable }, world)
    let at: Pop | undefined
    if (p.outcome === 'served' && p.tls.key === 'local') at = world.topology.byId.get(p.inspection)
    // An ingress inside the region but outside the key policy: hand over to the nearest key holder in the region.
    else at = nearestAuthorised(world, customer, ingress)
    if (at === undefined) return new SimError('SIM_ERR_TLS_NO_TERMINATOR', [first.host, customer.keys.keyServer !== undefined ? 'keyless: the key stays on the key server' : 'no key holder in the region is up'])
    const terminator = deps.terminator(at.id)
    if (terminator === undefined) return new SimError('SIM_ERR_TLS_NO_TERMINATOR', [first.host, `${at.id} is down`])
    const relayRttMs = at === ingress ? 0 : world.latency.popRttMs(ingress.index, at.index)
    const accessRttMs = (first.hops[0] as Hop).rttMs
    return { terminator, handoff: { client, ingress: ingress.id, sni: first.host, unavailable, accessRttMs, relayRttMs } }
  }

  const sockets = new Set<Socket>()
  // No Nagle: a TLS flight is several small writes (and a relayed chunk is written whenever its delay ends), and Nagle
  // would hold each write after the first until the client's delayed ACK, about 40 ms on Linux, as node:http avoids
  // with noDelay on by default.
  const server = createServer({ noDelay: true }, function onConnection (socket) {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    const remote = socket.remoteAddress
    let buffered: Buffer = Buffer.alloc(0)
    let offset = -1
    let source: string | undefined

    function refuse (code: ErrorCode, reason: string, alert?: number): void {
      cleanup()
      log.warn({ code, reason, remote, ...(source === undefined ? {} : { client: source }) }, 'TLS connection refused')
      if (alert !== undefined && socket.writable) socket.end(alertRecord(alert))
      else socket.end()
      // A client that never reads its end must not hold the socket open.
      setTimeout(() => socket.destroy(), 1000).unref()
    }
    const timer = setTimeout(() => refuse('SIM_ERR_TLS_HELLO_TIMEOUT', `${timeoutMs} ms`), timeoutMs)
    function cleanup (): void {
      clearTimeout(timer)
      socket.off('data', onData)
    }

    function onData (chunk: Buffer): void {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      if (offset < 0) {
        const ph = parseProxyHeader(buffered)
        if (ph.status === 'need-more') return
        if (ph.status === 'malformed') return refuse('SIM_ERR_TLS_PROXY_HEADER_INVALID', ph.reason)
        offset = 0
        if (ph.status === 'ok') {
          offset = ph.bytes
          // A loopback source (`curl --haproxy-protocol` on this machine) has no location: the default client then.
          if (ph.command === 'proxy' && ph.source !== undefined && !LOOPBACK.test(ph.source.address)) source = ph.source.address
        }
      }
      const hello = parseClientHello(buffered.subarray(offset))
      switch (hello.status) {
        case 'need-more': return
        case 'not-tls':
          // Plain HTTP sent to the TLS port (http:// where https:// was meant): answered in HTTP, as nginx does, so
          // the client reads why rather than an empty reply.
          if (PLAIN_TEXT.test(buffered.subarray(offset, offset + 1).toString('latin1'))) {
            cleanup()
            const sim = new SimError('SIM_ERR_TLS_NOT_TLS', ['plain HTTP on the TLS port: use https:// here, or the anycast edge\'s HTTP port'])
            log.warn({ code: sim.code, reason: 'plain-http', remote, ...(source === undefined ? {} : { client: source }) }, 'TLS connection refused')
            writeRawError(socket, sim, 'EDGE')
            return
          }
          return refuse('SIM_ERR_TLS_NOT_TLS', hello.reason)
        case 'no-sni': return refuse('SIM_ERR_TLS_NO_SNI', hello.reason, ALERT.unrecognizedName)
        case 'malformed': return refuse('SIM_ERR_TLS_HELLO_MALFORMED', hello.reason, ALERT.decodeError)
      }
      let client: ClientLocation
      try {
        client = deps.locateClient(source === undefined ? {} : { 'x-sim-client-ip': source })
      } catch (err) {
        if (!isSimError(err)) throw err
        return refuse(err.code, err.message, ALERT.handshakeFailure)
      }
      const r = route(client, hello.serverName)
      if (r instanceof SimError) return refuse(r.code, r.message, r.code === 'SIM_ERR_HOST_UNKNOWN' ? ALERT.unrecognizedName : ALERT.handshakeFailure)
      cleanup()
      const [edgeSide, popSide] = duplexPair()
      if (!r.terminator.accept(popSide, r.handoff)) return refuse('SIM_ERR_KEY_REFUSED', `${r.handoff.sni} at its terminating PoP`, ALERT.handshakeFailure)
      log.debug({ host: r.handoff.sni, ingress: r.handoff.ingress }, 'TLS connection relayed')
      // Every byte of the connection, handshake included, crosses the client's access hop and the relay: the TLS 1.3
      // handshake costs their round trip before the first request, as it would on the network modelled.
      const oneWay = deps.delay.oneWayMs(r.handoff.accessRttMs) + deps.delay.oneWayMs(r.handoff.relayRttMs)
      // The bytes read so far (without the PROXY header, which ends at the edge) go first, then the rest of the stream.
      const rest = buffered.subarray(offset)
      socket.pause()
      const relayed = (): void => {
        edgeSide.write(rest)
        delayedPipe(socket, edgeSide, oneWay)
        socket.resume()
      }
      // Without latency, right away: a timer of 0 ms would still wait for the next turn of the loop's timers.
      if (oneWay < 0.5) relayed()
      else setTimeout(relayed, oneWay)
      delayedPipe(edgeSide, socket, oneWay)
      socket.once('close', () => edgeSide.destroy())
      edgeSide.once('close', () => socket.destroy())
    }
    socket.on('data', onData)
  })

  // Closing the edge ends the relayed connections too: server.close() alone waits for them.
  const close = server.close.bind(server)
  server.close = function closeTlsEdge (cb?: (err?: Error) => void) {
    close(cb)
    for (const s of sockets) s.destroy()
    return server
  }
  return server
}
