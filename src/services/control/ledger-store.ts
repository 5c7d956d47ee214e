// The control plane's memory of recent requests: a fixed-size ring buffer of request records, so a long run keeps
// a bounded amount of memory however many requests pass.
import type { RequestRecord } from '../../runtime/types.ts'

export interface LedgerQuery {
  /** Only records for this host (as the planner normalised it: lowercase, no port). */
  readonly host?: string
  /** At most this many records, the most recent ones. */
  readonly limit?: number
}

export interface LedgerStore {
  readonly capacity: number
  /** Records held now (at most `capacity`). */
  readonly size: number
  /** Records ever added, including those overwritten since. */
  readonly total: number
  add(record: RequestRecord): void
  /** Held records, oldest first, filtered by `query`. */
  list(query?: LedgerQuery): RequestRecord[]
  clear(): void
}

export function createLedgerStore (capacity: number): LedgerStore {
  if (!Number.isInteger(capacity) || capacity < 1) {
    // A programmer error: the configuration schema already enforces an integer >= 1.
    throw new RangeError(`ledger capacity must be an integer >= 1, got ${capacity}`)
  }
  // Slots are allocated on first use so that a large ledgerSize costs nothing until requests arrive.
  const slots: (RequestRecord | undefined)[] = []
  let next = 0
  let size = 0
  let total = 0

  return {
    capacity,
    get size () { return size },
    get total () { return total },
    add (record) {
      slots[next] = record
      next = (next + 1) % capacity
      if (size < capacity) size++
      total++
    },
    list (query = {}) {
      const out: RequestRecord[] = []
      const start = (next - size + capacity) % capacity
      for (let i = 0; i < size; i++) {
        const r = slots[(start + i) % capacity]
        if (r !== undefined && (query.host === undefined || r.plan.host === query.host)) out.push(r)
      }
      const limit = query.limit
      return limit !== undefined && out.length > limit ? out.slice(out.length - limit) : out
    },
    clear () {
      slots.length = 0
      next = 0
      size = 0
    }
  }
}
