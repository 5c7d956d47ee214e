// The teaching page's base map: land and country borders from Natural Earth's 1:110m data (public domain), as the
// world-atlas package ships it in TopoJSON, projected once to the page's equirectangular map units (x = longitude +
// 180, y = 90 - latitude) and written as SVG path data, so the browser draws two paths and fetches nothing elsewhere.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { feature, mesh } from 'topojson-client'
import type { GeometryCollection, Topology } from 'topojson-specification'

export interface Basemap {
  /** Where the shapes come from, for the page's credit line. */
  readonly source: string
  /** SVG path data of every land polygon, in map units. */
  readonly land: string
  /** SVG path data of the borders between countries (coastlines excluded), in map units. */
  readonly borders: string
}

export const BASEMAP_SOURCE = 'Natural Earth 1:110m (public domain), via world-atlas'

type Position = readonly number[]

/** Map units to two decimals: about 1 km on the ground, far finer than 1:110m, and half the bytes of full floats. */
function coord (p: Position): string {
  const x = Math.round(((p[0] as number) + 180) * 100) / 100
  const y = Math.round((90 - (p[1] as number)) * 100) / 100
  return `${x},${y}`
}

/**
 * Path data for lines of positions ([lon, lat]). A step of more than 180 degrees of longitude crosses the
 * antimeridian: it starts a new subpath instead of drawing a line across the whole map.
 */
export function pathData (lines: readonly (readonly Position[])[], closed: boolean): string {
  let d = ''
  for (const line of lines) {
    let prev: Position | undefined
    let open = false
    for (const p of line) {
      const jump = prev !== undefined && Math.abs((p[0] as number) - (prev[0] as number)) > 180
      d += (prev === undefined || jump) ? `M${coord(p)}` : `L${coord(p)}`
      open = true
      prev = p
    }
    if (closed && open) d += 'Z'
  }
  return d
}

function polygonsOf (geometry: GeoJSON.Geometry | null): Position[][] {
  if (geometry === null) return []
  if (geometry.type === 'Polygon') return geometry.coordinates
  if (geometry.type === 'MultiPolygon') return geometry.coordinates.flat()
  return []
}

/** Projects a world-atlas topology (objects `countries` and `land`). */
export function buildBasemap (topology: Topology): Basemap {
  const land = topology.objects.land as GeometryCollection | undefined
  const countries = topology.objects.countries as GeometryCollection | undefined
  if (land === undefined || countries === undefined) throw new Error('world-atlas topology without land or countries')
  const rings = feature(topology, land).features.flatMap((f) => polygonsOf(f.geometry))
  // Arcs shared by two different countries: borders, without the coastlines the land fill already shows.
  const borders = mesh(topology, countries, (a, b) => a !== b)
  return { source: BASEMAP_SOURCE, land: pathData(rings, true), borders: pathData(borders.coordinates, false) }
}

let cached: Basemap | undefined

/** The base map from the installed world-atlas package, read and projected on first use. */
export function loadBasemap (): Basemap {
  if (cached === undefined) {
    const file = createRequire(import.meta.url).resolve('world-atlas/countries-110m.json')
    cached = buildBasemap(JSON.parse(readFileSync(file, 'utf8')) as Topology)
  }
  return cached
}
