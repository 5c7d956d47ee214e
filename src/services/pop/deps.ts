// What a PoP service needs from the runtime: the model, its neighbours' addresses, the network policies and sinks.
import type { EventEmitter } from 'node:events'
import type { IncomingHttpHeaders } from 'node:http'
import type { Logger } from 'pino'
import type { ClientLocation, Plan, PlanRequest, Pop, World } from '../../core/types.ts'
import type { Delay } from '../../net/delay.ts'
import type { ForwardSigner } from '../../net/signing.ts'
import type { Upstreams } from '../../net/upstream.ts'
import type { RuntimeEvents } from '../records.ts'
import type { Handshaker } from '../keys/handshake.ts'
import type { KeyLocality } from '../keys/locality.ts'
import type { LogShipper } from './log-shipper.ts'

/** The key services a PoP uses to terminate TLS; without them the key hop is only a modelled delay. */
export interface PopTls {
  readonly handshaker: Handshaker
  readonly locality: KeyLocality
}

/** A client's TLS session ticket (RFC 8446 section 4.6.1) across connections, as a header in the HTTP simulation. */
export const TICKET_HEADER = 'x-sim-tls-ticket'
/** What the terminating PoP did for TLS on this request: local, remote, keyless, resumed or none. */
export const HANDSHAKE_HEADER = 'x-sim-tls-handshake'
/** Who signed the handshake (a PoP id or `keyless:<server>`), on full handshakes. */
export const SIGNER_HEADER = 'x-sim-tls-signer'

export interface PopLimits {
  readonly bodyLimitBytes: number
  readonly headerLimitBytes: number
  readonly keepAliveTimeoutMs: number
}

export interface PopDeps {
  readonly pop: Pop
  readonly world: World
  readonly plan: (req: PlanRequest, world: World) => Plan
  /** Locates the simulated client from `x-sim-client-ip` / `x-sim-client` (default location without); throws SimError. */
  readonly locateClient: (headers: IncomingHttpHeaders, rawHeaders?: readonly string[]) => ClientLocation
  /** Base URL of a PoP that listens now, undefined otherwise (down or not in this process). */
  readonly directory: (popId: string) => string | undefined
  /** Base URL of a customer's origin. */
  readonly originUrl: (host: string) => string | undefined
  readonly signer: ForwardSigner
  readonly upstreams: Upstreams
  readonly delay: Delay
  readonly shipper: LogShipper
  readonly events: EventEmitter<RuntimeEvents>
  readonly logger: Logger
  readonly limits: PopLimits
  readonly tls?: PopTls
  /** Epoch ms, for records. */
  readonly clock?: () => number
}

/**
 * Hop-by-hop fields a proxy must not forward (RFC 9110 section 7.6.1), and `expect`: node's server has already
 * answered a `100-continue` (or refused another expectation with 417) on this hop, and the next hop is sent the body
 * at once (undici does not send the expectation).
 */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'expect'
])
