// Client location: turns what a user or a request gives (PoP IATA code, a city, "lat,lon" or an IP address) into a
// point.
import { distance } from 'fastest-levenshtein'
import type { ErrorCode } from './errors.ts'
import { distanceKm, parseLatLon } from './geo.ts'
import { cityAliases, cityKey, largeCities, nameOf, placeLabel, placeNamed, placesNamed, type Place } from './places.ts'
import { loadTopology } from './topology.ts'
import type { ClientLocation, IpLocator, Pop, Topology } from './types.ts'

export interface ClientLocationError {
  readonly error: ErrorCode
  readonly args: string[]
}

/** True for dotted-decimal IPv4 with no leading zeros (RFC 6943 section 3.1.1: leading zeros are ambiguous, octal). */
export function isIPv4 (s: string): boolean {
  const parts = s.split('.')
  if (parts.length !== 4) return false
  for (const p of parts) {
    if (p.length === 0 || p.length > 3) return false
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i)
      if (c < 48 || c > 57) return false
    }
    if (p.length > 1 && p[0] === '0') return false
    if (Number(p) > 255) return false
  }
  return true
}

function isHexGroup (g: string): boolean {
  return /^[0-9a-fA-F]{1,4}$/.test(g)
}

/**
 * True for an IPv6 address in the text forms of RFC 4291 section 2.2 (full, `::`-compressed, and with a trailing
 * dotted IPv4), optionally followed by a zone index (RFC 4007 section 11, `fe80::1%eth0`). Written here because
 * src/core cannot import node:net; the tests check it agrees with node's `net.isIPv6`.
 */
export function isIPv6 (s: string): boolean {
  const zone = s.indexOf('%')
  if (zone !== -1) {
    if (!/^[0-9a-zA-Z\-.:]+$/.test(s.slice(zone + 1))) return false
    s = s.slice(0, zone)
  }
  if (s.length < 2) return false
  const compressed = s.indexOf('::')
  if (compressed !== -1 && s.indexOf('::', compressed + 1) !== -1) return false
  const groupsOf = (part: string): string[] => (part === '' ? [] : part.split(':'))
  const head = compressed === -1 ? groupsOf(s) : groupsOf(s.slice(0, compressed))
  const tail = compressed === -1 ? [] : groupsOf(s.slice(compressed + 2))
  const all = [...head, ...tail]
  // A dotted IPv4 may only end the address (not precede a trailing `::`), and counts for two groups.
  const v4At = compressed === -1 || tail.length > 0 ? all.length - 1 : -1
  let count = 0
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!
    if (i === v4At && g.includes('.')) {
      if (!isIPv4(g)) return false
      count += 2
    } else if (isHexGroup(g)) {
      count += 1
    } else {
      return false
    }
  }
  // `::` stands for at least one group of zeros.
  return compressed === -1 ? count === 8 : count <= 7
}

/** 4, 6 or 0, like node's net.isIP. */
export function ipVersion (s: string): 0 | 4 | 6 {
  if (isIPv4(s)) return 4
  if (isIPv6(s)) return 6
  return 0
}

const HINT = 'expected a PoP IATA code such as FRA, a city such as "Sao Paulo" or "Portland, ME", "lat,lon" such as 48.85,2.35, or an IPv4/IPv6 address'

export { cityKey }

const cityIndexes = new WeakMap<Topology, Map<string, readonly Pop[]>>()

/**
 * The PoPs of a topology in the city named: by the city as the PoP list spells it ("San Jose, CA"), by the name
 * before its comma ("San Jose", which two PoPs share), or by that name and the PoP's country ("San Jose, CR"). Empty
 * when no PoP is there.
 */
export function popsInCity (name: string, topology: Topology): readonly Pop[] {
  let index = cityIndexes.get(topology)
  if (index === undefined) {
    index = new Map()
    for (const pop of topology.pops) {
      const short = cityKey(pop.city.split(',')[0] as string)
      const keys = new Set([cityKey(pop.city), short, cityKey(`${short}, ${pop.country}`)])
      for (const k of keys) index.set(k, [...(index.get(k) ?? []), pop])
    }
    cityIndexes.set(topology, index)
  }
  return index.get(cityKey(name)) ?? []
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * A name sent in UTF-8 in an HTTP header, which Node reads byte by byte as Latin-1 ("SÃ£o Paulo"), as the UTF-8 it
 * was; undefined when it is not such a name.
 */
function asUtf8 (text: string): string | undefined {
  if (!/[\x80-\xff]/.test(text) || /[^\x00-\xff]/.test(text)) return undefined
  try {
    return UTF8.decode(Uint8Array.from(text, (c) => c.charCodeAt(0)))
  } catch {
    return undefined
  }
}

/** Cities of at least this many people are offered for a misspelt name whatever its first letter. */
const SUGGESTED_POPULATION = 500_000

/** A name a misspelling may be of: `name` as one would write it, `label` as suggested (the shortest that finds it). */
interface Candidate { readonly key: string, readonly name: string, readonly label: string, readonly population: number }
interface Suggestible { readonly list: readonly Candidate[], readonly popKeys: ReadonlySet<string> }

const suggestions = new WeakMap<Topology, Suggestible>()

/** A city of the data, or one of its aliases ("Kiev"), as a suggestion: by its name alone when that finds it. */
function candidateOf (place: Place, alias?: string): Candidate {
  if (alias === undefined) {
    const name = place.name.split(',')[0] as string
    return { key: cityKey(name), name, label: nameOf(place), population: place.population }
  }
  const alone = placeNamed(alias) === place
  return { key: cityKey(alias), name: alias, label: alone ? alias : `${alias}, ${place.country}`, population: place.population }
}

/** The names a misspelling is compared with, keyed once per topology: its PoPs' cities, then large cities. */
function suggestible (topology: Topology): Suggestible {
  let s = suggestions.get(topology)
  if (s === undefined) {
    const list: Candidate[] = []
    const popKeys = new Set<string>()
    for (const pop of topology.pops) {
      const city = pop.city.split(',')[0] as string
      list.push({ key: cityKey(city), name: city, label: `${city} (${pop.id})`, population: Number.POSITIVE_INFINITY })
      popKeys.add(cityKey(city))
    }
    for (const place of largeCities(SUGGESTED_POPULATION)) {
      const c = candidateOf(place)
      if (!popKeys.has(c.key)) list.push(c)
    }
    for (const { alias, place } of cityAliases()) {
      if (place.population >= SUGGESTED_POPULATION) list.push(candidateOf(place, alias))
    }
    suggestions.set(topology, s = { list, popKeys })
  }
  return s
}

let byInitial: Map<string, Candidate[]> | undefined

/**
 * Every city of regions/cities.json, and every alias, by the first character of its key: a misspelling seldom
 * changes that one.
 */
function citiesByInitial (): Map<string, Candidate[]> {
  if (byInitial === undefined) {
    const map = new Map<string, Candidate[]>()
    const put = (c: Candidate): void => {
      const bucket = map.get(c.key[0] as string)
      if (bucket === undefined) map.set(c.key[0] as string, [c])
      else bucket.push(c)
    }
    for (const place of largeCities(0)) put(candidateOf(place))
    for (const { alias, place } of cityAliases()) put(candidateOf(place, alias))
    byInitial = map
  }
  return byInitial
}

/**
 * Cities spelt within an edit or two of `name` (one for a name under 8 letters), closest first: the PoPs' cities
 * ("Frankfrut" is near Frankfurt (FRA)), the world's large ones ("Pyongyan" is near Pyongyang, KP), any other that
 * starts with the same letter ("Springfeld": Springfield, MA ...) and the cities' other names ("Kiew" is near Kiev).
 * None for names too short to tell apart or too long to be a city.
 */
function candidatesNear (name: string, topology: Topology): Candidate[] {
  const key = cityKey(name)
  if (key.length < 4 || key.length > 40) return []
  const limit = key.length < 8 ? 1 : 2
  const near: { d: number, c: Candidate }[] = []
  const consider = (c: Candidate): void => {
    if (Math.abs(c.key.length - key.length) > limit) return
    const d = distance(key, c.key)
    if (d <= limit && !near.some((n) => n.c.label === c.label)) near.push({ d, c })
  }
  const { list, popKeys } = suggestible(topology)
  for (const c of list) consider(c)
  for (const c of citiesByInitial().get(key[0] as string) ?? []) if (!popKeys.has(c.key)) consider(c)
  // Closest first; among as close, a PoP's city first (the simulator's own places), then the larger city.
  return near.sort((a, b) => a.d - b.d || b.c.population - a.c.population || a.c.label.localeCompare(b.c.label)).map((n) => n.c)
}

/** At most three suggestions for a misspelt city (candidatesNear), as each is best written. */
export function citiesNear (name: string, topology: Topology): string[] {
  return candidatesNear(name, topology).slice(0, 3).map((c) => c.label)
}

/**
 * Suggestions for a misspelt city followed by a qualifier ("Frankfrut, DE"): those the qualifier finds, written with
 * it ("Frankfurt, DE", not Frankfort, Kentucky), or all of them when it finds none.
 */
function citiesNearIn (name: string, qualifier: string, topology: Topology): string[] {
  const near = candidatesNear(name, topology)
  const there: string[] = []
  for (const c of near) {
    const form = `${c.name}, ${qualifier}`
    const found = cityLocation(form, form, topology)
    if (found !== undefined && !('error' in found) && !there.includes(form)) there.push(form)
  }
  return there.length > 0 ? there.slice(0, 3) : near.slice(0, 3).map((c) => c.label)
}

function invalid (input: string, why: string): ClientLocationError {
  return { error: 'SIM_ERR_CLIENT_LOCATION_INVALID', args: [input, why] }
}

/** The PoPs in the city named, among `topology`'s, read as UTF-8 too when that is how it came. */
function popsNamed (text: string, topology: Topology): readonly Pop[] {
  const here = popsInCity(text, topology)
  if (here.length > 0) return here
  const utf8 = asUtf8(text)
  return utf8 === undefined ? here : popsInCity(utf8, topology)
}

/** PoPs this close to a city of their city's name are in that city (an airport is within 50 km of its city). */
const SAME_CITY_KM = 50

/**
 * The PoP in a world city: one of the city's name and country within SAME_CITY_KM of it, in the scenario or else in
 * the PoP list (two cities may share a name in one country: Portland, ME is not PDX's Portland).
 */
function popOfPlace (place: Place, topology: Topology): Pop | undefined {
  const name = place.name.split(',')[0] as string
  const inCity = (pops: readonly Pop[]): Pop | undefined => pops.find((pop) => pop.country === place.country && distanceKm(pop, place) <= SAME_CITY_KM)
  return inCity(popsInCity(name, topology)) ?? inCity(popsInCity(name, loadTopology()))
}

/**
 * A client in a city: at the PoP of the city when there is one (in the scenario, or else anywhere in the PoP list:
 * the place is there even when the scenario's PoP is not), else at the city of that name in the world's cities
 * (regions/cities.json), or why the name does not give one place. Undefined: no city has the name.
 */
export function cityLocation (input: string, text: string, topology: Topology): ClientLocation | ClientLocationError | undefined {
  const here = popsNamed(text, topology)
  const pops = here.length > 0 ? here : popsNamed(text, loadTopology())
  if (pops.length === 1) {
    const pop = pops[0] as Pop
    return { lat: pop.lat, lon: pop.lon, country: pop.country, source: 'city', input }
  }
  if (pops.length > 1) {
    const first = pops[0] as Pop
    const shape = `the city and its country ("${first.city.split(',')[0] as string}, ${first.country}")`
    if (here.length > 1) {
      const which = here.map((p) => `${p.id} (${p.city}, ${p.country})`).join(', ')
      return invalid(input, `${here.length} PoPs are in a city of that name: ${which}; give the IATA code of one, or ${shape}`)
    }
    const which = pops.map((p) => `${p.city}, ${p.country} (${p.id}, at ${p.lat},${p.lon})`).join(' and ')
    return invalid(input, `${which} have PoPs, none of them in this scenario (network.pops); give ${shape}`)
  }
  const place = placeNamed(text) ?? placeNamed(asUtf8(text) ?? '')
  if (place === undefined) return undefined
  if (!Array.isArray(place)) {
    const p = place as Place
    // Named another way ("Kiev", "Munich, Bavaria", "Bombay, India"), a PoP's city is still at that PoP, as by its name.
    const pop = popOfPlace(p, topology)
    if (pop !== undefined) return { lat: pop.lat, lon: pop.lon, country: pop.country, source: 'city', input }
    return { lat: p.lat, lon: p.lon, country: p.country, source: 'city', input }
  }
  const list = place as readonly Place[]
  const shown = list.slice(0, 4).map((p) => `${placeLabel(p, list)} (${p.population.toLocaleString('en-US')} people)`)
  const more = list.length > 4 ? ` and ${list.length - 4} more` : ''
  return invalid(input, `${list.length} cities have that name: ${shown.join(', ')}${more}; say which, as "${placeLabel(list[0] as Place, list)}", or give "lat,lon"`)
}

/**
 * Why "city, qualifier" finds no city: the city is elsewhere (each place of the name, and how to name it), or no city
 * has the name (with suggestions for it).
 */
function unknownQualified (input: string, city: string, qualifier: string, topology: Topology): ClientLocationError {
  const named = placesNamed(city)
  const places = named.length > 0 ? named : placesNamed(asUtf8(city) ?? '')
  if (places.length > 0) {
    const shown = places.slice(0, 4).map((p) => `${p.name} (${p.province === '' ? '' : `${p.province}, `}${p.country})`)
    const more = places.length > 4 ? ` and ${places.length - 4} more` : ''
    const there = places.length === 1 ? `the only one is ${shown[0] as string}` : `there are ${shown.join('; ')}${more}`
    const label = placeLabel(places[0] as Place, places)
    return invalid(input, `no city called "${city}" is in "${qualifier}" (${there}); give "${label}"${places.length === 1 ? '' : ' or the like'}, or "lat,lon"`)
  }
  const pops = popsNamed(city, loadTopology())
  if (pops.length > 0) {
    const shown = pops.map((p) => `${p.city} (${p.country}, PoP ${p.id})`).join('; ')
    return invalid(input, `no city called "${city}" is in "${qualifier}" (${pops.length === 1 ? 'the only one is' : 'there are'} ${shown}); give "${pops[0]!.city.split(',')[0] as string}, ${pops[0]!.country}", or "lat,lon"`)
  }
  const near = citiesNearIn(asUtf8(city) ?? city, qualifier, topology)
  return invalid(input, `no city is called "${city}"${near.length === 0 ? '' : ` (did you mean ${near.join(' or ')}?)`}; ${HINT}`)
}

/**
 * Locates a client. Accepts, in this order: a PoP IATA code (any case: that PoP's location and country), an IPv4 or
 * IPv6 address (located by `ip`), `lat,lon` in decimal degrees, or a city (case, accents and spacing ignored): a
 * PoP's city is that PoP's location (a name two PoPs share is refused with both codes), any other city its place in
 * regions/cities.json, optionally followed by its country, state or province ("Portland, ME"). Expected failures are
 * returned, not thrown.
 */
export function parseClientLocation (input: string, topology: Topology, ip: IpLocator): ClientLocation | ClientLocationError {
  const text = input.trim()
  if (text === '') return { error: 'SIM_ERR_CLIENT_LOCATION_INVALID', args: [input, `empty; ${HINT}`] }
  if (/^[A-Za-z]{3}$/.test(text)) {
    const pop = topology.byId.get(text.toUpperCase())
    if (!pop) {
      // A real PoP that the scenario leaves out (network.pops) is not the same mistake as a code that is no PoP at all.
      const code = text.toUpperCase()
      const known = loadTopology().byId.get(code)
      // A city of three letters, then ("Ufa"): a code is only an IATA code when a PoP has it.
      const city = known === undefined ? cityLocation(input, text, topology) : undefined
      if (city !== undefined) return city
      const why = known === undefined
        ? `no PoP has the IATA code ${code}`
        : `${code} (${known.city}) is a PoP, but not one of this scenario (network.pops); give "${known.lat},${known.lon}" for a client there`
      return { error: 'SIM_ERR_CLIENT_LOCATION_INVALID', args: [input, why] }
    }
    return { lat: pop.lat, lon: pop.lon, country: pop.country, source: 'iata', input }
  }
  // Anything with a colon, or made only of digits and dots, is meant as an address: report it as a bad IP if so.
  if (text.includes(':') || /^[0-9.]+$/.test(text)) {
    if (ipVersion(text) === 0) return { error: 'SIM_ERR_CLIENT_IP_INVALID', args: [text] }
    const found = ip.lookup(text)
    if (!found || !Number.isFinite(found.lat) || !Number.isFinite(found.lon)) return { error: 'SIM_ERR_CLIENT_IP_UNLOCATED', args: [text] }
    return { lat: found.lat, lon: found.lon, ...(found.country ? { country: found.country } : {}), source: 'ip', input }
  }
  if (text.includes(',')) {
    // A city's name may have a comma too ("San Jose, CA"); anything else with one is meant as coordinates.
    const city = /\p{L}/u.test(text) ? cityLocation(input, text, topology) : undefined
    if (city !== undefined) return city
    const parsed = parseLatLon(text)
    if (parsed.ok) return { ...parsed.value, source: 'latlon', input }
    // Words on both sides of the comma are a city and where it is ("Munich, Saxony"), not coordinates.
    const comma = text.lastIndexOf(',')
    if (/\p{L}/u.test(text.slice(0, comma)) && /\p{L}/u.test(text.slice(comma + 1))) return unknownQualified(input, text.slice(0, comma).trim(), text.slice(comma + 1).trim(), topology)
    return { error: 'SIM_ERR_CLIENT_LOCATION_INVALID', args: [input, parsed.reason] }
  }
  const city = cityLocation(input, text, topology)
  if (city !== undefined) return city
  const near = citiesNear(asUtf8(text) ?? text, topology)
  return { error: 'SIM_ERR_CLIENT_LOCATION_INVALID', args: [input, near.length === 0 ? HINT : `did you mean ${near.join(' or ')}? ${HINT}`] }
}

export function isClientLocationError (v: ClientLocation | ClientLocationError): v is ClientLocationError {
  return 'error' in v
}
