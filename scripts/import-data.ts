// Regenerates regions/*.json from the public reference data (see regions/README.md for sources and licences).
// Usage: node scripts/import-data.ts <path to the reference data folder>
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const src = process.argv[2]
if (!src) {
  console.error('usage: node scripts/import-data.ts <reference data folder>')
  process.exit(2)
}
const out = new URL('../regions/', import.meta.url).pathname

interface Colo { iata: string, city: string, country: string, cca2: string, region: string, cf_lb_region: string, lat: number, lon: number }
const colos = JSON.parse(readFileSync(join(src, 'cloudflare-colos.json'), 'utf8')) as Record<string, Colo>

// US PoPs carry their state in the city name ("Austin, TX"); these four do not.
const US_STATE_FIXUPS: Record<string, string> = { BNA: 'TN', CVG: 'OH', PHL: 'PA', SJU: 'PR' }
// Assumption (no public list): the PoPs flagged as highest-security facilities, used by Geo Key Manager v1
// `highest_security` and the `highest-security` region.
const HIGHEST_SECURITY = ['ATL', 'DFW', 'EWR', 'IAD', 'LAX', 'MIA', 'ORD', 'SEA', 'SJC', 'AMS', 'CDG', 'FRA', 'LHR', 'HKG', 'NRT', 'SIN', 'SYD']

const pops = Object.values(colos).sort((a, b) => a.iata.localeCompare(b.iata)).map((c) => {
  const pop: Record<string, unknown> = {
    id: c.iata,
    city: c.city,
    country: c.cca2,
    continent: c.region,
    lbRegion: c.cf_lb_region,
    lat: c.lat,
    lon: c.lon
  }
  if (c.cca2 === 'US') {
    const m = / ([A-Z]{2})$/.exec(c.city)
    const state = m?.[1] ?? US_STATE_FIXUPS[c.iata]
    if (!state) throw new Error(`no US state for ${c.iata} (${c.city})`)
    pop.usState = state
  }
  if (HIGHEST_SECURITY.includes(c.iata)) pop.highestSecurity = true
  if (c.cca2 === 'CN') pop.network = 'china'
  return pop
})
writeFileSync(join(out, 'pops.json'), JSON.stringify({
  source: 'github.com/troymjones/cloudflare-colo-list DC-Colos.json at ff067e8a (2026-08-20), MIT; derived fields: usState, highestSecurity (assumption), network',
  pops
}, null, 1) + '\n')

const lb = JSON.parse(readFileSync(join(src, 'cloudflare-lb-regions.json'), 'utf8')) as { regions: { region_code: string, countries: { country_code_a2: string }[] }[] }
const lbCountries = (code: string): string[] => {
  const r = lb.regions.find((x) => x.region_code === code)
  if (!r) throw new Error(`unknown load-balancer region ${code}`)
  return r.countries.map((c) => c.country_code_a2)
}
const rs = JSON.parse(readFileSync(join(src, 'regional-services-regions.json'), 'utf8')) as { eu27: string[], regions: { name: string, kind: string, include?: string[], exclude?: string[], note?: string }[] }

const ASSUMED: Record<string, { id: string, pops: string[] }> = {
  'FedRAMP Moderate Compliant (Domestic)': { id: 'fedramp-domestic', pops: ['ATL', 'DEN', 'DFW', 'EWR', 'IAD', 'LAX', 'MIA', 'ORD', 'SEA', 'SJC'] },
  'FedRAMP Moderate Compliant (International)': { id: 'fedramp-international', pops: ['ATL', 'DEN', 'DFW', 'EWR', 'IAD', 'LAX', 'MIA', 'ORD', 'SEA', 'SJC', 'AMS', 'FRA', 'LHR', 'NRT', 'SIN', 'SYD'] },
  'ISO 27001 Certified European Union': { id: 'iso27001-eu', pops: ['AMS', 'ARN', 'BRU', 'CDG', 'CPH', 'DUB', 'FRA', 'HEL', 'LIS', 'MAD', 'MXP', 'PRG', 'VIE', 'WAW'] },
  'IRAP Protected': { id: 'irap', pops: ['ADL', 'BNE', 'CBR', 'MEL', 'PER', 'SYD', 'AKL', 'SIN'] },
  'Cloudflare Green Energy': { id: 'green-energy', pops: ['AMS', 'ARN', 'CPH', 'FRA', 'HEL', 'LHR', 'OSL', 'SEA', 'YUL', 'ZRH'] }
}
const ID_BY_NAME: Record<string, string> = {
  'European Union': 'eu',
  NATO: 'nato',
  'Exclusive of Hong Kong and Macau': 'ex-hk-mo',
  'Exclusive of Russia and Belarus': 'ex-ru-by'
}
const regions = rs.regions.map((r) => {
  if (r.kind === 'country') return { id: r.include![0]!.toLowerCase(), name: r.name.replace(/^United States of America$/, 'United States'), kind: 'country', countries: r.include }
  if (r.kind === 'us-state') return { id: r.include![0]!.toLowerCase(), name: r.name, kind: 'us-state', usStates: r.include!.map((s) => s.slice(3)) }
  if (r.kind === 'group') return { id: ID_BY_NAME[r.name], name: r.name, kind: 'group', countries: r.include }
  if (r.kind === 'exclusion') return { id: ID_BY_NAME[r.name], name: r.name, kind: 'exclusion', excludeCountries: r.exclude }
  const a = ASSUMED[r.name]
  if (!a) throw new Error(`no definition for ${r.name}`)
  for (const id of a.pops) if (!pops.some((p) => p.id === id)) throw new Error(`unknown PoP ${id} in ${r.name}`)
  return { id: a.id, name: r.name, kind: r.kind, pops: a.pops, assumption: `${r.note ?? 'membership not public'}; this PoP list is an assumption of residency-sim` }
})
regions.push({ id: 'highest-security', name: 'Highest security data centres', kind: 'certification', pops: HIGHEST_SECURITY, assumption: 'Geo Key Manager v1 highest_security; membership not public; this PoP list is an assumption of residency-sim' })
writeFileSync(join(out, 'regions.json'), JSON.stringify({
  source: 'developers.cloudflare.com/data-localization/regions-by-setting and region-support; EU-27 and NATO from public membership lists',
  regions
}, null, 1) + '\n')

// Geo Key Manager v2 region codes. A PoP belongs to one when its load-balancer region is listed (US and Canada span
// ENAM and WNAM, so countries alone cannot decide); EU is decided by the PoP's country (EU-27).
const GKM_LB: Record<string, string[]> = { AFR: ['NAF', 'SAF'], APAC: ['SAS', 'SEAS', 'NEAS'], EEUR: ['EEU'], ENAM: ['ENAM'], EU: [], ME: ['ME'], OC: ['OC'], SAM: ['NSAM', 'SSAM'], WEUR: ['WEU'], WNAM: ['WNAM'] }
const gkmCountries = {
  AFR: [...lbCountries('NAF'), ...lbCountries('SAF')],
  APAC: [...lbCountries('SAS'), ...lbCountries('SEAS'), ...lbCountries('NEAS')],
  EEUR: lbCountries('EEU'),
  ENAM: lbCountries('ENAM'),
  EU: rs.eu27,
  ME: lbCountries('ME'),
  OC: lbCountries('OC'),
  SAM: [...lbCountries('NSAM'), ...lbCountries('SSAM')],
  WEUR: lbCountries('WEU'),
  WNAM: lbCountries('WNAM')
}
writeFileSync(join(out, 'key-regions.json'), JSON.stringify({
  source: 'Geo Key Manager v2 region codes (developers.cloudflare.com/ssl/edge-certificates/geokey-manager/); countries from the load-balancer regions of github.com/troymjones/cloudflare-colo-list regions.json (MIT), EU from EU-27 membership',
  regions: Object.fromEntries(Object.entries(gkmCountries).map(([code, countries]) => [code, { lbRegions: GKM_LB[code], countries: code === 'EU' ? countries : [] }]))
}, null, 1) + '\n')
console.log(`wrote ${pops.length} PoPs, ${regions.length} regions, ${Object.keys(gkmCountries).length} key regions to ${out}`)
