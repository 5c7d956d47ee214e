// The running simulation as the services and the control plane see it: the model, health changes and the stream of
// completed requests (the data-flow ledger's source).
import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Plan, World } from '../core/types.ts'

/** Measured timings of one hop of a live request, in ms. */
export interface MeasuredHop {
  readonly from: string
  readonly to: string
  readonly kind: 'access' | 'relay' | 'origin' | 'key'
  readonly modelledMs: number
  readonly measuredMs: number
}

/** One completed (or refused) client request, as recorded by the ingress PoP. */
export interface RequestRecord {
  readonly ray: string
  /** Epoch ms when the request arrived (from the runtime clock). */
  readonly at: number
  readonly host: string
  readonly method: string
  readonly status: number
  /** SIM_ERR_* code when the request was refused or failed. */
  readonly code?: string
  readonly plan: Plan
  readonly hops: readonly MeasuredHop[]
  readonly measuredMs: number
  /** Where the request's log record was shipped (log sink id), if anywhere. */
  readonly logSink?: string
}

export interface RuntimeEvents {
  request: [RequestRecord]
  'pop-down': [string]
  'pop-up': [string]
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
  /** Stops everything gracefully: in-flight requests finish, sockets close. */
  close(): Promise<void>
}
