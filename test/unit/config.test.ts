// Configuration loading: the embedded default, defaults, every kind of error with its path and line, the editor schema.
import { readFile } from 'node:fs/promises'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { Value } from '@sinclair/typebox/value'
import { SimError } from '../../src/core/errors.ts'
import { createGeoIpLocator } from '../../src/net/geoip-locator.ts'
import { defaultScenarioPath, editorJsonSchema, loadScenario, parseScenario, ScenarioSchema } from '../../src/config/index.ts'
import type { ConfigProblem } from '../../src/config/index.ts'
import { renderSchema, schemaPath } from '../../scripts/write-schema.ts'
import { REGION_CATALOGUE } from '../../src/core/regions.ts'
import type { Command } from '../../src/cli/command.ts'
import { COMMANDS } from '../../src/cli/main.ts'
import { runCommand } from '../helpers/run-command.ts'

const MINIMAL = 'customers:\n  - host: a.example\n    origin: { pop: FRA }\n'
// "Billion laughs": each list repeats the previous one nine times.
const ALIAS_BOMB = 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n' +
  'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n' + MINIMAL

/** GeoLite2's locator, as the CLI passes it: an IP address as defaultClient must have a known location. */
const ipLocator = createGeoIpLocator()

function problemsOf (text: string): { err: SimError, problems: readonly ConfigProblem[] } {
  try {
    parseScenario(text, 'test.yaml', { ipLocator })
  } catch (err) {
    expect(err).toBeInstanceOf(SimError)
    const e = err as SimError
    return { err: e, problems: (e.details as { problems: ConfigProblem[] }).problems }
  }
  throw new Error('expected SIM_ERR_CONFIG_INVALID')
}

describe('the embedded default scenario', () => {
  it('loads from any working directory and is deep-frozen', async () => {
    const s = await loadScenario()
    expect(defaultScenarioPath).toMatch(/config[\\/]default\.yaml$/)
    expect(Object.isFrozen(s)).toBe(true)
    expect(Object.isFrozen(s.customers)).toBe(true)
    expect(Object.isFrozen(s.customers[0]?.origin)).toBe(true)
    expect(Object.isFrozen(s.network.logCores)).toBe(true)
    expect(() => { (s.latency as { accessMs: number }).accessMs = 1 }).toThrow(TypeError)
  })

  it('has exactly the documented customers', async () => {
    const s = await loadScenario()
    const summary = s.customers.map((c) => [c.host, c.region, c.keys, c.logRegion, c.failover, c.origin.pop])
    expect(summary).toEqual([
      ['eu-shop.example', 'eu', { mode: 'geo', policy: 'eu' }, 'eu', 'closed', 'FRA'],
      ['us-bank.example', 'us', { mode: 'keyless', server: 'IAD' }, 'us', 'closed', 'IAD'],
      ['in-health.example', 'in', { mode: 'geo', policy: '(country: IN)' }, null, 'closed', 'BOM'],
      ['de-gov.example', 'de', { mode: 'geo', policy: '(country: DE)' }, 'eu', 'closed', 'FRA'],
      ['uk-news.example', 'gb', { mode: 'everywhere' }, 'eu', 'closed', 'LHR'],
      ['au-retail.example', 'au', { mode: 'everywhere' }, null, 'open', 'SYD'],
      ['global.example', null, { mode: 'everywhere' }, null, 'closed', 'SJC']
    ])
  })

  it('is valid against the TypeBox schema', async () => {
    expect(Value.Check(ScenarioSchema, await loadScenario())).toBe(true)
  })
})

describe('examples', () => {
  const dir = fileURLToPath(new URL('../../config/examples/', import.meta.url))
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'))
  it('there are some', () => expect(files.length).toBeGreaterThanOrEqual(2))
  it.each(files)('%s loads', async (f) => {
    const s = await loadScenario(dir + f)
    expect(s.customers.length).toBeGreaterThan(0)
  })
  // An example's header may suggest a command to try on it: that command works as written, from the project's root.
  const tried = files.flatMap((f) => {
    const m = /Try: rsim (\S+) ([^\n]+)/.exec(readFileSync(dir + f, 'utf8'))
    return m === null ? [] : [[f, m[1] as string, (m[2] as string).trim().split(/\s+/)] as const]
  })
  it('suggest commands to try', () => expect(tried.length).toBeGreaterThan(0))
  it.each(tried)('%s: the command it suggests works', async (_f, name, args) => {
    const command = COMMANDS.find((c) => c.name === name)
    expect(command, name).toBeDefined()
    const res = await runCommand(command as Command, [...args], '', fileURLToPath(new URL('../..', import.meta.url)))
    expect(res.error?.message).toBeUndefined()
    expect(res.code).toBe(0)
  })
})

describe('defaults', () => {
  it('fills every omitted field', () => {
    const s = parseScenario(MINIMAL)
    expect(s.latency).toEqual({ enabled: true, timeScale: 1, accessMs: 5, hopProcessingMs: 0.25, jitter: 0, seed: 1 })
    expect(s.network).toEqual({ pops: 'all', defaultClient: 'LHR', strategy: 'nearest', logCores: { eu: 'FRA', us: 'IAD' } })
    expect(s.regions).toEqual([])
    expect(s.server).toEqual({
      host: '127.0.0.1',
      edgePort: 8080,
      controlPort: 8081,
      tlsPort: 8443,
      popBasePort: 0,
      bodyLimitBytes: 1048576,
      headerLimitBytes: 16384,
      upstreamTimeoutMs: 10000,
      keepAliveTimeoutMs: 10000,
      signatureWindowMs: 30000,
      ledgerSize: 1000
    })
    expect(s.logging).toEqual({ level: 'info' })
    expect(s.customers[0]).toEqual({
      host: 'a.example',
      region: null,
      keys: { mode: 'everywhere' },
      logRegion: null,
      failover: 'closed',
      chinaNetwork: false,
      origin: { pop: 'FRA', responseBytes: 1024, serviceTimeMs: 1 }
    })
  })

  it('keeps given values and fills the siblings', () => {
    const s = parseScenario('latency: { accessMs: 0 }\nnetwork: { logCores: { eu: AMS } }\n' + MINIMAL)
    expect(s.latency.accessMs).toBe(0)
    expect(s.latency.timeScale).toBe(1)
    expect(s.network.logCores).toEqual({ eu: 'AMS', us: 'IAD' })
  })

  it('accepts custom regions, v2 policies, keyless allow lists and a PoP subset', () => {
    const s = parseScenario(`
network: { pops: [FRA, VIE, ZRH, IAD], defaultClient: '48.2,16.37' }
regions: [{ id: dach, name: DACH, countries: [DE, AT, CH] }]
customers:
  - host: a.example
    region: dach
    keys: { mode: geo, policy: '(region: EU) and (not country: FR)' }
    origin: { pop: VIE }
  - host: b.example
    keys: { mode: keyless, server: IAD, allow: [IAD] }
    strategy: load-aware
    origin: { pop: IAD }
`)
    expect(s.customers.map((c) => c.region)).toEqual(['dach', null])
    expect(s.customers[1]?.strategy).toBe('load-aware')
  })

  it('accepts ephemeral ports more than once, and PoP ports that end at 65535', () => {
    const s = parseScenario('network: { pops: [FRA, LHR, IAD] }\nserver: { edgePort: 0, controlPort: 0, tlsPort: 0, popBasePort: 65533 }\n' + MINIMAL)
    expect(s.server.popBasePort).toBe(65533)
  })

  it.each(['81.2.69.160', '2a00:1450:4001:80b::200e', '-33.9,151.2', 'SYD', 'Paris', 'sao paulo', 'San Jose, CA'])('accepts defaultClient %s', (client) => {
    expect(parseScenario(`network: { defaultClient: '${client}' }\n` + MINIMAL, 'test.yaml', { ipLocator }).network.defaultClient).toBe(client)
  })

  it('checks an IP address given as defaultClient only for its form when no locator is given', () => {
    // Without a locator the runtime refuses it when it starts (test/integration/runtime-start.test.ts).
    expect(parseScenario('network: { defaultClient: 10.0.0.1 }\n' + MINIMAL).network.defaultClient).toBe('10.0.0.1')
    expect(problemsOf('network: { defaultClient: 10.0.0.1 }\n' + MINIMAL).problems.map((p) => p.path)).toEqual(['network.defaultClient'])
  })

  it.each(['New York', 'Portland, ME', 'Ufa'])('accepts defaultClient %s, a city with no PoP', (client) => {
    expect(parseScenario(`network: { defaultClient: '${client}' }\n` + MINIMAL).network.defaultClient).toBe(client)
  })

  it('accepts as defaultClient a city whose PoP the scenario leaves out: the client is in that city', () => {
    expect(parseScenario('network:\n  pops: [FRA, IAD]\n  defaultClient: Paris\n' + MINIMAL).network.defaultClient).toBe('Paris')
  })

  it('accepts a city two PoPs share as defaultClient when the scenario runs one of them', () => {
    expect(parseScenario('network: { pops: [SJC, FRA, IAD], defaultClient: San Jose }\n' + MINIMAL).network.defaultClient).toBe('San Jose')
  })
})

describe('invalid configuration', () => {
  // [name, yaml, expected path, expected line, message fragment]
  const cases: Array<[string, string, string, number, string]> = [
    ['YAML syntax', 'customers: [ { host: a.example\n', '', 2, 'Flow'],
    ['alias bomb', ALIAS_BOMB, '', 2, 'aliases expand too much'],
    ['duplicate YAML key', 'latency: {}\nlatency: {}\n' + MINIMAL, '', 2, 'unique'],
    ['unknown top-level field', 'latncy: {}\n' + MINIMAL, 'latncy', 1, 'unknown field "latncy"'],
    ['unknown nested field', MINIMAL + '    origin2: 1\n', 'customers[0].origin2', 4, 'unknown field'],
    ['wrong type', 'latency:\n  accessMs: fast\n' + MINIMAL, 'latency.accessMs', 2, 'expected a number, found "fast"'],
    ['out of range', 'latency:\n  jitter: 2\n' + MINIMAL, 'latency.jitter', 2, 'less or equal to 1'],
    ['infinite number', 'latency:\n  accessMs: .inf\n' + MINIMAL, 'latency.accessMs', 2, 'expected a number, found Infinity, which is not a finite number'],
    ['not a number', 'latency:\n  timeScale: .nan\n' + MINIMAL, 'latency.timeScale', 2, 'found NaN, which is not a finite number'],
    ['timeScale must be positive', 'latency: { timeScale: 0 }\n' + MINIMAL, 'latency.timeScale', 1, 'greater than 0'],
    ['ledgerSize too large to allocate', 'server:\n  ledgerSize: 500000000\n' + MINIMAL, 'server.ledgerSize', 2, 'less or equal to 100000'],
    ['responseBytes too large', 'customers:\n  - host: a.example\n    origin: { pop: FRA, responseBytes: 1000000000 }\n', 'customers[0].origin.responseBytes', 3, 'less or equal to 16777216'],
    ['timeout past the timer range', 'server:\n  upstreamTimeoutMs: 3000000000\n' + MINIMAL, 'server.upstreamTimeoutMs', 2, 'less or equal to 3600000'],
    ['header limit too large', 'server:\n  headerLimitBytes: 100000000\n' + MINIMAL, 'server.headerLimitBytes', 2, 'less or equal to 1048576'],
    ['PoP ports past 65535', 'network: { pops: [FRA, LHR, IAD] }\nserver:\n  popBasePort: 65534\n' + MINIMAL, 'server.popBasePort', 3, 'would need ports up to 65536'],
    ['PoP ports past 65535 (all PoPs)', 'server:\n  popBasePort: 65500\n' + MINIMAL, 'server.popBasePort', 2, 'past 65535'],
    ['edgePort equal to controlPort', 'server:\n  edgePort: 9000\n  controlPort: 9000\n' + MINIMAL, 'server.controlPort', 3, "already server.edgePort's"],
    ['tlsPort equal to edgePort', 'server:\n  edgePort: 9000\n  tlsPort: 9000\n' + MINIMAL, 'server.tlsPort', 3, "already server.edgePort's"],
    ['PoP ports over the edge port', 'network: { pops: [FRA, LHR, IAD] }\nserver:\n  popBasePort: 8079\n' + MINIMAL, 'server.popBasePort', 3, 'include server.edgePort (8080)'],
    ['port out of range', 'server:\n  edgePort: 70000\n' + MINIMAL, 'server.edgePort', 2, '65535'],
    ['bad enum', 'network:\n  strategy: fastest\n' + MINIMAL, 'network.strategy', 2, '"nearest" or "least-total" or "load-aware"'],
    ['missing customers', 'latency: {}\n', 'customers', 1, 'required'],
    ['empty customers', 'customers: []\n', 'customers', 1, 'at least 1 item'],
    ['missing origin', 'customers:\n  - host: a.example\n', 'customers[0].origin', 2, 'required'],
    ['unknown PoP (origin)', 'customers:\n  - host: a.example\n    origin: { pop: XYZ }\n', 'customers[0].origin.pop', 3, 'unknown PoP "XYZ"'],
    ['malformed PoP id', 'customers:\n  - host: a.example\n    origin: { pop: fra }\n', 'customers[0].origin.pop', 3, 'three capital letters'],
    ['unknown PoP (network.pops)', 'network:\n  pops: [FRA, QQQ]\n' + MINIMAL, 'network.pops[1]', 2, 'unknown PoP "QQQ"'],
    ['unknown PoP (logCores)', 'network:\n  logCores:\n    eu: QQQ\n' + MINIMAL, 'network.logCores.eu', 3, 'unknown PoP'],
    ['unknown PoP (key server)', 'customers:\n  - host: a.example\n    keys: { mode: keyless, server: QQQ }\n    origin: { pop: FRA }\n', 'customers[0].keys.server', 3, 'unknown PoP'],
    ['unknown PoP (keyless allow)', 'customers:\n  - host: a.example\n    keys: { mode: keyless, server: IAD, allow: [IAD, QQQ] }\n    origin: { pop: FRA }\n', 'customers[0].keys.allow[1]', 3, 'unknown PoP'],
    ['unknown PoP (custom region)', 'regions:\n  - { id: x, name: X, pops: [QQQ] }\n' + MINIMAL, 'regions[0].pops[0]', 2, 'unknown PoP'],
    ['unknown region', 'customers:\n  - host: a.example\n    region: mars\n    origin: { pop: FRA }\n', 'customers[0].region', 3, 'unknown region "mars"'],
    ['custom region clashes with catalogue', 'regions:\n  - { id: eu, name: Mine, countries: [DE] }\n' + MINIMAL, 'regions[0].id', 2, 'already exists'],
    ['custom region defined twice', 'regions:\n  - { id: x, name: X, countries: [DE] }\n  - { id: x, name: Y, countries: [FR] }\n' + MINIMAL, 'regions[1].id', 3, 'defined twice'],
    ['empty custom region', 'regions:\n  - { id: x, name: X }\n' + MINIMAL, 'regions[0]', 2, 'at least one of'],
    ['duplicate host', MINIMAL + '  - host: a.example\n    origin: { pop: IAD }\n', 'customers[1].host', 4, 'duplicate host "a.example" (already customers[0])'],
    ['uppercase host', 'customers:\n  - host: Shop.Example\n    origin: { pop: FRA }\n', 'customers[0].host', 2, 'expected a lowercase hostname'],
    ['invalid host', 'customers:\n  - host: "a b"\n    origin: { pop: FRA }\n', 'customers[0].host', 2, 'expected a lowercase hostname'],
    ['host with a bang', 'customers:\n  - host: "bad host!"\n    origin: { pop: FRA }\n', 'customers[0].host', 2, 'expected a lowercase hostname'],
    ['host with a leading dash', 'customers:\n  - host: -a.example\n    origin: { pop: FRA }\n', 'customers[0].host', 2, 'expected a lowercase hostname'],
    ['host with an empty label', 'customers:\n  - host: a..b\n    origin: { pop: FRA }\n', 'customers[0].host', 2, 'expected a lowercase hostname'],
    ['unknown key mode', 'customers:\n  - host: a.example\n    keys: { mode: nowhere }\n    origin: { pop: FRA }\n', 'customers[0].keys.mode', 3, '"everywhere" or "geo" or "keyless", found "nowhere"'],
    ['geo without policy', 'customers:\n  - host: a.example\n    keys: { mode: geo }\n    origin: { pop: FRA }\n', 'customers[0].keys.policy', 3, 'required'],
    ['bad log region', 'customers:\n  - host: a.example\n    logRegion: asia\n    origin: { pop: FRA }\n', 'customers[0].logRegion', 3, '"eu" or "us", or null'],
    ['bad defaultClient', 'network: { defaultClient: Atlantis }\n' + MINIMAL, 'network.defaultClient', 1, 'neither a PoP IATA code'],
    ['defaultClient a misspelt city', 'network: { defaultClient: Frankfrut }\n' + MINIMAL, 'network.defaultClient', 1, 'nor an IP address (did you mean Frankfurt (FRA) or Frankfort, US?)'],
    ['defaultClient a city two PoPs share', 'network: { defaultClient: San Jose }\n' + MINIMAL, 'network.defaultClient', 1, '2 PoPs are in a city of that name: SJC (San Jose, CA, US), SJO (San Jose, CR)'],
    ['defaultClient a city several cities share', 'network: { defaultClient: Springfield }\n' + MINIMAL, 'network.defaultClient', 1, '5 cities have that name: Springfield, MA'],
    ['defaultClient three letters neither a PoP nor a city', 'network: { defaultClient: ZZZ }\n' + MINIMAL, 'network.defaultClient', 1, 'unknown PoP "ZZZ" (not in regions/pops.json, and no city has that name)'],
    ['defaultClient out of range', 'network: { defaultClient: "95,10" }\n' + MINIMAL, 'network.defaultClient', 1, 'latitude'],
    ['defaultClient a private address', 'network: { defaultClient: 10.0.0.1 }\n' + MINIMAL, 'network.defaultClient', 1, 'no known location'],
    ['defaultClient a loopback address', 'network:\n  defaultClient: "::1"\n' + MINIMAL, 'network.defaultClient', 2, 'no known location'],
    ['defaultClient left at LHR outside the scenario', 'network:\n  pops: [FRA, IAD]\n' + MINIMAL, 'network.defaultClient', 2, 'not a PoP of this scenario (not in network.pops) (the default;'],
    ['defaultClient a PoP outside the scenario', 'network:\n  pops: [FRA, IAD]\n  defaultClient: SYD\n' + MINIMAL, 'network.defaultClient', 3, 'not a PoP of this scenario'],
    ['inspection header Host', 'customers:\n  - host: a.example\n    origin: { pop: FRA }\n    inspection:\n      header: { name: host, value: x }\n', 'customers[0].inspection.header.name', 5, 'set, framed or removed by the data path'],
    ['inspection header Content-Length', 'customers:\n  - host: a.example\n    origin: { pop: FRA }\n    inspection:\n      header: { name: Content-Length, value: 5 }\n', 'customers[0].inspection.header.name', 5, 'set, framed or removed'],
    ['inspection header hop-by-hop', 'customers:\n  - host: a.example\n    origin: { pop: FRA }\n    inspection:\n      header: { name: Transfer-Encoding, value: chunked }\n', 'customers[0].inspection.header.name', 5, 'set, framed or removed'],
    ['inspection header x-sim-*', 'customers:\n  - host: a.example\n    origin: { pop: FRA }\n    inspection:\n      header: { name: X-Sim-Client, value: SYD }\n', 'customers[0].inspection.header.name', 5, 'set, framed or removed'],
    ['inspection header value with CR LF', 'customers:\n  - host: a.example\n    origin: { pop: FRA }\n    inspection:\n      header: { name: x-inspected, value: "a\\r\\nx-evil: 1" }\n', 'customers[0].inspection.header.value', 5, 'not a valid HTTP field value at character 2'],
    ['inspection header value with trailing space', 'customers:\n  - host: a.example\n    origin: { pop: FRA }\n    inspection:\n      header: { name: x-inspected, value: "ab " }\n', 'customers[0].inspection.header.value', 5, 'not a valid HTTP field value at character 3'],
    ['bad policy syntax', 'customers:\n  - host: a.example\n    keys: { mode: geo, policy: "(country: DE) an (region: EU)" }\n    origin: { pop: FRA }\n', 'customers[0].keys.policy', 3, 'column 15'],
    ['bad v1 policy', 'customers:\n  - host: a.example\n    keys: { mode: geo, policy: europe }\n    origin: { pop: FRA }\n', 'customers[0].keys.policy', 3, 'v1 policies are us, eu, highest_security']
  ]

  it.each(cases)('%s', (_name, yaml, path, line, fragment) => {
    const { err, problems } = problemsOf(yaml)
    expect(err.code).toBe('SIM_ERR_CONFIG_INVALID')
    expect(err.statusCode).toBe(500)
    const p = problems.find((x) => x.path === path && x.message.includes(fragment))
    expect(p, JSON.stringify(problems)).toBeDefined()
    expect(p?.line).toBe(line)
    expect(p?.file).toBe('test.yaml')
    expect(err.message).toContain(`test.yaml:${line}:${p?.column} ${path || '(document)'}: `)
  })

  it('points at the offending character of a policy written on one line', () => {
    const policy = '(country: DE) an (region: EU)'
    const text = `customers:\n  - host: a.example\n    keys: { mode: geo, policy: '${policy}' }\n    origin: { pop: FRA }\n`
    const { problems } = problemsOf(text)
    const lineText = text.split('\n')[2] as string
    expect(problems[0]?.column).toBe(lineText.indexOf("'") + 1 + 1 + policy.indexOf('an'))
  })

  it('reports every problem at once, in file order', () => {
    const { err, problems } = problemsOf(`latency:
  jitter: -1
  bogus: true
network:
  pops: [FRA, QQQ]
customers:
  - host: a.example
    region: mars
    origin: { pop: ZZZ }
  - host: a.example
    keys: { mode: geo, policy: '(country: ' }
    origin: { pop: FRA }
`)
    expect(problems.map((p) => [p.line, p.path])).toEqual([
      [2, 'latency.jitter'],
      [3, 'latency.bogus'],
      [5, 'network.defaultClient'],
      [5, 'network.pops[1]'],
      [8, 'customers[0].region'],
      [9, 'customers[0].origin.pop'],
      [10, 'customers[1].host'],
      [11, 'customers[1].keys.policy']
    ])
    expect(err.message.split('\n')).toHaveLength(1 + problems.length)
    expect(problems.every((p) => p.column >= 1 && p.pointer.startsWith('/'))).toBe(true)
  })

  it('reports a value of the wrong shape once, not once per alternative', () => {
    const { problems } = problemsOf('customers:\n  - host: a.example\n    region: 5\n    origin: { pop: FRA }\n')
    expect(problems).toHaveLength(1)
    expect(problems[0]?.message).toContain('or null, found number 5')
  })

  it('rejects a document that is not a mapping', () => {
    const { problems } = problemsOf('- just\n- a list\n')
    expect(problems[0]?.path).toBe('')
  })
})

describe('inspection headers', () => {
  it('accepts an ordinary field with obs-text and inner spaces', () => {
    const s = parseScenario(MINIMAL + '    inspection:\n      header: { name: x-inspected-at, value: "eu region \\xe9" }\n')
    expect(s.customers[0]?.inspection?.header).toEqual({ name: 'x-inspected-at', value: 'eu region \xe9' })
  })
})

describe('loadScenario', () => {
  it('reports an unreadable file as SIM_ERR_CONFIG_READ', async () => {
    await expect(loadScenario('/nonexistent/scenario.yaml')).rejects.toMatchObject({ code: 'SIM_ERR_CONFIG_READ' })
  })

  it('names the file in validation errors', async () => {
    const err = await loadScenario(fileURLToPath(new URL('../../package.json', import.meta.url))).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'SIM_ERR_CONFIG_INVALID' })
    expect((err as Error).message).toMatch(/package\.json:1:1 /)
  })
})

describe('config/schema.json', () => {
  it('bounds every numeric size, count and time from above', () => {
    interface Node { type?: string, maximum?: number, properties?: Record<string, Node>, items?: Node, anyOf?: Node[] }
    const unbounded: string[] = []
    const walk = (s: Node, path: string): void => {
      if ((s.type === 'integer' || s.type === 'number') && s.maximum === undefined) unbounded.push(path)
      for (const v of s.anyOf ?? []) walk(v, path)
      if (s.items) walk(s.items, path + '[]')
      for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, path === '' ? k : `${path}.${k}`)
    }
    walk(editorJsonSchema() as Node, '')
    expect(unbounded).toEqual([])
  })


  it('is up to date with the TypeBox schema (run `npm run schema`)', async () => {
    expect(await readFile(schemaPath, 'utf8')).toBe(renderSchema())
  })

  it('publishes the hostname rule for editors', () => {
    const doc = JSON.parse(renderSchema()) as { properties: { customers: { items: { properties: { host: { pattern: string } } } } } }
    const host = new RegExp(doc.properties.customers.items.properties.host.pattern)
    for (const bad of ['bad host!', '-a.example', 'a..b', 'Shop.example', 'a-.example']) expect(host.test(bad), bad).toBe(false)
    for (const good of ['eu-shop.example', 'a', 'x1.y-2.example']) expect(host.test(good), good).toBe(true)
  })

  it('requires only what has no default', () => {
    const doc = JSON.parse(renderSchema()) as { required: string[], properties: { customers: { items: { required: string[] } } } }
    expect(doc.required).toEqual(['customers'])
    expect(doc.properties.customers.items.required).toEqual(['host', 'origin'])
  })
})

describe('the region count in the docs', () => {
  it.each(['docs/configuration.md', 'config/default.yaml', 'README.md'])('%s states the catalogue size', async (path) => {
    const text = await readFile(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8')
    const stated = [...text.matchAll(/\b(\d+) (?:documented regions|documented\s+processing regions|in all \(`rsim regions`\))/g)].map((m) => Number(m[1]))
    expect(stated.length).toBeGreaterThan(0)
    expect(stated.every((n) => n === REGION_CATALOGUE.length)).toBe(true)
  })
})

describe('docs/configuration.md', () => {
  interface Node { properties?: Record<string, Node>, items?: Node, anyOf?: Node[] }
  function fields (s: Node, path: string, out: Set<string>): Set<string> {
    for (const v of s.anyOf ?? []) fields(v, path, out)
    if (s.items) fields(s.items, path + '[]', out)
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      const p = path === '' ? k : `${path}.${k}`
      if (!v.properties && !v.items?.properties && !v.anyOf?.some((a) => a.properties)) out.add(p)
      fields(v, p, out)
    }
    return out
  }

  it('documents every field of the schema', async () => {
    const doc = await readFile(fileURLToPath(new URL('../../docs/configuration.md', import.meta.url)), 'utf8')
    const missing = [...fields(editorJsonSchema() as Node, '', new Set())].filter((f) => !doc.includes('`' + f + '`'))
    expect(missing).toEqual([])
  })
})
