// The key audit log: every request for key material and every private-key operation, allowed or refused, in a bounded
// ring, with an event per entry so the control plane can serve and stream it (docs/design.md, key locality).
import { EventEmitter } from 'node:events'
import type { ErrorCode } from '../../core/errors.ts'

export type KeyAuditOperation = 'fetch' | 'sign'
export type KeyAuditOutcome = 'allowed' | 'refused'

export interface KeyAuditEntry {
  /** Position in the run's audit sequence (1, 2, ...): gaps in a listing mean older entries were dropped. */
  readonly seq: number
  /** Epoch ms. */
  readonly at: number
  /** The PoP that asked: for `fetch`, the one wanting the key; for `sign`, the one terminating TLS. */
  readonly pop: string
  readonly host: string
  readonly operation: KeyAuditOperation
  readonly outcome: KeyAuditOutcome
  /** Why it was refused. */
  readonly code?: ErrorCode
  /** Who used (or would have used) the key: a PoP id, or `keyless:<server>` for a customer's key server. */
  readonly signer?: string
}

export type KeyAuditInput = Omit<KeyAuditEntry, 'seq' | 'at'>

export interface KeyAuditFilter {
  readonly host?: string
  readonly pop?: string
  readonly outcome?: KeyAuditOutcome
  readonly operation?: KeyAuditOperation
  /** At most this many, the most recent. */
  readonly limit?: number
}

export interface KeyAuditEvents {
  entry: [KeyAuditEntry]
}

export interface KeyAuditOptions {
  /** Entries kept; the oldest are dropped first. Default 10,000. */
  readonly capacity?: number
  readonly now?: () => number
}

export class KeyAuditLog extends EventEmitter<KeyAuditEvents> {
  readonly capacity: number
  readonly #items: (KeyAuditEntry | undefined)[]
  readonly #now: () => number
  #next = 0
  #size = 0
  #seq = 0

  constructor (opts: KeyAuditOptions = {}) {
    super()
    const capacity = opts.capacity ?? 10_000
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`audit capacity must be a positive integer, got ${capacity}`)
    this.capacity = capacity
    this.#items = new Array<KeyAuditEntry | undefined>(capacity)
    this.#now = opts.now ?? Date.now
  }

  /** Entries recorded since the run started, including dropped ones. */
  get total (): number { return this.#seq }

  get size (): number { return this.#size }

  record (input: KeyAuditInput): KeyAuditEntry {
    const entry: KeyAuditEntry = Object.freeze({ seq: ++this.#seq, at: this.#now(), ...input })
    this.#items[this.#next] = entry
    this.#next = (this.#next + 1) % this.capacity
    if (this.#size < this.capacity) this.#size++
    // A failing listener (a broken stream) must not fail the key operation that is being audited.
    try {
      this.emit('entry', entry)
    } catch {
      // listeners report their own errors; the entry is kept either way
    }
    return entry
  }

  /** Oldest first, filtered; `limit` keeps the most recent matches. */
  entries (filter: KeyAuditFilter = {}): KeyAuditEntry[] {
    const out: KeyAuditEntry[] = []
    const start = (this.#next - this.#size + this.capacity) % this.capacity
    for (let i = 0; i < this.#size; i++) {
      const e = this.#items[(start + i) % this.capacity] as KeyAuditEntry
      if (filter.host !== undefined && e.host !== filter.host) continue
      if (filter.pop !== undefined && e.pop !== filter.pop && e.signer !== filter.pop) continue
      if (filter.outcome !== undefined && e.outcome !== filter.outcome) continue
      if (filter.operation !== undefined && e.operation !== filter.operation) continue
      out.push(e)
    }
    return filter.limit !== undefined && out.length > filter.limit ? out.slice(out.length - filter.limit) : out
  }
}
