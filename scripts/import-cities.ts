// Regenerates regions/cities.json, the world cities a client may be located by (src/core/places.ts), from the
// city-timezones package (MIT; a devDependency) whose data/cityMap.json lists 7,329 cities with their coordinates,
// country, province and population. Rows are kept whole and in the package's order; coordinates are rounded to four
// decimals (about 11 m) and populations to whole people (an unknown one, -99 in the data, is 0).
// Usage: node scripts/import-cities.ts [--check]   (--check: exit 1 when regions/cities.json is not what it makes)
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

interface Row {
  city: string
  city_ascii: string
  lat: number
  lng: number
  pop: number
  iso2: string | number
  country: string
  iso3: string
  province: string
  state_ansi?: string
}

const require = createRequire(import.meta.url)
const version = (require('city-timezones/package.json') as { version: string }).version
const rows = require('city-timezones/data/cityMap.json') as Row[]
const out = new URL('../regions/cities.json', import.meta.url)

// The data has no alpha-2 code (empty or -99, Natural Earth's "none") for two places: Kosovo takes XK, the code in
// common use (regions/pops.json has none), and Somaliland SO, the country ISO 3166 counts it in.
const NO_CODE: Record<string, string> = { KOS: 'XK', SOL: 'SO' }
function countryOf (r: Row): string {
  if (typeof r.iso2 === 'string' && /^[A-Z]{2}$/.test(r.iso2)) return r.iso2
  const code = NO_CODE[r.iso3]
  if (code === undefined) throw new Error(`${r.city}: no country code (${String(r.iso2)}, ${r.iso3})`)
  return code
}

// A US state code for US cities only (the data gives one to Montana, Bulgaria, too).
const stateOf = (r: Row): string => (countryOf(r) === 'US' ? r.state_ansi ?? '' : '')

const round = (v: number): number => Math.round(v * 1e4) / 1e4
const lines = rows.map((r) => JSON.stringify([
  r.city, r.city_ascii === r.city ? '' : r.city_ascii, round(r.lat), round(r.lng), countryOf(r), r.country, r.province ?? '', stateOf(r), Math.max(0, Math.round(r.pop))
]))
const text = '{\n' +
  `"source": "city-timezones ${version} (MIT), data/cityMap.json, by scripts/import-cities.ts",\n` +
  '"columns": ["city", "asciiName", "lat", "lon", "country", "countryName", "province", "usState", "population"],\n' +
  '"cities": [\n' + lines.join(',\n') + '\n]\n}\n'

if (process.argv.includes('--check')) {
  let current = ''
  try { current = readFileSync(out, 'utf8') } catch { /* missing: differs */ }
  if (current !== text) {
    console.error('regions/cities.json is not what scripts/import-cities.ts makes; run: node scripts/import-cities.ts')
    process.exit(1)
  }
} else {
  writeFileSync(out, text)
  console.log(`regions/cities.json: ${rows.length} cities from city-timezones ${version}`)
}
