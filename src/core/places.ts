// World cities by name (regions/cities.json, 7,329 cities from city-timezones): where a client said to be in a city
// with no PoP is. A PoP's own city is the PoP's business (client.ts looks there first); this is for the rest of the
// world: "New York", "Berlin", "Nairobi". Also by the names of regions/city-aliases.json, which the data lacks: former,
// English and local ones ("Kiev", "Bombay", "München") and English names of provinces ("Munich, Bavaria").
import aliasData from '../../regions/city-aliases.json' with { type: 'json' }
import cityData from '../../regions/cities.json' with { type: 'json' }

export interface Place {
  /** The city as the data spells it ("São Paulo", "Washington, D.C."). */
  readonly name: string
  /** ISO 3166-1 alpha-2. */
  readonly country: string
  /** Province, state or other first-level division; may be empty. */
  readonly province: string
  /** Two-letter state code of a US city, else empty. */
  readonly usState: string
  readonly lat: number
  readonly lon: number
  readonly population: number
}

/** A place taken over others of its name only when it has at least this many times the next one's people. */
export const DOMINANT_FACTOR = 10

type Row = [name: string, asciiName: string, lat: number, lon: number, country: string, countryName: string, province: string, usState: string, population: number]

/**
 * A city name as compared: case, accents and spacing do not matter ("São  Paulo" is "sao paulo"), nor how "Saint"
 * is written at the start of the name or of its qualifier ("St. Petersburg" is "Saint Petersburg", "Montego Bay,
 * St. James" is "Montego Bay, Saint James").
 */
export function cityKey (name: string): string {
  return name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/\s*,\s*/g, ', ').replace(/\s+/g, ' ').trim()
    .replace(/(^|, )(?:st\. ?|st |saint )/g, '$1saint ')
}

let index: Map<string, Place[]> | undefined
let all: Place[] = []
let aliasList: AliasedPlace[] = []

/** A name of regions/city-aliases.json and the city it stands for. */
export interface AliasedPlace { readonly alias: string, readonly place: Place }

interface Aliases {
  /** Alias: the city as regions/cities.json names it, and its country ("Bombay": ["Mumbai", "IN"]). */
  readonly cities: Record<string, [city: string, country: string]>
  /** Country code: alias: the province as regions/cities.json names it there ("DE": { "Bavaria": "Bayern" }). */
  readonly provinces: Record<string, Record<string, string>>
}

/** The aliases of regions/city-aliases.json as written, by the city or province they stand for. */
function aliasNames (): { readonly cities: Map<string, string[]>, readonly provinces: Map<string, string[]> } {
  // A JSON import types the pairs as string[]; test/unit/places.test.ts checks that each is a pair.
  const { cities, provinces } = aliasData as unknown as Aliases
  const push = (into: Map<string, string[]>, key: string, alias: string): void => {
    into.set(key, [...(into.get(key) ?? []), alias])
  }
  const byCity = new Map<string, string[]>()
  for (const [alias, [city, country]] of Object.entries(cities)) push(byCity, `${city}\n${country}`, alias)
  const byProvince = new Map<string, string[]>()
  for (const [country, names] of Object.entries(provinces)) {
    for (const [alias, province] of Object.entries(names)) push(byProvince, `${province}\n${country}`, alias)
  }
  return { cities: byCity, provinces: byProvince }
}

function load (): Map<string, Place[]> {
  if (index !== undefined) return index
  const map = new Map<string, Place[]>()
  // Names made with an alias are kept apart until every name of the data is in: one the data has too is left to the
  // data, so that an alias never changes what an existing name finds.
  const aliased = new Map<string, Place[]>()
  const add = (into: Map<string, Place[]>, key: string, place: Place): void => {
    const list = into.get(key)
    if (list === undefined) into.set(key, [place])
    else if (!list.includes(place)) list.push(place)
  }
  const aliases = aliasNames()
  aliasList = []
  all = (cityData.cities as Row[]).map(([name, asciiName, lat, lon, country, countryName, province, usState, population]) => {
    const place: Place = { name, country, province, usState, lat, lon, population }
    // By the whole name, by the name before its comma ("Washington"), and by its ASCII spelling; each also with the
    // country's code or name, the province, or a US city's state after a comma ("Portland, ME", "Newcastle, AU",
    // "Paris, France").
    const names = new Set([name, name.split(',')[0] as string, asciiName].filter((n) => n !== '').map(cityKey))
    const qualifiers = [country, countryName, province, usState].filter((q) => q !== '').map(cityKey)
    // And by the city's aliases, with those qualifiers or an alias of its province ("Kiev, UA", "Munich, Bavaria").
    const aliasesOfCity = aliases.cities.get(`${name}\n${country}`) ?? []
    for (const alias of aliasesOfCity) aliasList.push({ alias, place })
    const provinceAliases = (province === '' ? [] : aliases.provinces.get(`${province}\n${country}`) ?? []).map(cityKey)
    for (const n of names) {
      add(map, n, place)
      for (const q of qualifiers) add(map, `${n}, ${q}`, place)
      for (const q of provinceAliases) add(aliased, `${n}, ${q}`, place)
    }
    for (const n of aliasesOfCity.map(cityKey)) {
      add(aliased, n, place)
      for (const q of [...qualifiers, ...provinceAliases]) add(aliased, `${n}, ${q}`, place)
    }
    return place
  })
  for (const [key, list] of aliased) if (!map.has(key)) map.set(key, list)
  // Most people first: a name's candidates are listed, and its dominant place found, in that order.
  for (const list of map.values()) list.sort((a, b) => b.population - a.population)
  index = map
  return map
}

/** Every place of the name given ("Springfield", "Springfield, MO", "Newcastle, AU"), most people first. */
export function placesNamed (name: string): readonly Place[] {
  return load().get(cityKey(name)) ?? []
}

/**
 * The place a name means: the only one of that name, or one with at least DOMINANT_FACTOR times the people of the
 * next ("London" is London, GB, not London, Ontario). An array of the candidates when the name is ambiguous
 * ("Newcastle": New South Wales or Tyne and Wear); undefined when no city has the name.
 */
export function placeNamed (name: string): Place | readonly Place[] | undefined {
  const list = placesNamed(name)
  if (list.length === 0) return undefined
  const [first, second] = list as [Place, Place | undefined]
  if (second === undefined || first.population >= DOMINANT_FACTOR * second.population) return first
  return list
}

/** How to name a place so that no other of `among` has the name: with its country, else its state or province. */
export function placeLabel (place: Place, among: readonly Place[]): string {
  const short = place.name.split(',')[0] as string
  const sameCountry = among.filter((p) => p.country === place.country).length
  if (sameCountry <= 1) return `${short}, ${place.country}`
  if (place.usState !== '') return `${short}, ${place.usState}`
  return place.province === '' ? `${short}, ${place.country}` : `${short}, ${place.province}`
}

/** The shortest name that finds `place` among the cities: with its country, or its state or province. */
export function nameOf (place: Place): string {
  return placeLabel(place, placesNamed(place.name.split(',')[0] as string))
}

/** Cities of at least `minPopulation` people: the names a misspelling is compared with. */
export function largeCities (minPopulation: number): readonly Place[] {
  load()
  return all.filter((p) => p.population >= minPopulation)
}

/**
 * The city aliases that find their city ("Kiev": Kyiv): the names a misspelling is compared with besides the data's
 * own. An alias some city of the data also has is left out, as that name finds the data's city.
 */
export function cityAliases (): readonly AliasedPlace[] {
  const map = load()
  return aliasList.filter((a) => map.get(cityKey(a.alias))?.includes(a.place) === true)
}
