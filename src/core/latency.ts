// The latency model: round trip between two points as a function of great-circle distance, calibrated on measured
// internet round trips (docs/latency-model.md), the precomputed PoP-to-PoP matrix, seeded jitter for callers, and the
// tolerance within which a measured response keeps to its modelled time.
import { distanceKm } from './geo.ts'
import type { LatLon, LatencyModel, LatencyParams, Topology } from './types.ts'

/** Light in fibre, km per ms one way: c / n with a group index n ~1.468 (ITU-T G.652 fibre), ~4.9 us per km. */
export const FIBRE_KM_PER_MS = 204

/**
 * Fixed round-trip cost independent of distance (serialisation, switching and the first router hops at both ends),
 * so that two points in the same city are ~1-1.5 ms apart, not 0, as pings inside one metro area measure.
 */
export const FIXED_RTT_MS = 1

/**
 * Median path stretch (measured average RTT / fibre RTT of the great-circle distance) by distance band, from
 * WonderNetwork's pings between ~250 cities, July 2020 (shared data README). Each band's median is placed at a
 * representative distance: the geometric middle of its bounds (250 km for the first band, 8000*sqrt(2) for the last).
 */
export const STRETCH_ANCHORS: ReadonlyArray<{ readonly km: number, readonly stretch: number }> = Object.freeze([
  { km: 250, stretch: 4.6 },
  { km: 866, stretch: 3.2 },
  { km: 2449, stretch: 2.5 },
  { km: 5657, stretch: 1.9 },
  { km: 11314, stretch: 1.8 }
])

/**
 * The band medians describe all city pairs, including poorly connected ones; PoPs sit in well-connected cities at
 * internet exchanges, whose measured pairs (London-Frankfurt, London-New York, ...) run at 0.6-0.8 of their band's
 * median. This one factor, fitted on those pairs (docs/latency-model.md), scales the whole curve.
 */
export const HUB_FACTOR = 0.75

const LOG_KM = STRETCH_ANCHORS.map((a) => Math.log(a.km))

/**
 * Path stretch at a great-circle distance: piecewise-linear in log(distance) between the band anchors, constant
 * beyond the first and last, so the modelled RTT has no jumps at band edges.
 */
export function bandStretch (km: number): number {
  const first = STRETCH_ANCHORS[0]!
  const last = STRETCH_ANCHORS[STRETCH_ANCHORS.length - 1]!
  if (!(km > first.km)) return first.stretch
  if (km >= last.km) return last.stretch
  const x = Math.log(km)
  let i = 1
  while (LOG_KM[i]! < x) i++
  const a = STRETCH_ANCHORS[i - 1]!
  const b = STRETCH_ANCHORS[i]!
  const t = (x - LOG_KM[i - 1]!) / (LOG_KM[i]! - LOG_KM[i - 1]!)
  return a.stretch + t * (b.stretch - a.stretch)
}

/** The stretch the model applies: the band curve scaled to well-connected cities. */
export function pathStretch (km: number): number {
  return HUB_FACTOR * bandStretch(km)
}

/** Modelled round trip (ms) for a great-circle distance: fixed cost + stretched fibre round trip. */
export function rttForDistanceMs (km: number): number {
  return FIXED_RTT_MS + pathStretch(km) * (2 * km) / FIBRE_KM_PER_MS
}

/** Pure path RTT between two points (no access latency, processing or jitter). */
export function pathRttMs (a: LatLon, b: LatLon): number {
  return rttForDistanceMs(distanceKm(a, b))
}

/**
 * Builds the model for a topology: the PoP-to-PoP matrix (n x n, row-major) is computed once here, so planners read
 * it in O(1). Access latency and per-hop processing are parameters the planner adds; they are not part of rttMs.
 */
export function createLatencyModel (topology: Topology, params: LatencyParams): LatencyModel {
  const pops = topology.pops
  const n = pops.length
  const matrix = new Float64Array(n * n)
  for (let i = 0; i < n; i++) {
    const a = pops[i]!
    for (let j = i; j < n; j++) {
      const v = i === j ? FIXED_RTT_MS : pathRttMs(a, pops[j]!)
      matrix[i * n + j] = v
      matrix[j * n + i] = v
    }
  }
  return Object.freeze({
    params: Object.freeze({ ...params }),
    rttMs: pathRttMs,
    popRttMs (a: number, b: number): number {
      return matrix[a * n + b]!
    }
  })
}

/**
 * Mulberry32: a tiny, fast 32-bit seeded PRNG (Tommy Ettinger's, public domain), good enough for jitter and
 * reproducible runs; not for cryptography. Returns numbers in [0, 1).
 */
export function mulberry32 (seed: number): () => number {
  let s = seed >>> 0
  return function next (): number {
    s = (s + 0x6D2B79F5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Applies jitter to a round trip: uniform in [-jitter, +jitter] as a fraction of it, never below zero. `jitter` 0
 * returns the input unchanged without drawing from the generator, so runs without jitter stay reproducible.
 */
export function jittered (rtt: number, jitter: number, rng: () => number): number {
  if (!(jitter > 0)) return rtt
  return Math.max(0, rtt * (1 + jitter * (2 * rng() - 1)))
}

/** A response is late when it leaves more than this many ms after its modelled time... */
export const LATE_MIN_MS = 1
/** ...and more than this fraction of its modelled (wall-clock) time: the benchmarks' criterion, per request. */
export const LATE_FRACTION = 0.05

/**
 * Whether a response that left `lateMs` after a modelled wall-clock total of `modelledWallMs` breaks the tolerance
 * within which the simulation counts as keeping to its model (its own fidelity monitor and the benchmarks' criterion).
 */
export function isLate (lateMs: number, modelledWallMs: number): boolean {
  return lateMs > LATE_MIN_MS && lateMs > LATE_FRACTION * modelledWallMs
}
