// Great-circle geometry and "lat,lon" parsing.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { distanceKm, distanceKmFromDot, EARTH_RADIUS_KM, isValidLatLon, looksLikeLatLon, parseLatLon, toUnitVector } from '../../src/core/geo.ts'

const point = fc.record({
  lat: fc.double({ min: -90, max: 90, noNaN: true }),
  lon: fc.double({ min: -180, max: 180, noNaN: true })
})

describe('distanceKm', () => {
  // Reference distances from the haversine formula on a 6371.0088 km sphere, rounded to 1 km.
  it.each([
    ['London-Paris', { lat: 51.5074, lon: -0.1278 }, { lat: 48.8566, lon: 2.3522 }, 344],
    ['London-New York', { lat: 51.5074, lon: -0.1278 }, { lat: 40.7128, lon: -74.006 }, 5570],
    ['Sydney-Los Angeles', { lat: -33.8688, lon: 151.2093 }, { lat: 34.0522, lon: -118.2437 }, 12074],
    ['quarter of the equator', { lat: 0, lon: 0 }, { lat: 0, lon: 90 }, Math.round(Math.PI / 2 * EARTH_RADIUS_KM)],
    ['pole to pole', { lat: 90, lon: 0 }, { lat: -90, lon: 0 }, Math.round(Math.PI * EARTH_RADIUS_KM)],
    ['across the antimeridian', { lat: 0, lon: 179.5 }, { lat: 0, lon: -179.5 }, 111],
    ['antipodes', { lat: 10, lon: 20 }, { lat: -10, lon: -160 }, Math.round(Math.PI * EARTH_RADIUS_KM)]
  ])('%s', (_name, a, b, km) => {
    expect(Math.round(distanceKm(a, b))).toBe(km)
  })

  it('is symmetric, zero on itself, at most half the circumference, and agrees with the dot product', () => {
    fc.assert(fc.property(point, point, (a, b) => {
      const d = distanceKm(a, b)
      expect(d).toBeCloseTo(distanceKm(b, a), 6)
      expect(distanceKm(a, a)).toBe(0)
      expect(d).toBeLessThanOrEqual(Math.PI * EARTH_RADIUS_KM + 1e-6)
      const u = toUnitVector(a)
      const v = toUnitVector(b)
      // acos loses precision near 0 and pi; 1 m is plenty for what the dot product is used for.
      expect(Math.abs(distanceKmFromDot(u.x * v.x + u.y * v.y + u.z * v.z) - d)).toBeLessThan(1e-3)
    }))
  })
})

describe('parseLatLon', () => {
  it.each([
    ['48.85,2.35', 48.85, 2.35],
    [' -33.87 , 151.21 ', -33.87, 151.21],
    ['+1,-2', 1, -2],
    ['.5,5.', 0.5, 5],
    ['90,180', 90, 180],
    ['-90,-180', -90, -180],
    ['-0,0', 0, 0]
  ])('%j -> %d,%d', (input, lat, lon) => {
    expect(parseLatLon(input)).toEqual({ ok: true, value: { lat, lon } })
  })

  it.each([
    ['48.85', /exactly one comma/],
    ['1,2,3', /exactly one comma/],
    [',2', /latitude "" is not a decimal number/],
    ['1,', /longitude "" is not a decimal number/],
    ['1e1,2', /not a decimal/],
    ['0x10,2', /not a decimal/],
    ['NaN,2', /not a decimal/],
    ['Infinity,2', /not a decimal/],
    ['90.0001,0', /latitude 90.0001 is outside -90..90/],
    ['0,-180.5', /longitude -180.5 is outside -180..180/]
  ])('%j is refused: %s', (input, reason) => {
    const got = parseLatLon(input)
    expect(got.ok).toBe(false)
    if (!got.ok) expect(got.reason).toMatch(reason)
  })

  it('round-trips any valid point', () => {
    fc.assert(fc.property(point, ({ lat, lon }) => {
      const got = parseLatLon(`${lat},${lon}`)
      // Tiny doubles print in exponent form, which is refused on purpose; everything else round-trips.
      if (/e/.test(`${lat}${lon}`)) return
      expect(got).toEqual({ ok: true, value: { lat: lat + 0, lon: lon + 0 } })
    }))
  })

  it.each([
    ['48.85,2.35', true], ['-1,2', true], ['FRA', false], ['::1', false], ['1.2.3.4', false]
  ])('looksLikeLatLon(%j) is %s', (input, expected) => {
    expect(looksLikeLatLon(input)).toBe(expected)
  })

  it.each([[0, 0, true], [91, 0, false], [0, 181, false], [Number.NaN, 0, false]])('isValidLatLon(%d, %d) is %s', (lat, lon, ok) => {
    expect(isValidLatLon(lat, lon)).toBe(ok)
  })
})
