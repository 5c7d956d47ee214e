// Real TLS termination at a PoP: a still-encrypted client stream handed over by the TLS edge is terminated here with
// the customer's certificate and private key, which this PoP obtains only through the key-locality module (so the
// audit log shows the fetch, and a PoP outside the key policy is refused and holds nothing). The decrypted HTTP
// requests then enter the PoP's own Fastify routing, as connections of its node:http server.
import type { Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls'
import type { Logger } from 'pino'
import type { ClientLocation } from '../../core/types.ts'
import type { PopTlsState } from '../keys/handshake.ts'
import type { KeyLocality } from '../keys/locality.ts'

/** What the TLS edge worked out before handing a connection to its terminating PoP. */
export interface TlsHandoff {
  readonly client: ClientLocation
  /** The anycast ingress PoP that took the connection in (it may be this PoP). */
  readonly ingress: string
  /** The server name of the ClientHello: the only host this connection may serve. */
  readonly sni: string
  /** PoPs outside the customer's key policy (by index, 1: outside): planned as unavailable, since only a key holder terminates real TLS. */
  readonly unavailable: Uint8Array
  /** Modelled round trip of the client's access hop (client -> ingress, last mile included). */
  readonly accessRttMs: number
  /** Modelled round trip of the ciphertext relay ingress -> this PoP (0 when terminated at the ingress). */
  readonly relayRttMs: number
}

// Sockets terminated by a PoP, with their hand-off: the PoP's request handler looks its requests' socket up here.
const handoffs = new WeakMap<object, TlsHandoff>()

/** The hand-off of a request's socket, when it arrived through the real TLS edge. */
export function tlsHandoffOf (socket: object): TlsHandoff | undefined {
  return handoffs.get(socket)
}

export interface TlsTerminatorDeps {
  readonly pop: string
  readonly locality: KeyLocality
  /** This PoP's TLS state (the handshaker's): the keys it was granted. */
  readonly state: PopTlsState
  /** The PoP's HTTP server (the Fastify app's): decrypted connections are emitted to it. */
  readonly server: Server
  readonly logger: Logger
}

export interface TlsTerminator {
  /** Terminates `stream` (the client's TLS bytes) here; false, and the stream destroyed, when the key is refused. */
  accept (stream: Duplex, handoff: TlsHandoff): boolean
}

export function createTlsTerminator (deps: TlsTerminatorDeps): TlsTerminator {
  const contexts = new Map<string, SecureContext>()

  function contextFor (host: string): SecureContext | undefined {
    const known = contexts.get(host)
    if (known !== undefined) return known
    // The one way to the key: audited as a fetch, refused outside the policy (docs/design.md invariant 2).
    const grant = deps.locality.requestKey(deps.pop, host)
    if (grant.outcome === 'refused') {
      deps.logger.warn({ pop: deps.pop, host, code: grant.code }, 'key use refused')
      return undefined
    }
    deps.state.keep(host, grant.privateKey)
    const key = grant.privateKey.export({ type: 'pkcs8', format: 'pem' })
    // TLS 1.2 at least: older versions are disabled by default in Node, and RFC 8996 deprecates them.
    const ctx = createSecureContext({ key, cert: grant.certPem, minVersion: 'TLSv1.2' })
    contexts.set(host, ctx)
    return ctx
  }

  return {
    accept (stream, handoff) {
      const ctx = contextFor(handoff.sni)
      if (ctx === undefined) {
        stream.destroy()
        return false
      }
      const socket = new TLSSocket(stream, { isServer: true, secureContext: ctx, ALPNProtocols: ['http/1.1'] })
      handoffs.set(socket, handoff)
      socket.on('error', function tlsError (err: NodeJS.ErrnoException) {
        deps.logger.info({ pop: deps.pop, host: handoff.sni, code: err.code }, 'TLS connection failed')
      })
      // node:http serves any stream socket: the decrypted requests reach the same routes as plain ones.
      deps.server.emit('connection', socket)
      return true
    }
  }
}
