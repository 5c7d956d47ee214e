// The running simulation as the services and the control plane see it: the model, health changes and the stream of
// completed requests (the data-flow ledger's source).
import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Plan, World } from '../core/types.ts'
import type { KeyAuditLog } from '../services/keys/audit.ts'
import type { FidelitySnapshot } from './fidelity.ts'

/** Measured timings of one hop of a live request, in ms. */
export interface MeasuredHop {
  readonly from: string
  readonly to: string
  readonly kind: 'access' | 'relay' | 'origin' | 'key'
  readonly modelledMs: number
  readonly measuredMs: number
}

/** The TLS handshake behind a request, as the terminating PoP did it. */
export interface RequestHandshake {
  /** The PoP that terminated TLS. */
  readonly at: string
  /** local, remote, keyless (a key operation), resumed (a session ticket) or none (an established connection). */
  readonly op: string
  /** Who signed: a PoP id or `keyless:<server>`. */
  readonly signer?: string
}

/**
 * One completed (or refused) client request, as recorded by the ingress PoP. The ingress always sets every field
 * (absent ones as undefined), so that its listeners see one object shape.
 */
export interface RequestRecord {
  readonly ray: string
  /** Epoch ms when the request arrived (from the runtime clock). */
  readonly at: number
  readonly host: string
  readonly method: string
  readonly status: number
  /** SIM_ERR_* code when the request was refused or failed. */
  readonly code?: string | undefined
  readonly plan: Plan
  readonly hops: readonly MeasuredHop[]
  readonly measuredMs: number
  /** The handshake, when TLS was terminated for it (the key operation in the ledger's words). */
  readonly handshake?: RequestHandshake | undefined
  /** Where the request's log record was shipped (log sink id), if anywhere. */
  readonly logSink?: string | undefined
  /** With latency on, for a request served along its whole plan: how it kept to the model (see runtime/fidelity.ts). */
  readonly settle?: SettleRecord | undefined
}

/** How far after its modelled time a response left the ingress. */
export interface SettleRecord {
  /** ms after the modelled total (plus the jitter drawn for it) had passed; 0 when it left on time. */
  readonly lateMs: number
  /** Late beyond the tolerance: more than 1 ms and more than 5% of the modelled time. */
  readonly late: boolean
}

export interface RuntimeEvents {
  request: [RequestRecord]
  'pop-down': [string]
  'pop-up': [string]
}

/** The key services as the control plane sees them. */
export interface RuntimeKeyControl {
  readonly audit: KeyAuditLog
  readonly keyServerIds: readonly string[]
  isKeyServerUp (id: string): boolean
  /** Stops (down) or restarts (up) a keyless key server's listener for real. */
  setKeyServerDown (id: string, down: boolean): Promise<void>
}

export interface SimRuntime {
  readonly world: World
  readonly logger: Logger
  readonly events: EventEmitter<RuntimeEvents>
  /** Base URL of a running PoP service, or undefined when it is not in this process or is down. */
  popUrl(id: string): string | undefined
  /** Stops (down) or restarts (up) a PoP's listener for real, and updates the world's health. */
  setPopDown(id: string, down: boolean): Promise<void>
  readonly edgeUrl: string
  readonly controlUrl: string
  readonly originUrls: ReadonlyMap<string, string>
  readonly logSinkUrls: ReadonlyMap<string, string>
  /** Key locality: the audit log and the keyless key servers (absent in runtimes without key services). */
  readonly keys?: RuntimeKeyControl
  /** Where the run's CA certificate was written (`curl --cacert`), when it was. */
  readonly caPath?: string
  /** The modelled delay in force: off, or on with a time scale (so measured times can be read against the model). */
  readonly latency?: { readonly enabled: boolean, readonly timeScale: number }
  /** The real TLS edge (`host:port`), when it runs. */
  readonly tlsEdge?: { readonly host: string, readonly port: number }
  /** With latency on: how many responses kept to the model and how many left late (runtime/fidelity.ts). */
  readonly fidelity?: { snapshot (): FidelitySnapshot }
  /** Stops everything gracefully: in-flight requests finish, sockets close. */
  close(): Promise<void>
}
