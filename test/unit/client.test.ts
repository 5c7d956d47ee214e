// Client location parsing: IATA codes, coordinates, IP addresses, and the precise error for each kind of bad input.
import { isIP } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import aliasData from '../../regions/city-aliases.json' with { type: 'json' }
import cityData from '../../regions/cities.json' with { type: 'json' }
import { ipVersion, isClientLocationError, parseClientLocation } from '../../src/core/client.ts'
import { distanceKm } from '../../src/core/geo.ts'
import { loadTopology } from '../../src/core/topology.ts'
import type { IpLocator } from '../../src/core/types.ts'
import { createGeoIpLocator } from '../../src/net/geoip-locator.ts'
import { createClientLocator } from '../../src/services/client-location.ts'

const topology = loadTopology()
// A fixed locator so the core tests do not depend on geoip-lite's data release.
const fakeIp: IpLocator = {
  lookup (ip) {
    if (ip === '81.2.69.160' || ip === '2a00:1450:4001:80b::200e') return { lat: 51.75, lon: -0.33, country: 'GB' }
    return undefined
  }
}

describe('parseClientLocation', () => {
  const fra = topology.byId.get('FRA')!

  it.each([
    ['FRA', { lat: fra.lat, lon: fra.lon, country: 'DE', source: 'iata' }],
    ['fra', { lat: fra.lat, lon: fra.lon, country: 'DE', source: 'iata' }],
    ['  Fra ', { lat: fra.lat, lon: fra.lon, country: 'DE', source: 'iata' }],
    ['48.85,2.35', { lat: 48.85, lon: 2.35, source: 'latlon' }],
    ['-33.87, 151.21', { lat: -33.87, lon: 151.21, source: 'latlon' }],
    ['90,-180', { lat: 90, lon: -180, source: 'latlon' }],
    ['81.2.69.160', { lat: 51.75, lon: -0.33, country: 'GB', source: 'ip' }],
    ['2a00:1450:4001:80b::200e', { lat: 51.75, lon: -0.33, country: 'GB', source: 'ip' }]
  ] as const)('%j is located', (input, expected) => {
    const got = parseClientLocation(input, topology, fakeIp)
    expect(got).toEqual({ ...expected, input })
  })

  it.each([
    ['Paris', 'CDG'],
    ['paris', 'CDG'],
    ['  PARIS ', 'CDG'],
    ['Sao Paulo', 'GRU'],
    ['São  Paulo', 'GRU'],
    // As Node reads a header sent in UTF-8 (each byte a Latin-1 character), and one sent in Latin-1.
    [Buffer.from('São Paulo').toString('latin1'), 'GRU'],
    [Buffer.from('Zürich', 'latin1').toString('latin1'), 'ZRH'],
    [Buffer.from('Zürich').toString('latin1'), 'ZRH'],
    ['sydney', 'SYD'],
    ['Sydney, NSW', 'SYD'],
    ['san jose,ca', 'SJC'],
    ['San Jose, CR', 'SJO'],
    ['san jose,us', 'SJC'],
    ['St. Petersburg', 'LED'],
    ['st petersburg', 'LED']
  ])('%j is the city of %s', (input, id) => {
    const pop = topology.byId.get(id)!
    expect(parseClientLocation(input, topology, fakeIp)).toEqual({ lat: pop.lat, lon: pop.lon, country: pop.country, source: 'city', input })
  })

  it('locates every PoP by its city and country, and by its city alone unless another PoP has that name', () => {
    const short = (city: string) => city.split(',')[0]!.trim()
    for (const pop of topology.pops) {
      const at = { lat: pop.lat, lon: pop.lon, country: pop.country, source: 'city' }
      expect(parseClientLocation(`${short(pop.city)}, ${pop.country}`, topology, fakeIp), pop.id).toMatchObject(at)
      const shared = topology.pops.some((p) => p !== pop && short(p.city) === short(pop.city))
      for (const name of [pop.city, short(pop.city)]) {
        // A name another PoP's city starts with is ambiguous, unless it is spelt with the state ("San Jose, CA").
        const ambiguous = shared && !(name === pop.city && name.includes(','))
        expect(parseClientLocation(name, topology, fakeIp), `${pop.id} as ${name}`).toMatchObject(ambiguous ? { error: 'SIM_ERR_CLIENT_LOCATION_INVALID' } : at)
      }
    }
  })

  it('refuses a city two PoPs share, naming both', () => {
    const r = parseClientLocation('San Jose', topology, fakeIp)
    expect(isClientLocationError(r)).toBe(true)
    expect(r).toMatchObject({ error: 'SIM_ERR_CLIENT_LOCATION_INVALID', args: ['San Jose', expect.stringMatching(/2 PoPs are in a city of that name: SJC \(San Jose, CA, US\), SJO \(San Jose, CR\); give the IATA code of one, or the city and its country \("San Jose, US"\)/)] })
  })

  it('finds a city among the scenario\'s PoPs first, and a PoP\'s city the scenario leaves out where that PoP is', () => {
    const sjc = topology.byId.get('SJC')!
    const cdg = topology.byId.get('CDG')!
    const small = { pops: [sjc], byId: new Map([['SJC', sjc]]) }
    // Two PoPs are in San Jose, one in the scenario: no ambiguity left.
    expect(parseClientLocation('San Jose', small, fakeIp)).toMatchObject({ source: 'city', lat: sjc.lat, lon: sjc.lon })
    const sjo = topology.byId.get('SJO')!
    const onlyParis = { pops: [cdg], byId: new Map([['CDG', cdg]]) }
    expect(parseClientLocation('San Jose', onlyParis, fakeIp)).toEqual({
      error: 'SIM_ERR_CLIENT_LOCATION_INVALID',
      args: ['San Jose', `San Jose, CA, US (SJC, at ${sjc.lat},${sjc.lon}) and San Jose, CR (SJO, at ${sjo.lat},${sjo.lon}) have PoPs, none of them in this scenario (network.pops); give the city and its country ("San Jose, US")`]
    })
    expect(parseClientLocation('San Jose, CR', onlyParis, fakeIp)).toEqual({ lat: sjo.lat, lon: sjo.lon, country: 'CR', source: 'city', input: 'San Jose, CR' })
    // A city is a place: the client is there although the scenario has no PoP in it.
    expect(parseClientLocation('Paris', small, fakeIp)).toEqual({ lat: cdg.lat, lon: cdg.lon, country: 'FR', source: 'city', input: 'Paris' })
  })

  it.each([
    ['New York', 40.75, -73.98, 'US'],
    ['new  york, ny', 40.75, -73.98, 'US'],
    ['New York, United States of America', 40.75, -73.98, 'US'],
    ['Pyongyang', 39.0194, 125.7547, 'KP'],
    ['Portland, ME', 43.6722, -70.2455, 'US'],
    ['Springfield, MO', 37.18, -93.32, 'US'],
    ['Newcastle, GB', 55.0004, -1.6, 'GB'],
    ['Newcastle, Tyne and Wear', 55.0004, -1.6, 'GB'],
    // "St." and "Saint" are one (Saint Petersburg, RU is LED's city); the name before a comma is enough
    // ("Washington, D.C.").
    ['st petersburg, florida', 27.7705, -82.6794, 'US'],
    ['Washington', 38.8995, -77.0094, 'US'],
    // Also at the start of a province: Saint James, Jamaica.
    ['Montego Bay, St. James', 18.4667, -77.9167, 'JM'],
    // A name others share, with ten times the people of the next: Alexandria, Egypt (not Virginia or Louisiana).
    ['Alexandria', 31.2, 29.95, 'EG'],
    // Three letters that no PoP has as its code: a city of that name.
    ['Ufa', 54.79, 56.04, 'RU']
  ] as const)('%j is one of the world\'s cities', (input, lat, lon, country) => {
    expect(parseClientLocation(input, topology, fakeIp)).toEqual({ lat, lon, country, source: 'city', input })
  })

  it.each([
    ['Newcastle', /^2 cities have that name: Newcastle, AU \(816,286 people\), Newcastle, GB \(537,191 people\); say which, as "Newcastle, AU", or give "lat,lon"$/],
    ['Springfield', /^5 cities have that name: Springfield, MA \(287,004 people\), Springfield, MO \(180,691 people\), Springfield, IL \(125,345 people\), Springfield, OH \(74,451 people\) and 1 more; say which, as "Springfield, MA"/],
    // Four times the people of the next is not enough to take the larger one for granted.
    ['Victoria', /^5 cities have that name: Victoria, CA \(270,492 people\), Victoria, US \(63,127 people\)/]
  ])('refuses %j, which several cities share, listing them', (input, reason) => {
    const r = parseClientLocation(input, topology, fakeIp)
    expect(r).toMatchObject({ error: 'SIM_ERR_CLIENT_LOCATION_INVALID', args: [input, expect.stringMatching(reason)] })
  })

  it('says that a PoP the scenario leaves out is a PoP, not an unknown code, and where it is', () => {
    // Only the lookup by id is read: a scenario's topology without SYD.
    const small = { ...topology, byId: new Map([['FRA', fra]]) }
    const syd = topology.byId.get('SYD')!
    expect(parseClientLocation('SYD', small, fakeIp)).toEqual({
      error: 'SIM_ERR_CLIENT_LOCATION_INVALID',
      args: ['SYD', `SYD (${syd.city}) is a PoP, but not one of this scenario (network.pops); give "${syd.lat},${syd.lon}" for a client there`]
    })
  })

  it.each([
    ['', 'SIM_ERR_CLIENT_LOCATION_INVALID', /empty/],
    ['ZZZ', 'SIM_ERR_CLIENT_LOCATION_INVALID', /no PoP has the IATA code ZZZ/],
    ['91,0', 'SIM_ERR_CLIENT_LOCATION_INVALID', /latitude 91 is outside -90..90/],
    ['0,180.5', 'SIM_ERR_CLIENT_LOCATION_INVALID', /longitude 180.5 is outside/],
    ['1,2,3', 'SIM_ERR_CLIENT_LOCATION_INVALID', /exactly one comma/],
    ['north,2', 'SIM_ERR_CLIENT_LOCATION_INVALID', /latitude "north" is not a decimal number/],
    ['1e3,2', 'SIM_ERR_CLIENT_LOCATION_INVALID', /not a decimal number/],
    ['Atlantis', 'SIM_ERR_CLIENT_LOCATION_INVALID', /expected a PoP IATA code such as FRA, a city such as "Sao Paulo"/],
    ['Xqzv', 'SIM_ERR_CLIENT_LOCATION_INVALID', /^expected a PoP IATA code such as FRA, a city such as "Sao Paulo" or "Portland, ME"/],
    ['Sydnee', 'SIM_ERR_CLIENT_LOCATION_INVALID', /^did you mean Sydney \(SYD\)\? expected/],
    // A large city without a PoP is suggested too, with its country.
    ['Pyongyan', 'SIM_ERR_CLIENT_LOCATION_INVALID', /^did you mean Pyongyang, KP or Pyongsan, KP\? expected/],
    // Any city of the same first letter, each by the name that finds it alone, the larger first.
    ['Springfeld', 'SIM_ERR_CLIENT_LOCATION_INVALID', /^did you mean Springfield, MA or Springfield, MO or Springfield, IL\? expected/],
    // As close to a PoP's city as to another: the PoP's first.
    ['Frankfrut', 'SIM_ERR_CLIENT_LOCATION_INVALID', /^did you mean Frankfurt \(FRA\) or Frankfort, US\? expected/],
    // Sent in UTF-8 and read as Latin-1, and misspelt.
    [Buffer.from('Zürick').toString('latin1'), 'SIM_ERR_CLIENT_LOCATION_INVALID', /^did you mean Zurich \(ZRH\)\?/],
    // A misspelt alias (regions/city-aliases.json): the alias, the larger city first.
    ['Kiew', 'SIM_ERR_CLIENT_LOCATION_INVALID', /^did you mean Kiev or Kiel, DE\? expected/],
    ['Bombey', 'SIM_ERR_CLIENT_LOCATION_INVALID', /^did you mean Bombay\? expected/],
    ['256.1.1.1', 'SIM_ERR_CLIENT_IP_INVALID', undefined],
    ['01.2.3.4', 'SIM_ERR_CLIENT_IP_INVALID', undefined],
    ['1.2.3', 'SIM_ERR_CLIENT_IP_INVALID', undefined],
    ['1::2::3', 'SIM_ERR_CLIENT_IP_INVALID', undefined],
    ['gggg::1', 'SIM_ERR_CLIENT_IP_INVALID', undefined],
    ['10.0.0.1', 'SIM_ERR_CLIENT_IP_UNLOCATED', undefined],
    ['::1', 'SIM_ERR_CLIENT_IP_UNLOCATED', undefined]
  ] as const)('%j is refused with %s', (input, code, reason) => {
    const got = parseClientLocation(input, topology, fakeIp)
    expect(isClientLocationError(got)).toBe(true)
    if (!isClientLocationError(got)) return
    expect(got.error).toBe(code)
    if (reason) expect(got.args[1]).toMatch(reason)
  })

  it('answers any text with a location in range or a stable error, never a throw', () => {
    const cityish = fc.string({ unit: fc.constantFrom(...'abcdeilnorstuyz ,.\'-ÃãéüSPNY'.split('')), maxLength: 24 })
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), cityish), (text) => {
      const r = parseClientLocation(text, topology, fakeIp)
      if (isClientLocationError(r)) {
        expect(['SIM_ERR_CLIENT_LOCATION_INVALID', 'SIM_ERR_CLIENT_IP_INVALID', 'SIM_ERR_CLIENT_IP_UNLOCATED']).toContain(r.error)
        return
      }
      expect(Math.abs(r.lat)).toBeLessThanOrEqual(90)
      expect(Math.abs(r.lon)).toBeLessThanOrEqual(180)
      expect(r.input).toBe(text)
    }), { numRuns: 3000 })
  })

  it('locates a client by a city\'s alias (regions/city-aliases.json) in that city\'s country, within 100 km of it', () => {
    const rows = cityData.cities as [string, string, number, number, string][]
    for (const [alias, [name, country]] of Object.entries(aliasData.cities as Record<string, string[]>)) {
      const city = rows.find((r) => r[0] === name && r[4] === country)!
      // At the city, or at the PoP of the city when a PoP's city has the alias ("Bangalore" is BLR).
      for (const text of [alias, `${alias}, ${country}`, Buffer.from(alias).toString('latin1')]) {
        const r = parseClientLocation(text, topology, fakeIp)
        expect(r, text).toMatchObject({ country, source: 'city' })
        if (!isClientLocationError(r)) expect(distanceKm(r, { lat: city[2], lon: city[3] }), text).toBeLessThan(100)
      }
    }
    expect(parseClientLocation('Munich, Bavaria', topology, fakeIp)).toMatchObject({ country: 'DE', source: 'city' })
  })

  it('places a PoP\'s city named another way (an alias, a province, a country name) at that PoP, as by its own name', () => {
    const at = (text: string) => {
      const r = parseClientLocation(text, topology, fakeIp)
      if (isClientLocationError(r)) throw new Error(`${text}: ${r.args.join(' ')}`)
      return [r.lat, r.lon, r.country]
    }
    const pop = (id: string) => { const p = topology.byId.get(id)!; return [p.lat, p.lon, p.country] }
    for (const [texts, id] of [[['Kiev', 'Kyiv', 'Kiev, Ukraine'], 'KBP'], [['Bombay', 'Bombay, India', 'Mumbai'], 'BOM'], [['München', 'Munich, Bavaria', 'Munich, Bayern', 'Munich'], 'MUC'], [['Paris, France', 'Paris, Île-de-France', 'Paris'], 'CDG']] as const) {
      for (const text of texts) expect(at(text), text).toEqual(pop(id))
    }
    // A city of a PoP's city's name and country, far from it, is not that PoP's place: Portland, Maine is not PDX's.
    const portland = at('Portland, ME')
    expect(portland[2]).toBe('US')
    expect(distanceKm({ lat: portland[0] as number, lon: portland[1] as number }, topology.byId.get('PDX')!)).toBeGreaterThan(4000)
  })

  it.each([
    // The city is elsewhere: where each of that name is, and how to name one.
    ['Munich, Saxony', /no city called "Munich" is in "Saxony" \(the only one is Munich \(Bayern, DE\)\); give "Munich, DE", or "lat,lon"/],
    ['Springfield, Texas', /no city called "Springfield" is in "Texas" \(there are Springfield \(Massachusetts, US\); .* and \d+ more\); give "Springfield, MA" or the like/],
    // No city of the name: suggestions for the name, not a complaint about coordinates.
    // Suggestions the qualifier finds, written with it; all of them when it finds none.
    ['Frankfrut, DE', /no city is called "Frankfrut" \(did you mean Frankfurt, DE\?\); expected a PoP IATA code/],
    ['Frankfrut, Kentucky', /no city is called "Frankfrut" \(did you mean Frankfort, Kentucky\?\); expected/],
    ['Springfeld, MO', /no city is called "Springfeld" \(did you mean Springfield, MO\?\); expected/],
    ['Frankfrut, Atlantis', /no city is called "Frankfrut" \(did you mean Frankfurt \(FRA\) or Frankfort, US\?\); expected/],
    ['Kiew, UA', /no city is called "Kiew" \(did you mean Kiev, UA\?\); expected/],
    ['Xyzzy, Foo', /no city is called "Xyzzy"; expected a PoP IATA code/],
    // A number after the comma: meant as coordinates.
    ['north,2', /latitude "north" is not a decimal number/]
  ])('says why "%s" names no place', (text, why) => {
    const r = parseClientLocation(text, topology, fakeIp)
    expect(r).toMatchObject({ error: 'SIM_ERR_CLIENT_LOCATION_INVALID' })
    expect((r as { args: string[] }).args[1]).toMatch(why)
  })

  it('locates a city however its letters are cased and spaced, with or without its accents', () => {
    const names = ['São Paulo', 'New York', 'Zürich', 'Portland, ME', 'Newcastle, GB', 'Pyongyang', 'St. Petersburg']
    fc.assert(fc.property(fc.constantFrom(...names), fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }), fc.boolean(), (name, upper, strip) => {
      const base = strip ? name.normalize('NFD').replace(/[\u0300-\u036f]/g, '') : name
      const varied = `  ${[...base].map((c, i) => (upper[i % 30] === true ? c.toUpperCase() : c.toLowerCase())).join('').replace(/ /g, '   ')} `
      const want = parseClientLocation(name, topology, fakeIp)
      expect(isClientLocationError(want)).toBe(false)
      expect(parseClientLocation(varied, topology, fakeIp)).toEqual({ ...want, input: varied })
    }))
  })
})

describe('IP address validation agrees with node:net isIP', () => {
  it.each([
    '1.2.3.4', '255.255.255.255', '0.0.0.0', '256.0.0.0', '1.2.3.04', '1.2.3.4.5', '1..3.4', ' 1.2.3.4', '1.2.3.4 ',
    '::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1::2:3:4:5:6:7:8', '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:1.2.3.4', '::ffff:1.2.3.4', '1::1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', 'fe80::1%eth0',
    'fe80::1%', ':1::', '1:::2', '12345::', 'abcd:EF01::', ':', '1.2.3.4::', '::1.2.3.4:5', '0:0:0:0:0:0:0:0'
  ])('%j', (s) => {
    expect(ipVersion(s)).toBe(isIP(s))
  })

  it('for generated addresses and near-misses', () => {
    const hex = fc.stringMatching(/^[0-9a-fA-F]{0,5}$/)
    const v4 = fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((p) => p.join('.'))
    const v6 = fc.array(fc.oneof(hex, fc.constant(''), v4), { minLength: 1, maxLength: 10 }).map((g) => g.join(':'))
    const noise = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%'.split('')), maxLength: 20 })
    fc.assert(fc.property(fc.oneof(v4, v6, noise), (s) => {
      expect(ipVersion(s)).toBe(isIP(s))
    }), { numRuns: 5000 })
  })
})

describe('geoip-lite locator', () => {
  const locator = createGeoIpLocator()

  it.each([
    ['8.8.8.8', 'US'],
    ['::ffff:8.8.8.8', 'US'],
    ['2a00:1450:4001:80b::200e', 'DE']
  ])('locates %s in %s', (ip, country) => {
    const hit = locator.lookup(ip)
    expect(hit?.country).toBe(country)
    expect(Number.isFinite(hit?.lat)).toBe(true)
  })

  it.each(['10.0.0.1', '127.0.0.1', '::1', '1.1.1.1'])('has no location for %s', (ip) => {
    expect(locator.lookup(ip)).toBeUndefined()
  })
})

describe('client locator (request headers)', () => {
  it('locates the same header text as the same location, any number of distinct ones correctly, refusals every time', () => {
    const locate = createClientLocator(topology, fakeIp, 'FRA')
    const lhr = locate({ 'x-sim-client': 'LHR' })
    expect(lhr).toMatchObject({ country: 'GB', source: 'iata', input: 'LHR' })
    expect(locate({ 'x-sim-client': 'LHR' })).toBe(lhr)
    expect(locate({ 'x-sim-client-ip': '81.2.69.160' })).toMatchObject({ lat: 51.75, lon: -0.33, country: 'GB', source: 'ip' })
    expect(locate({ 'x-sim-client': 'Sao Paulo' })).toMatchObject({ country: 'BR', source: 'city', input: 'Sao Paulo' })
    expect(locate({})).toMatchObject({ country: 'DE', input: 'FRA' })
    // More distinct locations than the locator keeps: each still located from its own text.
    for (let i = 0; i < 5000; i++) {
      const lat = (i % 180) - 89.5
      const lon = (i % 360) - 179.5 + i / 10000
      expect(locate({ 'x-sim-client': `${lat},${lon}` })).toMatchObject({ lat, lon, source: 'latlon' })
    }
    expect(locate({ 'x-sim-client': 'LHR' })).toMatchObject({ country: 'GB', input: 'LHR' })
    for (let i = 0; i < 2; i++) {
      expect(() => locate({ 'x-sim-client': 'XXX' })).toThrow(expect.objectContaining({ code: 'SIM_ERR_CLIENT_LOCATION_INVALID' }))
      expect(() => locate({ 'x-sim-client-ip': '203.0.113.1' })).toThrow(expect.objectContaining({ code: 'SIM_ERR_CLIENT_IP_UNLOCATED' }))
    }
  })

  it('takes the IP address over x-sim-client when both are sent, and refuses a repeated x-sim-client-ip as a list', () => {
    const locate = createClientLocator(topology, fakeIp, 'FRA')
    expect(locate({ 'x-sim-client-ip': '81.2.69.160', 'x-sim-client': 'SYD' })).toMatchObject({ country: 'GB', source: 'ip' })
    // Node joins a repeated header's values with ", ".
    expect(() => locate({ 'x-sim-client-ip': '81.2.69.160, 8.8.8.8' })).toThrow(expect.objectContaining({ code: 'SIM_ERR_BAD_REQUEST', message: expect.stringContaining('one address, not a list') }))
  })

  it('refuses two x-sim-client fields, which Node joins into one value that could read as "lat, lon"', () => {
    const locate = createClientLocator(topology, fakeIp, 'FRA')
    // Sent as "10" and "20", received as "10, 20".
    expect(() => locate({ 'x-sim-client': '10, 20' }, ['Host', 'a.example', 'x-sim-client', '10', 'X-Sim-Client', '20']))
      .toThrow(expect.objectContaining({ code: 'SIM_ERR_BAD_REQUEST', message: expect.stringContaining('x-sim-client must be sent once, not 2 times') }))
    // One field with the same text is a location.
    expect(locate({ 'x-sim-client': '10, 20' }, ['Host', 'a.example', 'x-sim-client', '10, 20'])).toMatchObject({ lat: 10, lon: 20, source: 'latlon' })
    expect(locate({ 'x-sim-client': 'SYD' }, ['x-sim-client', 'SYD'])).toMatchObject({ source: 'iata', input: 'SYD' })
  })

  it('takes only an IP address in x-sim-client-ip: a PoP code or a word there is a bad address, not a location', () => {
    const locate = createClientLocator(topology, fakeIp, 'FRA')
    for (const v of ['SYD', 'garbage', '51.5;-0.1', '999.1.1.1']) {
      expect(() => locate({ 'x-sim-client-ip': v }), v).toThrow(expect.objectContaining({ code: 'SIM_ERR_CLIENT_IP_INVALID', message: expect.stringContaining(`"${v}"`) }))
    }
  })
})
