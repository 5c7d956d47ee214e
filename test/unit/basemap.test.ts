// The base map's projection to the page's map units, on hand-made shapes and on the world-atlas data itself.
import { describe, expect, it } from 'vitest'
import type { Topology } from 'topojson-specification'
import { buildBasemap, loadBasemap, pathData } from '../../src/services/control/basemap.ts'

/** Subpaths of path data as lists of [x, y]. */
function subpaths (d: string): number[][][] {
  return d.split('M').filter((s) => s !== '').map((s) => [...s.matchAll(/(-?[\d.]+),(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]))
}

describe('base map path data', () => {
  it('projects [lon, lat] to x = lon + 180, y = 90 - lat, two decimals', () => {
    expect(pathData([[[8.6821, 50.1109], [13.405, 52.52]]], false)).toBe('M188.68,39.89L193.41,37.48')
  })

  it('closes polygon rings and leaves lines open', () => {
    const ring = [[0, 0], [10, 0], [10, 10], [0, 0]]
    expect(pathData([ring, ring], true)).toBe('M180,90L190,90L190,80L180,90ZM180,90L190,90L190,80L180,90Z')
    expect(pathData([ring], false)).not.toContain('Z')
  })

  it('starts a new subpath where a line crosses the antimeridian instead of drawing across the map', () => {
    const d = pathData([[[178, 65], [179.9, 66], [-179.9, 66], [-178, 65]]], false)
    expect(d).toBe('M358,25L359.9,24M0.1,24L2,25')
  })

  it('builds land and inner borders from a topology: a shared arc is a border, an outer one is coast only', () => {
    // Two squares side by side sharing the arc at lon 10 (arcs are absolute: no transform).
    const topology = {
      type: 'Topology',
      arcs: [
        [[10, 0], [10, 10]], // shared
        [[10, 10], [0, 10], [0, 0], [10, 0]], // west coast
        [[10, 0], [20, 0], [20, 10], [10, 10]] // east coast
      ],
      objects: {
        countries: {
          type: 'GeometryCollection',
          geometries: [
            { type: 'Polygon', arcs: [[0, 1]] },
            { type: 'Polygon', arcs: [[2, ~0]] }
          ]
        },
        land: { type: 'GeometryCollection', geometries: [{ type: 'Polygon', arcs: [[2, 1]] }] }
      }
    } as unknown as Topology
    const map = buildBasemap(topology)
    expect(subpaths(map.borders)).toEqual([[[190, 90], [190, 80]]])
    expect(subpaths(map.land)).toHaveLength(1)
    expect(map.land.endsWith('Z')).toBe(true)
  })

  it('projects the installed Natural Earth data with no line across the map', () => {
    const map = loadBasemap()
    const land = subpaths(map.land)
    expect(land.length).toBeGreaterThan(100)
    for (const sp of [...land, ...subpaths(map.borders)]) {
      for (let i = 1; i < sp.length; i++) expect(Math.abs((sp[i] as number[])[0] as number - ((sp[i - 1] as number[])[0] as number))).toBeLessThan(180)
    }
    expect(loadBasemap()).toBe(map)
  })
})
