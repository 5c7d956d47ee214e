// Plans repeat: every request from the same client location to the same host, through the same ingress and with the
// same health, gets the same plan, and the live simulation plans twice per request (at the anycast edge and at the
// ingress). The memo hands back the plan it computed before, the same object, so a request neither recomputes nor
// allocates one, and the records that keep it (the control plane's ledger) share it instead of each holding a copy
// that the garbage collector has to carry. Plans are read-only (their types say so), so sharing one is safe. Exact:
// every input of plan() is in the key or compared, and the world's health is compared with a snapshot on every call,
// so a change made anywhere (a PoP down, a load set) is seen at once.
import type { Plan, PlanRequest, World } from './types.ts'

export type Planner = (req: PlanRequest, world: World) => Plan

export interface PlanMemoOptions {
  /** Distinct requests remembered; past it the oldest is forgotten. Default 4096. */
  readonly maxEntries?: number
}

/**
 * The request's identity for planning, apart from the client's coordinates and country: those are compared with the
 * remembered plan's own copy of them, which is cheaper than formatting numbers into the key. Free-text fields are
 * length-prefixed, so no two requests share a key.
 */
function keyOf (req: PlanRequest): string {
  return `${req.newConnection === false ? 0 : 1}|${req.ingress ?? ''}|${req.host.length}:${req.host}|${req.client.input}`
}

/** A remembered plan answers a request only from the very same client point (the plan records it). */
function sameClient (p: Plan, c: PlanRequest['client']): boolean {
  const k = p.client
  return k.lat === c.lat && k.lon === c.lon && k.country === c.country
}

/** One plan remembered for a client location object: the rest of the request's identity, compared field by field. */
interface Slot {
  readonly host: string
  readonly ingress: string | undefined
  readonly newConnection: boolean
  readonly plan: Plan
}

/** Plans remembered per client location object; past it, that object's list starts again. */
const SLOTS_PER_CLIENT = 16

export function memoisePlanner (planner: Planner, opts: PlanMemoOptions = {}): Planner {
  const maxEntries = opts.maxEntries ?? 4096
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be an integer >= 1, got ${maxEntries}`)
  const cache = new Map<string, Plan>()
  // The data path's client locator hands back the same location object for the same header, and the edge hands it
  // to the ingress: by that object first, the few plans made for it are found by comparing the host, ingress and
  // connection flag, with no key text built and hashed (the object's own fields never change, so the same object is
  // the same client point). The lists start again, all at once (a new WeakMap, the old one left to the collector),
  // when the health changes and when they have taken maxEntries plans, as many as the map may hold.
  let byClient = new WeakMap<object, Slot[]>()
  /** Plans put in the lists since they last started again (an upper bound: a full list starts again uncounted). */
  let remembered = 0
  // The world planned for, byte views of its health arrays (changed in place: Health's fields are readonly) and copies
  // of those bytes as they were when the cache was filled: one memcmp per array tells whether anything changed.
  let world: World | undefined
  let downNow: Buffer<ArrayBufferLike> = Buffer.alloc(0)
  let loadNow: Buffer<ArrayBufferLike> = Buffer.alloc(0)
  let downThen = Buffer.alloc(0)
  let loadThen = Buffer.alloc(0)

  function sameHealth (w: World): boolean {
    // Byte equality: a load that changes only from 0 to -0 is a (harmless) miss, never a wrong plan.
    return w === world && downNow.equals(downThen) && loadNow.equals(loadThen)
  }

  function snapshot (w: World): void {
    world = w
    const { down, load } = w.health
    downNow = Buffer.from(down.buffer, down.byteOffset, down.byteLength)
    loadNow = Buffer.from(load.buffer, load.byteOffset, load.byteLength)
    downThen = Buffer.from(downNow)
    loadThen = Buffer.from(loadNow)
  }

  return function memoPlan (req, w) {
    // Per-request failures (a retry around a PoP found down, the TLS edge's key-policy mask) are rare: planned afresh.
    if ((req.down !== undefined && req.down.length > 0) || req.unavailable !== undefined) return planner(req, w)
    if (!sameHealth(w)) {
      cache.clear()
      snapshot(w)
      byClient = new WeakMap()
      remembered = 0
    }
    const newConnection = req.newConnection !== false
    let slots = byClient.get(req.client)
    if (slots !== undefined) {
      for (let i = 0; i < slots.length; i++) {
        const s = slots[i] as Slot
        if (s.host === req.host && s.ingress === req.ingress && s.newConnection === newConnection) return s.plan
      }
    }
    const key = keyOf(req)
    const known = cache.get(key)
    let p: Plan
    if (known !== undefined && sameClient(known, req.client)) {
      p = known
    } else {
      p = planner(req, w)
      if (known === undefined && cache.size >= maxEntries) cache.delete(cache.keys().next().value as string)
      cache.set(key, p)
    }
    if (++remembered > maxEntries) {
      byClient = new WeakMap()
      slots = undefined
      remembered = 1
    }
    if (slots === undefined) byClient.set(req.client, slots = [])
    else if (slots.length >= SLOTS_PER_CLIENT) slots.length = 0
    slots.push({ host: req.host, ingress: req.ingress, newConnection, plan: p })
    return p
  }
}
