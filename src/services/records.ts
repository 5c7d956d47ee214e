// What the data path records of each client request, as the ingress emits it: the hops it measured, the handshake
// behind it, how it kept to the model. The control plane's ledger and metrics, the fidelity monitor and the tests read
// these records; the runtime carries them from the PoPs to them.
import type { Plan } from '../core/types.ts'

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
