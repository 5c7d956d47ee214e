// Plans repeat: every request from the same client location to the same host, through the same ingress and with the
// same health, gets the same plan, and the live simulation plans twice per request (at the anycast edge and at the
// ingress). The memo hands back the plan it computed before, the same frozen object, so a request neither recomputes
// nor allocates one, and the records that keep it (the control plane's ledger) share it instead of each holding a
// copy that the garbage collector has to carry. Exact: every input of plan() is in the key, and the world's health
// is compared with a snapshot on every call, so a change made anywhere (a PoP down, a load set) is seen at once.
import type { Plan, PlanRequest, World } from './types.ts'

export type Planner = (req: PlanRequest, world: World) => Plan

export interface PlanMemoOptions {
  /** Distinct requests remembered; past it the oldest is forgotten. Default 4096. */
  readonly maxEntries?: number
}

/** Freezes a plan and everything in it: a shared plan must never be changed by one of its users. */
function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value as object)) deepFreeze(v)
  }
  return value
}

/** The request's identity for planning: free-text fields are length-prefixed, so no two requests share a key. */
function keyOf (req: PlanRequest): string {
  const c = req.client
  // An empty country is not an absent one: the plan keeps the field.
  const country = c.country === undefined ? '-' : `${c.country.length}:${c.country}`
  return `${req.newConnection === false ? 0 : 1}|${req.ingress ?? ''}|${c.lat}|${c.lon}|${country}|${req.host.length}:${req.host}|${c.input}`
}

export function memoisePlanner (planner: Planner, opts: PlanMemoOptions = {}): Planner {
  const maxEntries = opts.maxEntries ?? 4096
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be an integer >= 1, got ${maxEntries}`)
  const cache = new Map<string, Plan>()
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
    }
    const key = keyOf(req)
    let p = cache.get(key)
    if (p === undefined) {
      p = deepFreeze(planner(req, w))
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string)
      cache.set(key, p)
    }
    return p
  }
}
