// The control plane's memory of recent requests: a fixed-size ring of request records, so a long run keeps a bounded
// amount of memory however many requests pass.
//
// Each record is kept as its JSON text, not as the object the ingress emitted. A record lives for as long as the
// ring takes to come round (1,000 records are over a second at load), long enough to outlive V8's young generation:
// kept as objects (the record, its hops and their objects) every one would be copied out of the young generation and
// die in the old one. As one flat string it is a single object without pointers. The plan, which is shared by every
// request it answered (the planner's memo), is kept by reference and its JSON written once per plan object.
import type { Plan } from '../../core/types.ts'
import type { RequestRecord } from '../../runtime/types.ts'

export interface LedgerQuery {
  /** Only records for this host (as the planner normalised it: lowercase, no port). */
  readonly host?: string
  /** At most this many records, the most recent ones. */
  readonly limit?: number
}

/** One held record: its ray and host (to find and filter it by) and the whole record as JSON. */
export interface LedgerEntry {
  readonly ray: string
  readonly host: string
  /** The request record as JSON text: the fields of RequestRecord, `plan` last. */
  readonly json: string
}

export interface LedgerStore {
  readonly capacity: number
  /** Records held now (at most `capacity`). */
  readonly size: number
  /** Records ever added, including those overwritten since. */
  readonly total: number
  add(record: RequestRecord): void
  /** Held records, oldest first, filtered by `query`. */
  list(query?: LedgerQuery): LedgerEntry[]
  clear(): void
}

const planJsonCache = new WeakMap<Plan, string>()

/** A plan's JSON, written once per plan object (plans are immutable once made). */
export function planJson (plan: Plan): string {
  let json = planJsonCache.get(plan)
  if (json === undefined) {
    json = JSON.stringify(plan)
    planJsonCache.set(plan, json)
  }
  return json
}

/** The record without its plan as JSON: always the same fields in the same order, absent ones left out. */
function recordText (r: RequestRecord): string {
  return JSON.stringify({
    ray: r.ray,
    at: r.at,
    host: r.host,
    method: r.method,
    status: r.status,
    code: r.code,
    hops: r.hops,
    measuredMs: r.measuredMs,
    handshake: r.handshake,
    logSink: r.logSink,
    settle: r.settle
  })
}

/** Puts the plan back into a record's text: `{...}` becomes `{...,"plan":{...}}`. */
function withPlan (text: string, plan: Plan): string {
  return `${text.slice(0, -1)},"plan":${planJson(plan)}}`
}

export function createLedgerStore (capacity: number): LedgerStore {
  if (!Number.isInteger(capacity) || capacity < 1) {
    // A programmer error: the configuration schema already enforces an integer >= 1.
    throw new RangeError(`ledger capacity must be an integer >= 1, got ${capacity}`)
  }
  // Parallel arrays, so that a held record costs its text alone. Slots are filled on first use, so a large
  // ledgerSize costs nothing until requests arrive.
  let rays: string[] = []
  let texts: string[] = []
  let plans: Plan[] = []
  let next = 0
  let size = 0
  let total = 0

  return {
    capacity,
    get size () { return size },
    get total () { return total },
    add (record) {
      rays[next] = record.ray
      texts[next] = recordText(record)
      plans[next] = record.plan
      next = (next + 1) % capacity
      if (size < capacity) size++
      total++
    },
    list (query = {}) {
      const held: number[] = []
      const start = (next - size + capacity) % capacity
      for (let i = 0; i < size; i++) {
        const at = (start + i) % capacity
        if (query.host === undefined || (plans[at] as Plan).host === query.host) held.push(at)
      }
      const limit = query.limit
      const picked = limit !== undefined && held.length > limit ? held.slice(held.length - limit) : held
      return picked.map((at) => {
        const plan = plans[at] as Plan
        return { ray: rays[at] as string, host: plan.host, json: withPlan(texts[at] as string, plan) }
      })
    },
    clear () {
      rays = []
      texts = []
      plans = []
      next = 0
      size = 0
    }
  }
}
