import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import aliasData from '../../regions/city-aliases.json' with { type: 'json' }
import cityData from '../../regions/cities.json' with { type: 'json' }
import { isClientLocationError, parseClientLocation } from '../../src/core/client.ts'
import { distanceKm } from '../../src/core/geo.ts'
import { loadTopology } from '../../src/core/topology.ts'
import { cityAliases, cityKey, DOMINANT_FACTOR, largeCities, nameOf, placeLabel, placeNamed, placesNamed, type Place } from '../../src/core/places.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

describe('world cities (regions/cities.json)', () => {
  it('is what scripts/import-cities.ts makes from the city-timezones package', () => {
    const r = spawnSync(process.execPath, ['scripts/import-cities.ts', '--check'], { cwd: root, encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('has a country code, coordinates in range and a population for every city', () => {
    expect(cityData.cities.length).toBe(7329)
    for (const row of cityData.cities) {
      const [name, , lat, lon, country, , , usState, population] = row as [string, string, number, number, string, string, string, string, number]
      expect(name, JSON.stringify(row)).not.toBe('')
      expect(country, name).toMatch(/^[A-Z]{2}$/)
      expect(Math.abs(lat), name).toBeLessThanOrEqual(90)
      expect(Math.abs(lon), name).toBeLessThanOrEqual(180)
      expect(population, name).toBeGreaterThanOrEqual(0)
      if (usState !== '') expect(country, name).toBe('US')
    }
  })

  it('finds every city by the label it is listed with when its name is shared, or as the dominant one', () => {
    let found = 0
    for (const row of cityData.cities) {
      const [name, , lat, lon, country] = row as [string, string, number, number, string]
      const short = name.split(',')[0] as string
      const namesakes = placesNamed(short)
      const place = namesakes.find((p) => p.lat === lat && p.lon === lon && p.country === country) as Place
      expect(place, name).toBeDefined()
      const byLabel = placeNamed(placeLabel(place, namesakes))
      // Namesakes in one province of one country (a handful) share their label: the larger is taken, or both listed.
      if (Array.isArray(byLabel)) {
        expect((byLabel as Place[]).map((p) => placeLabel(p, namesakes)), name).toContain(placeLabel(place, namesakes))
        continue
      }
      const got = byLabel as Place
      if (got !== place) {
        expect(placeLabel(got, namesakes), name).toBe(placeLabel(place, namesakes))
        expect(got.population, name).toBeGreaterThanOrEqual(DOMINANT_FACTOR * place.population)
        continue
      }
      found++
    }
    expect(found).toBeGreaterThan(7300)
  })

  it('takes a name\'s most populous city only with ten times the people of the next, else lists them all', () => {
    for (const row of cityData.cities) {
      const list = placesNamed(row[0] as string)
      const got = placeNamed(row[0] as string)
      if (list.length === 1) expect(got).toBe(list[0])
      else if ((list[0] as Place).population >= 10 * (list[1] as Place).population) expect(got).toBe(list[0])
      else expect(got).toEqual(list)
    }
  })

  it('compares names without case, accents, extra spaces or the spelling of "Saint"', () => {
    expect(cityKey('  São   Paulo ')).toBe('sao paulo')
    expect(cityKey('Zürich,CH')).toBe('zurich, ch')
    for (const s of ['St. Louis', 'St.Louis', 'st louis', 'Saint Louis']) expect(cityKey(s)).toBe('saint louis')
    for (const s of ['Stockholm', 'Stuttgart', 'Saintes']) expect(cityKey(s)).toBe(s.toLowerCase())
    // And at the start of a qualifier: a province or country may be a saint's too.
    for (const s of ['Montego Bay, St. James', 'Montego Bay,St James', 'montego bay, saint james']) expect(cityKey(s)).toBe('montego bay, saint james')
    for (const s of ['Boston, Stone', 'Bath, ST']) expect(cityKey(s)).toBe(s.toLowerCase())
    expect(placeNamed('NEW YORK')).toMatchObject({ name: 'New York', country: 'US' })
    expect(placeNamed('Nowhere, ZZ')).toBeUndefined()
  })

  it('locates every large city by the label the teaching page suggests it with ("New York, US", "Suzhou, Jiangsu")', () => {
    const topology = loadTopology()
    expect(nameOf(placeNamed('New York') as Place)).toBe('New York, US')
    for (const p of largeCities(1_000_000)) {
      const label = nameOf(p)
      const r = parseClientLocation(label, topology, { lookup: () => undefined })
      expect(isClientLocationError(r), label).toBe(false)
      if (isClientLocationError(r)) continue
      expect(r.country, label).toBe(p.country)
      // Within 100 km of the city: at it, or at the PoP of a city of that name (the PoP's airport).
      expect(distanceKm(r, p), label).toBeLessThan(100)
    }
  })

  it('offers the large cities, most people first within a name', () => {
    const large = largeCities(1_000_000)
    expect(large.length).toBeGreaterThan(300)
    expect(large.every((p) => p.population >= 1_000_000)).toBe(true)
    expect(large.map((p) => p.name)).toContain('Pyongyang')
  })
})

describe('aliases (regions/city-aliases.json)', () => {
  type Row = [name: string, asciiName: string, lat: number, lon: number, country: string, countryName: string, province: string, usState: string, population: number]
  const rows = cityData.cities as Row[]
  const cities = Object.entries(aliasData.cities as Record<string, string[]>)
  const provinces = Object.entries(aliasData.provinces as Record<string, Record<string, string>>)
  // Every name the data finds a city by on its own, before any alias: an alias must be none of them.
  const dataNames = new Set(rows.flatMap(([name, asciiName]) => [name, name.split(',')[0] as string, asciiName].filter((n) => n !== '').map(cityKey)))
  const rowOf = (name: string, country: string): Row[] => rows.filter((r) => r[0] === name && r[4] === country)
  const at = (row: Row) => ({ name: row[0], country: row[4], lat: row[2], lon: row[3] })

  it('finds Kiev where Kyiv is, alone and with its country or province', () => {
    const kyiv = rowOf('Kyiv', 'UA')[0] as Row
    for (const name of ['Kiev', 'kiev', 'Kiev, UA', 'Kiev, Ukraine', 'Kiev, Kyiv']) {
      expect(placeNamed(name), name).toMatchObject({ name: 'Kyiv', country: 'UA', lat: kyiv[2], lon: kyiv[3] })
    }
    expect(placeNamed('Kiev')).toBe(placeNamed('Kyiv'))
  })

  it('takes a country, province or state after an alias, and an English province after any name', () => {
    const mumbai = placeNamed('Mumbai') as Place
    for (const name of ['Bombay', 'Bombay, IN', 'Bombay, India', 'Bombay, Maharashtra']) expect(placeNamed(name), name).toBe(mumbai)
    const munich = placeNamed('Munich') as Place
    for (const name of ['Munich, Bavaria', 'Munich, Bayern', 'München', 'München, Bavaria', 'Munchen, DE']) expect(placeNamed(name), name).toBe(munich)
    expect(placeNamed('Cologne, North Rhine-Westphalia')).toBe(placeNamed('Cologne'))
    expect(placeNamed('Washington, DC')).toBe(placeNamed('Washington, D.C.'))
    expect(placeNamed('Bombay, Bavaria')).toBeUndefined()
    expect(placeNamed('Munich, Maharashtra')).toBeUndefined()
  })

  it('leaves the names of the data as they were, and labels a place by the data\'s own name', () => {
    // Roma, Queensland is a city of the data: "Roma" is no alias of Rome (see leftOut in the file).
    expect(placeNamed('Roma')).toMatchObject({ name: 'Roma', country: 'AU' })
    expect(placeNamed('Rome')).toMatchObject({ name: 'Rome', country: 'IT' })
    // "Odesa" is the Ukrainian city; "Odessa" stays shared with Odessa, Texas.
    expect(placeNamed('Odesa')).toMatchObject({ name: 'Odessa', country: 'UA' })
    expect((placeNamed('Odessa') as Place[]).map((p) => p.country)).toEqual(['UA', 'US'])
    expect(nameOf(placeNamed('Kiev') as Place)).toBe('Kyiv, UA')
    expect(nameOf(placeNamed('Bombay') as Place)).toBe('Mumbai, IN')
    expect(placeLabel(placeNamed('Napoli') as Place, placesNamed('Naples'))).toBe('Naples, IT')
    expect(largeCities(0).length).toBe(rows.length)
  })

  it('has a source, and names of its own for each city, in no two spellings', () => {
    expect(aliasData.source).toMatch(/curated by this project/i)
    const keys = cities.map(([alias]) => cityKey(alias))
    expect(new Set(keys).size).toBe(keys.length)
    expect(cities.length).toBeGreaterThan(30)
  })

  it('names exactly one city of the data by each city alias, which finds that city alone or with its country', () => {
    for (const [alias, target] of cities) {
      expect(target, alias).toHaveLength(2)
      const [name, country] = target as [string, string]
      const matches = rowOf(name, country)
      expect(matches.map(at), alias).toHaveLength(1)
      const row = matches[0] as Row
      // Were it a name of the data, the alias would have been left out rather than change what the name finds.
      expect(dataNames.has(cityKey(alias)), `${alias} is a city of the data`).toBe(false)
      for (const name of [alias, `${alias}, ${country}`, `${alias}, ${row[5]}`]) {
        expect(placesNamed(name).map((p) => ({ name: p.name, country: p.country, lat: p.lat, lon: p.lon })), name).toEqual([at(row)])
      }
    }
    // Each is offered for a misspelling, as written, with the city it finds.
    expect(cityAliases().map((a) => [a.alias, [a.place.name, a.place.country]])).toEqual(expect.arrayContaining(cities))
    expect(cityAliases()).toHaveLength(cities.length)
  })

  it('names a province of its country by each province alias, which finds what the province finds', () => {
    // A qualifier of the data anywhere (a country's code or name, a province, a US state): an alias must be none.
    const qualifiers = new Set(rows.flatMap((r) => [r[4], r[5], r[6], r[7]].filter((q) => q !== '').map(cityKey)))
    let checked = 0
    for (const [country, names] of provinces) {
      expect(country).toMatch(/^[A-Z]{2}$/)
      for (const [alias, province] of Object.entries(names)) {
        const inProvince = rows.filter((r) => r[4] === country && r[6] === province)
        expect(inProvince.length, `${alias}: ${province}, ${country}`).toBeGreaterThan(0)
        expect(qualifiers.has(cityKey(alias)), `${alias} is a qualifier of the data`).toBe(false)
        for (const row of inProvince) {
          const short = row[0].split(',')[0] as string
          expect(placesNamed(`${short}, ${alias}`), `${short}, ${alias}`).toEqual(placesNamed(`${short}, ${province}`))
          checked++
        }
      }
    }
    expect(checked).toBeGreaterThan(50)
  })

  it('leaves out names the data has, and says why', () => {
    for (const [name, why] of Object.entries(aliasData.leftOut)) {
      expect(dataNames.has(cityKey(name)), name).toBe(true)
      expect(why, name).not.toBe('')
      expect(cities.map(([alias]) => cityKey(alias)), name).not.toContain(cityKey(name))
    }
  })
})
