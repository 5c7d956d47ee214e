// The anycast index must give exactly the answer of a full scan, for any point, down set and China opt-in.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createAnycastIndex, nearestByScan } from '../../src/core/anycast.ts'
import { loadTopology, createTopology } from '../../src/core/topology.ts'

const topology = loadTopology()
const n = topology.pops.length
const index = createAnycastIndex(topology)
const none = new Uint8Array(n)

const point = fc.record({
  lat: fc.double({ min: -90, max: 90, noNaN: true }),
  lon: fc.double({ min: -180, max: 180, noNaN: true })
})
// Points that stress cell edges, the poles and the antimeridian.
const edgePoint = fc.record({
  lat: fc.oneof(fc.constantFrom(-90, 90, 0, 89.999, -89.999, 2.5, -2.5), fc.double({ min: -90, max: 90, noNaN: true })),
  lon: fc.oneof(fc.constantFrom(-180, 180, 179.9999, -179.9999, 0, 2.5), fc.double({ min: -180, max: 180, noNaN: true }))
})
const downSet = fc.uint8Array({ min: 0, max: 1, minLength: n, maxLength: n })
// Sparse and dense failures: most PoPs up, or most PoPs down.
const biasedDown = fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }))
  .map(([rate, draws]) => Uint8Array.from(draws, (d) => (d < rate ? 1 : 0)))

describe('anycast index', () => {
  it.each([
    ['Paris', { lat: 48.85, lon: 2.35 }, 'CDG'],
    ['Frankfurt', { lat: 50.11, lon: 8.68 }, 'FRA'],
    ['Sydney', { lat: -33.87, lon: 151.21 }, 'SYD'],
    ['New York', { lat: 40.71, lon: -74.01 }, undefined]
  ] as const)('%s: same PoP as a full scan', (_name, at, expected) => {
    const got = index.nearest(at, none, false)
    expect(got).toBe(nearestByScan(topology, at, none, false))
    if (expected) expect(got?.id).toBe(expected)
  })

  it('matches a full scan everywhere, all PoPs up', () => {
    fc.assert(fc.property(edgePoint, fc.boolean(), (at, allowChina) => {
      expect(index.nearest(at, none, allowChina)).toBe(nearestByScan(topology, at, none, allowChina))
    }), { numRuns: 3000 })
  })

  it('matches a full scan with random down sets', () => {
    fc.assert(fc.property(point, downSet, fc.boolean(), (at, down, allowChina) => {
      expect(index.nearest(at, down, allowChina)).toBe(nearestByScan(topology, at, down, allowChina))
    }), { numRuns: 1000 })
  })

  it('matches a full scan when few or most PoPs are down', () => {
    fc.assert(fc.property(edgePoint, biasedDown, fc.boolean(), (at, down, allowChina) => {
      expect(index.nearest(at, down, allowChina)).toBe(nearestByScan(topology, at, down, allowChina))
    }), { numRuns: 1000 })
  })

  it('matches a full scan with coarse cells too', () => {
    const coarse = createAnycastIndex(topology, { cellDeg: 30 })
    fc.assert(fc.property(edgePoint, biasedDown, (at, down) => {
      expect(coarse.nearest(at, down, false)).toBe(nearestByScan(topology, at, down, false))
    }), { numRuns: 500 })
  })

  it('finds the PoP across the antimeridian', () => {
    const t = createTopology([
      { id: 'EST', city: 'East', country: 'FJ', continent: 'Oceania', lbRegion: 'OC', lat: 0, lon: 179.5 },
      { id: 'WST', city: 'West', country: 'WS', continent: 'Oceania', lbRegion: 'OC', lat: 0, lon: -170 }
    ])
    const idx = createAnycastIndex(t)
    expect(idx.nearest({ lat: 0, lon: -179.9 }, new Uint8Array(2), false)?.id).toBe('EST')
    expect(idx.nearest({ lat: 0, lon: 180 }, new Uint8Array(2), false)?.id).toBe('EST')
    expect(idx.nearest({ lat: 0, lon: -180 }, new Uint8Array(2), false)?.id).toBe('EST')
  })

  it('handles the poles and breaks ties by the lower index', () => {
    const t = createTopology([
      { id: 'AAA', city: 'A', country: 'NO', continent: 'Europe', lbRegion: 'WEU', lat: 80, lon: 0 },
      { id: 'BBB', city: 'B', country: 'RU', continent: 'Europe', lbRegion: 'EEU', lat: 80, lon: 180 },
      { id: 'CCC', city: 'C', country: 'AQ', continent: 'Antarctica', lbRegion: 'OC', lat: -80, lon: 0 }
    ])
    const idx = createAnycastIndex(t)
    const up = new Uint8Array(3)
    expect(idx.nearest({ lat: 90, lon: 123 }, up, false)?.id).toBe('AAA')
    expect(idx.nearest({ lat: 90, lon: 123 }, Uint8Array.of(1, 0, 0), false)?.id).toBe('BBB')
    expect(idx.nearest({ lat: -90, lon: 0 }, up, false)?.id).toBe('CCC')
  })

  it('skips China-network PoPs unless admitted, and returns undefined when everything is down', () => {
    const china = topology.pops.find((p) => p.network === 'china')
    if (china) {
      expect(index.nearest(china, none, true)).toBe(china)
      expect(index.nearest(china, none, false)?.network).toBe('global')
    }
    expect(index.nearest({ lat: 0, lon: 0 }, new Uint8Array(n).fill(1), true)).toBeUndefined()
    expect(index.nearest({ lat: Number.NaN, lon: 0 }, none, true)).toBeUndefined()
  })
})
