// Selection strategies: which healthy in-region PoP inspects a request relayed from an out-of-region ingress.
// Every strategy returns one of the candidates it is given (the contract suite in test/unit checks it), so the choice
// of strategy can never move plaintext outside the region.
import type { Customer, Pop, SelectionContext, SelectionStrategy, StrategyName, World } from './types.ts'

/** Nearest to the ingress by modelled round trip: the shortest relay of ciphertext. Ties go to the lower index. */
export const nearest: SelectionStrategy = function nearestToIngress (ctx) {
  const { latency } = ctx.world
  const from = ctx.ingress.index
  let best = ctx.candidates[0] as Pop
  let bestRtt = latency.popRttMs(from, best.index)
  for (let i = 1; i < ctx.candidates.length; i++) {
    const c = ctx.candidates[i] as Pop
    const rtt = latency.popRttMs(from, c.index)
    if (rtt < bestRtt) { best = c; bestRtt = rtt }
  }
  return best
}

// Round trips from every PoP to a customer's origin, computed once per customer (the origin does not move).
const originRtts = new WeakMap<Customer, Float64Array>()

export function originRttFrom (world: World, customer: Customer, popIndex: number): number {
  let table = originRtts.get(customer)
  if (!table) {
    table = new Float64Array(world.topology.pops.length)
    for (const pop of world.topology.pops) table[pop.index] = world.latency.rttMs(pop, customer.origin)
    originRtts.set(customer, table)
  }
  return table[popIndex] as number
}

/** Least total path: ingress -> inspection -> origin, so a far origin pulls inspection towards it. */
export const leastTotal: SelectionStrategy = function leastTotalPath (ctx) {
  const { world, customer } = ctx
  const from = ctx.ingress.index
  let best = ctx.candidates[0] as Pop
  let bestCost = Infinity
  for (const c of ctx.candidates) {
    const cost = world.latency.popRttMs(from, c.index) + originRttFrom(world, customer, c.index)
    if (cost < bestCost) { best = c; bestCost = cost }
  }
  return best
}

/** Milliseconds of score a fully loaded PoP costs; the penalty grows as load / (1 - load), like queueing delay. */
export const LOAD_WEIGHT_MS = 20

/**
 * Load-aware: round trip plus a queueing penalty for utilisation, in the spirit of Regional Services' score of
 * available connections, latency and load (developers.cloudflare.com/data-localization/regional-services/).
 */
export const loadAware: SelectionStrategy = function loadAwareScore (ctx) {
  const { latency, health } = ctx.world
  const from = ctx.ingress.index
  let best = ctx.candidates[0] as Pop
  let bestScore = Infinity
  for (const c of ctx.candidates) {
    const load = Math.min(Math.max(health.load[c.index] ?? 0, 0), 0.99)
    const score = latency.popRttMs(from, c.index) + LOAD_WEIGHT_MS * load / (1 - load)
    if (score < bestScore) { best = c; bestScore = score }
  }
  return best
}

export const STRATEGIES: Readonly<Record<StrategyName, SelectionStrategy>> = Object.freeze({
  nearest,
  'least-total': leastTotal,
  'load-aware': loadAware
})

export const STRATEGY_NAMES = Object.keys(STRATEGIES) as StrategyName[]

export type { SelectionContext }
