// The running simulation as the control plane sees it: the model, health changes, the stream of completed requests
// and the key services. The runtime (src/runtime/start.ts) implements it; the control plane only reads and steers it.
import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { World } from '../../core/types.ts'
import type { KeyAuditLog } from '../keys/audit.ts'
import type { RuntimeEvents } from '../records.ts'

/** Counts since the simulation started. */
export interface FidelitySnapshot {
  /** Responses settled against the model (served along their whole plan, latency on). */
  readonly settled: number
  /** Of those, responses that left beyond the tolerance after their modelled time. */
  readonly late: number
  /** The latest any response left after its modelled time, ms. */
  readonly maxLateMs: number
  /** Warnings logged so far (at most one per window). */
  readonly warnings: number
  /** The latest settled responses (at most RECENT, runtime/fidelity.ts): how it goes now, not since the start. */
  readonly recent: { readonly responses: number, readonly late: number }
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
