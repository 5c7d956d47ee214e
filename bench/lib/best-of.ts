// Per-hop costs from each variant's least disturbed trial. On a shared machine noise only ever adds time (another
// tenant's work, a slower moment of the host), so the cheapest of several trials is the closest reading of the code's
// own cost; when the ratios of these minimums agree with the ratios of the medians, the medians were not bent by
// noise. Also splits a chain's cost into its first hop and its second (two hops minus one): for residency-sim the
// second hop is the relay from the ingress to the inspection PoP, while the first also carries the work a request
// needs once (planning, inspection, its records).
import { round } from './stats.ts'

/** The variants every system is measured against, each on its own process (overhead scenario). */
export const DIRECT_SIM = 'direct (simulation process)'
export const DIRECT_PEERS = 'direct (peers process)'

/** What this reads of an overhead row: trial-by-trial process CPU per request and latency p50. */
export interface TrialRow {
  readonly variant: string
  readonly system: string
  readonly hops: number
  readonly latencyUs: { readonly p50Trials: readonly number[] }
  readonly cpu: { readonly usPerRequestTrials?: readonly number[] }
}

/** One system's cost added per hop, µs: the first hop, each of two, and the second alone. */
export interface HopCosts {
  readonly oneHop: number
  readonly twoHopsEach: number
  readonly secondHop: number
}

export interface BestOfSystem {
  readonly system: string
  readonly cpuUs: HopCosts
  readonly latencyUs: HopCosts
}

export interface BestOfRatio {
  readonly cpuTwoHopsEach: number
  readonly cpuSecondHop: number
  readonly latencyTwoHopsEach: number
  readonly latencySecondHop: number
}

export interface BestOfTrials {
  /** The fewest trials any variant used here had. */
  readonly trials: number
  readonly systems: readonly BestOfSystem[]
  /** residency-sim's costs as multiples of each peer's (lower is better); null for a peer not measured. */
  readonly ratios: { readonly vsPlain: BestOfRatio | null, readonly vsHttpProxy: BestOfRatio | null }
}

function best (xs: readonly number[] | undefined): number {
  const finite = (xs ?? []).filter((x) => Number.isFinite(x))
  return finite.length === 0 ? Number.NaN : Math.min(...finite)
}

function costs (direct: number, one: number, two: number): HopCosts {
  return { oneHop: round(one - direct, 1), twoHopsEach: round((two - direct) / 2, 1), secondHop: round(two - one, 1) }
}

/**
 * The cheapest trial of every variant, turned into per-hop costs the way the medians are (minus the direct path to
 * the system's own origin; nginx and the Node peers use the peers' origin). Null when there is no residency-sim chain
 * or no CPU time per trial (results written before it was measured).
 */
export function bestOfTrials (rows: readonly TrialRow[]): BestOfTrials | null {
  const systems: BestOfSystem[] = []
  let trials = Number.POSITIVE_INFINITY
  for (const system of ['residency-sim', 'plain', 'plain-buffered', 'http-proxy', 'nginx']) {
    const direct = rows.find((r) => r.variant === (system === 'residency-sim' ? DIRECT_SIM : DIRECT_PEERS))
    const one = rows.find((r) => r.system === system && r.hops === 1)
    const two = rows.find((r) => r.system === system && r.hops === 2)
    if (direct === undefined || one === undefined || two === undefined) continue
    const chain = [direct, one, two]
    const cpu = chain.map((r) => best(r.cpu.usPerRequestTrials))
    if (cpu.some((x) => !Number.isFinite(x))) continue
    const latency = chain.map((r) => best(r.latencyUs.p50Trials))
    trials = Math.min(trials, ...chain.map((r) => r.cpu.usPerRequestTrials?.length ?? 0))
    systems.push({ system, cpuUs: costs(cpu[0] as number, cpu[1] as number, cpu[2] as number), latencyUs: costs(latency[0] as number, latency[1] as number, latency[2] as number) })
  }
  const sim = systems.find((s) => s.system === 'residency-sim')
  if (sim === undefined) return null
  const against = (peer: string): BestOfRatio | null => {
    const p = systems.find((s) => s.system === peer)
    if (p === undefined) return null
    return {
      cpuTwoHopsEach: round(sim.cpuUs.twoHopsEach / p.cpuUs.twoHopsEach, 2),
      cpuSecondHop: round(sim.cpuUs.secondHop / p.cpuUs.secondHop, 2),
      latencyTwoHopsEach: round(sim.latencyUs.twoHopsEach / p.latencyUs.twoHopsEach, 2),
      latencySecondHop: round(sim.latencyUs.secondHop / p.latencyUs.secondHop, 2)
    }
  }
  return { trials, systems, ratios: { vsPlain: against('plain'), vsHttpProxy: against('http-proxy') } }
}
