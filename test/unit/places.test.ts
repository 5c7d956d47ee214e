import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import cityData from '../../regions/cities.json' with { type: 'json' }
import { isClientLocationError, parseClientLocation } from '../../src/core/client.ts'
import { distanceKm } from '../../src/core/geo.ts'
import { loadTopology } from '../../src/core/topology.ts'
import { cityKey, DOMINANT_FACTOR, largeCities, nameOf, placeLabel, placeNamed, placesNamed, type Place } from '../../src/core/places.ts'

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
