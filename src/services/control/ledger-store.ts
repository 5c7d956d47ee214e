// The control plane's memory of recent requests: a fixed-size ring of request records, so a long run keeps a bounded
// amount of memory however many requests pass.
//
// Each record is kept as its JSON text, not as the object the ingress emitted. A record lives for as long as the
// ring takes to come round (1,000 records are over a second at load), long enough to outlive V8's young generation:
// kept as objects (the record, its hops and their objects) every one would be copied out of the young generation and
// die in the old one. As one flat string it is a single object without pointers. The plan, which is shared by every
// request it answered (the planner's memo), is kept by reference and its JSON written once per plan object. Hops that
// went as planned (the same ends, kinds and modelled times as the plan's, the usual case) are kept as their measured
// times alone, in a table of doubles, and written out with the plan's when the record is read.
import type { Plan, ServedPlan } from '../../core/types.ts'
import type { MeasuredHop, RequestRecord } from '../../runtime/types.ts'
import { asPlanned } from '../measured-hops.ts'

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

/** The record without its hops and plan as JSON: always the same fields in the same order, absent ones left out. */
function recordText (r: RequestRecord): string {
  return JSON.stringify({
    ray: r.ray,
    at: r.at,
    host: r.host,
    method: r.method,
    status: r.status,
    code: r.code,
    measuredMs: r.measuredMs,
    handshake: r.handshake,
    logSink: r.logSink,
    settle: r.settle
  })
}

/** Most hops a plan has: access, relay, key, origin. */
export const MAX_PLANNED_HOPS = 4

/** Whether measured hops are the plan's own, in its order (then only their measured times need keeping). */
function followsPlan (hops: readonly MeasuredHop[], plan: Plan): boolean {
  return plan.outcome === 'served' && plan.hops.length <= MAX_PLANNED_HOPS && asPlanned(hops, plan.hops)
}

/** The JSON of a plan's hops with their measured times, as the record's own hop objects would have written. */
function plannedHopsJson (plan: ServedPlan, measured: Float64Array, at: number): string {
  const hops: MeasuredHop[] = plan.hops.map((p, i) => ({ from: p.from, to: p.to, kind: p.kind as MeasuredHop['kind'], modelledMs: p.rttMs, measuredMs: measured[at + i] as number }))
  return JSON.stringify(hops)
}

/** Puts the hops and the plan back into a record's text: `{...}` becomes `{...,"hops":[...],"plan":{...}}`. */
function withHopsAndPlan (text: string, hops: string, plan: Plan): string {
  return `${text.slice(0, -1)},"hops":${hops},"plan":${planJson(plan)}}`
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
  // A slot's hops: their JSON when they did not follow the plan, else undefined and their measured times here.
  let hopTexts: (string | undefined)[] = []
  let measured = new Float64Array(0)
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
      if (followsPlan(record.hops, record.plan)) {
        // Grown as slots are first used, so a large ledgerSize costs nothing until requests arrive.
        if (measured.length <= next * MAX_PLANNED_HOPS) {
          const grown = new Float64Array(Math.min(capacity, Math.max(64, (next + 1) * 2)) * MAX_PLANNED_HOPS)
          grown.set(measured)
          measured = grown
        }
        const at = next * MAX_PLANNED_HOPS
        const hops = record.hops
        for (let i = 0; i < hops.length; i++) measured[at + i] = (hops[i] as MeasuredHop).measuredMs
        hopTexts[next] = undefined
      } else {
        hopTexts[next] = JSON.stringify(record.hops)
      }
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
        const hops = hopTexts[at] ?? plannedHopsJson(plan as ServedPlan, measured, at * MAX_PLANNED_HOPS)
        return { ray: rays[at] as string, host: plan.host, json: withHopsAndPlan(texts[at] as string, hops, plan) }
      })
    },
    clear () {
      rays = []
      texts = []
      plans = []
      hopTexts = []
      measured = new Float64Array(0)
      next = 0
      size = 0
    }
  }
}
