// Geometry on the sphere: great-circle distance, unit vectors and parsing of "lat,lon" strings.
import type { LatLon } from './types.ts'

/** Mean earth radius in km (IUGG R1 = (2a + b) / 3, WGS 84), the usual radius for a spherical earth model. */
export const EARTH_RADIUS_KM = 6371.0088

const RAD = Math.PI / 180

/** Great-circle distance in km by the haversine formula, which stays accurate for small distances (unlike the law of cosines). */
export function distanceKm (a: LatLon, b: LatLon): number {
  const dLat = (b.lat - a.lat) * RAD
  const dLon = (b.lon - a.lon) * RAD
  const s1 = Math.sin(dLat / 2)
  const s2 = Math.sin(dLon / 2)
  const h = s1 * s1 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * s2 * s2
  // min() guards against h creeping above 1 by rounding for antipodal points.
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(Math.min(1, h)))
}

/** A point as a 3D unit vector (x towards 0N 0E, z towards the north pole). */
export interface UnitVector {
  readonly x: number
  readonly y: number
  readonly z: number
}

export function toUnitVector (p: LatLon): UnitVector {
  const lat = p.lat * RAD
  const lon = p.lon * RAD
  const c = Math.cos(lat)
  return { x: c * Math.cos(lon), y: c * Math.sin(lon), z: Math.sin(lat) }
}

/** Central angle (radians) for a dot product of two unit vectors; clamped because rounding can leave [-1, 1]. */
export function angleFromDot (dot: number): number {
  return Math.acos(Math.max(-1, Math.min(1, dot)))
}

/** Great-circle distance in km between two unit vectors. */
export function distanceKmFromDot (dot: number): number {
  return angleFromDot(dot) * EARTH_RADIUS_KM
}

export function isValidLatLon (lat: number, lon: number): boolean {
  return Number.isFinite(lat) && Number.isFinite(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

// A decimal number: optional sign, digits with an optional fraction (or a bare fraction), no exponent, no hex.
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/

export type ParsedLatLon = { readonly ok: true, readonly value: LatLon } | { readonly ok: false, readonly reason: string }

/** Parses one coordinate in decimal degrees; returns the number, or a reason (a string) when invalid or out of range. */
export function parseDegrees (text: string, axis: 'latitude' | 'longitude'): number | string {
  const t = text.trim()
  if (!DECIMAL.test(t)) return `${axis} "${t}" is not a decimal number`
  const limit = axis === 'latitude' ? 90 : 180
  const v = Number(t)
  if (!(v >= -limit && v <= limit)) return `${axis} ${t} is outside -${limit}..${limit}`
  // Normalise -0 so that output and JSON are stable.
  return v + 0
}

/**
 * Parses `lat,lon` in decimal degrees (e.g. `48.85,2.35`, spaces allowed around the numbers), latitude first as in
 * ISO 6709. Returns a reason when the input is not of that form or out of range.
 */
export function parseLatLon (input: string): ParsedLatLon {
  const parts = input.split(',')
  if (parts.length !== 2) return { ok: false, reason: 'expected "lat,lon" with exactly one comma' }
  const lat = parseDegrees(parts[0]!, 'latitude')
  if (typeof lat === 'string') return { ok: false, reason: lat }
  const lon = parseDegrees(parts[1]!, 'longitude')
  if (typeof lon === 'string') return { ok: false, reason: lon }
  return { ok: true, value: { lat, lon } }
}

/** Looks like coordinates (a comma between things that start like numbers), so callers can pick a precise error. */
export function looksLikeLatLon (input: string): boolean {
  return /^\s*[+-]?[\d.]/.test(input) && input.includes(',')
}
