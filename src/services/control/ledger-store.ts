// The control plane's memory of recent requests: a fixed-size ring of request records, so a long run keeps a bounded
// amount of memory however many requests pass.
//
// A record is not kept as the object the ingress emitted, nor written out as JSON when it arrives: its fields go into
// columns, and JSON is written only when the ledger is read. A record lives for as long as the ring takes to come
// round (1,000 records are over a second at load), long enough to outlive V8's young generation: kept as objects (the
// record, its hops and their objects) every one would be copied out of the young generation and die in the old one.
// Numbers (arrival, status, duration, lateness, the hops' measured times) go into tables of doubles; the strings a
// record points to are shared with the request's plan or are constants (host, method, code, log sink), so a request
// adds its ray to the heap and, where its TLS handshake is simulated, one small handshake object. The plan, which is
// shared by every request it answered (the planner's memo), is kept by reference and its JSON written once per plan
// object. Hops that went as planned (the same ends, kinds and modelled times as the plan's, the usual case) are kept
// as their measured times alone and written out with the plan's.
import type { Plan, ServedPlan } from '../../core/types.ts'
import type { MeasuredHop, RequestHandshake, RequestRecord } from '../records.ts'
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
  /** The held record of the request with this ray, if it is still held. */
  find(ray: string): LedgerEntry | undefined
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

/** A record's settle field in a column: none, on time, late. */
const SETTLE_NONE = -1

export function createLedgerStore (capacity: number): LedgerStore {
  if (!Number.isInteger(capacity) || capacity < 1) {
    // A programmer error: the configuration schema already enforces an integer >= 1.
    throw new RangeError(`ledger capacity must be an integer >= 1, got ${capacity}`)
  }
  // One column per field. The string and object columns are filled on first use and the number tables grown as slots
  // are first used, so a large ledgerSize costs nothing until requests arrive.
  let rays: string[] = []
  let hosts: string[] = []
  let methods: string[] = []
  let codes: (string | undefined)[] = []
  let handshakes: (RequestHandshake | undefined)[] = []
  let logSinks: (string | undefined)[] = []
  let plans: Plan[] = []
  // A slot's hops: their JSON when they did not follow the plan, else undefined and their measured times in `measured`.
  let hopTexts: (string | undefined)[] = []
  let numbers = emptyNumbers(0)
  let next = 0
  let size = 0
  let total = 0

  function slotsFor (slot: number): void {
    if (numbers.at.length > slot) return
    const grown = emptyNumbers(Math.min(capacity, Math.max(64, (slot + 1) * 2)))
    grown.at.set(numbers.at)
    grown.status.set(numbers.status)
    grown.measuredMs.set(numbers.measuredMs)
    grown.lateMs.set(numbers.lateMs)
    grown.late.set(numbers.late)
    grown.measured.set(numbers.measured)
    numbers = grown
  }

  /** The record in a slot as JSON: the fields of RequestRecord in their order, then its hops and plan. */
  function jsonAt (at: number): string {
    const plan = plans[at] as Plan
    const n = numbers
    const late = n.late[at] as number
    const text = JSON.stringify({
      ray: rays[at],
      at: n.at[at],
      host: hosts[at],
      method: methods[at],
      status: n.status[at],
      code: codes[at],
      measuredMs: n.measuredMs[at],
      handshake: handshakes[at],
      logSink: logSinks[at],
      settle: late === SETTLE_NONE ? undefined : { lateMs: n.lateMs[at], late: late === 1 }
    })
    const hops = hopTexts[at] ?? plannedHopsJson(plan as ServedPlan, n.measured, at * MAX_PLANNED_HOPS)
    return withHopsAndPlan(text, hops, plan)
  }

  return {
    capacity,
    get size () { return size },
    get total () { return total },
    add (record) {
      const at = next
      slotsFor(at)
      const n = numbers
      rays[at] = record.ray
      hosts[at] = record.host
      methods[at] = record.method
      codes[at] = record.code
      handshakes[at] = record.handshake
      logSinks[at] = record.logSink
      plans[at] = record.plan
      n.at[at] = record.at
      n.status[at] = record.status
      n.measuredMs[at] = record.measuredMs
      const settle = record.settle
      if (settle === undefined) {
        n.late[at] = SETTLE_NONE
      } else {
        n.late[at] = settle.late ? 1 : 0
        n.lateMs[at] = settle.lateMs
      }
      if (followsPlan(record.hops, record.plan)) {
        const from = at * MAX_PLANNED_HOPS
        const hops = record.hops
        for (let i = 0; i < hops.length; i++) n.measured[from + i] = (hops[i] as MeasuredHop).measuredMs
        hopTexts[at] = undefined
      } else {
        hopTexts[at] = JSON.stringify(record.hops)
      }
      next = (next + 1) % capacity
      if (size < capacity) size++
      total++
    },
    find (ray) {
      // Newest first: a ray just seen in a response is most likely near the head of the ring.
      for (let i = 1; i <= size; i++) {
        const at = (next - i + capacity) % capacity
        if (rays[at] === ray) return { ray, host: (plans[at] as Plan).host, json: jsonAt(at) }
      }
      return undefined
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
      return picked.map((at) => ({ ray: rays[at] as string, host: (plans[at] as Plan).host, json: jsonAt(at) }))
    },
    clear () {
      rays = []
      hosts = []
      methods = []
      codes = []
      handshakes = []
      logSinks = []
      plans = []
      hopTexts = []
      numbers = emptyNumbers(0)
      next = 0
      size = 0
    }
  }
}

/** The number columns for `slots` records. */
function emptyNumbers (slots: number) {
  return {
    at: new Float64Array(slots),
    status: new Float64Array(slots),
    measuredMs: new Float64Array(slots),
    lateMs: new Float64Array(slots),
    /** SETTLE_NONE, 0 (on time) or 1 (late). */
    late: new Int8Array(slots),
    /** MAX_PLANNED_HOPS measured times per slot, for hops that went as planned. */
    measured: new Float64Array(slots * MAX_PLANNED_HOPS)
  }
}
