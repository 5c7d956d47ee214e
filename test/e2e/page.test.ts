// The teaching page in a real browser: headless Debian Chromium driven by playwright-core against a small live
// simulation on 127.0.0.1. The page must draw every PoP, take one down on a click, and show a request sent through the
// edge as a path and a ledger entry as soon as the ledger stream delivers it.
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseScenario } from '../../src/config/load.ts'
import { startSimulation, type StartedSimulation } from '../../src/runtime/start.ts'

const CHROMIUM = '/usr/bin/chromium'
// Debian's Chromium as root on a machine with no network but the package registries: no sandbox (root), no GPU, and
// none of the background connections that the closed network would refuse at every start.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

// Spread over every continent, so that at the world view no marker hides another one's centre (clicks land on it).
const POPS = ['SYD', 'NRT', 'SIN', 'BOM', 'JNB', 'CAI', 'FRA', 'MAD', 'ARN', 'LHR', 'IAD', 'ORD', 'SJC', 'SJO', 'GRU', 'SCL']

const SCENARIO = `
latency: { enabled: false }
network:
  pops: [${POPS.join(', ')}]
  logCores: { eu: FRA, us: IAD }
server: { edgePort: 0, controlPort: 0, popBasePort: 0 }
logging: { level: silent }
customers:
  - host: eu-shop.example
    region: eu
    keys: { mode: geo, policy: eu }
    logRegion: eu
    origin: { pop: FRA }
  - host: global.example
    origin: { pop: SJC }
`

function needChromium (): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser test needs Debian's chromium package, which .ci/run installs ` +
      '(apt-get install chromium). Install it, or set RSIM_SKIP_BROWSER=1 to leave this test out.')
  }
}

interface BrowserSession {
  readonly sim: StartedSimulation
  readonly page: Page
  /** Uncaught errors of the page's scripts. */
  readonly errors: string[]
}

/**
 * For one describe block: the simulation `start` starts, and Chromium on a fresh profile (nothing left over from
 * another session) at its control page, once the page says it is ready; both closed after the block, then `after`.
 */
function browserSession (start: () => Promise<StartedSimulation>, after?: () => Promise<void>): BrowserSession {
  let sim: StartedSimulation | undefined
  let context: BrowserContext | undefined
  let profile: string | undefined
  let page: Page | undefined
  const errors: string[] = []
  beforeAll(async () => {
    needChromium()
    sim = await start()
    profile = await mkdtemp(join(tmpdir(), 'rsim-chromium-'))
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 }
    })
    page = context.pages()[0] ?? await context.newPage()
    page.on('pageerror', (err) => errors.push(err.message))
    await page.goto(sim.controlUrl)
    // Set by the page once the topology, the customers, the open event stream and the recent history are in.
    await page.locator('body[data-ready="true"]').waitFor()
  })
  afterAll(async () => {
    await context?.close()
    if (profile !== undefined) await rm(profile, { recursive: true, force: true })
    await sim?.close()
    await after?.()
  })
  const ready = <T>(x: T | undefined): T => {
    if (x === undefined) throw new Error('the browser session has not started')
    return x
  }
  return { get sim () { return ready(sim) }, get page () { return ready(page) }, errors }
}

// RSIM_SKIP_BROWSER=1 is the one way to leave this suite out; a missing browser otherwise fails it, loudly.
describe.skipIf(process.env.RSIM_SKIP_BROWSER === '1')('teaching page in Chromium', () => {
  const s = browserSession(async () => startSimulation(parseScenario(SCENARIO, 'page.test.ts'), {
    logger: pino({ level: 'silent' }),
    // Clients are given as IATA codes: no GeoLite2 lookup needed.
    ipLocator: { lookup: () => undefined }
  }))

  it('draws one marker per PoP', async () => {
    const markers = await s.page.locator('#pops circle').all()
    const ids = await Promise.all(markers.map((m) => m.getAttribute('data-pop')))
    expect(ids.sort()).toEqual([...POPS].sort())
    expect(await s.page.locator('#status').textContent()).toBe('live')
  })

  it('draws land and borders behind the markers, with the credit of their source', async () => {
    expect((await s.page.locator('#land').getAttribute('d'))?.length).toBeGreaterThan(10_000)
    expect((await s.page.locator('#borders').getAttribute('d'))?.length).toBeGreaterThan(1_000)
    expect(await s.page.locator('#basemap-credit').textContent()).toContain('Natural Earth')
    // Behind the PoPs: the base map comes first in the SVG, so a marker is never covered by it.
    expect(await s.page.locator('#map > g').evaluateAll((gs) => gs.map((g) => g.id))).toEqual(['basemap', 'grid', 'pops', 'labels', 'paths'])
  })

  it('takes a PoP down when it is clicked, and brings it back on a second click', async () => {
    const marker = s.page.locator('circle[data-pop="SIN"]')
    await marker.click()
    await expect.poll(() => marker.getAttribute('class')).toContain('down')
    expect(await popIsDown('SIN')).toBe(true)
    expect(await s.page.locator('#pop-info').textContent()).toContain('SIN (Singapore, SG) is down')

    await marker.click()
    await expect.poll(() => marker.getAttribute('class')).not.toContain('down')
    expect(await popIsDown('SIN')).toBe(false)
  })

  it('shows a request sent through the edge as a path and a ledger entry, from the event stream', async () => {
    const res = await request(`${s.sim.edgeUrl}/`, { headers: { host: 'eu-shop.example', 'x-sim-client': 'SYD' } })
    await res.body.dump()
    expect(res.statusCode).toBe(200)
    const ray = String(res.headers['x-sim-ray'])

    // The page was ready before the request was sent, so the entry can only have come through the stream.
    const entry = s.page.locator(`#ledger li[data-ray="${ray}"]`)
    await entry.waitFor()
    expect(await entry.getAttribute('data-via')).toBe('stream')
    const text = await entry.textContent()
    expect(text).toContain('entered at SYD (Sydney')
    expect(text).toContain('Ciphertext relayed, not decrypted, at SYD')
    expect(text).toMatch(/Decrypted and inspected \(TLS terminated, WAF\) at [A-Z]{3} .*: inside eu/)
    expect(text).toContain('controller: eu-shop.example, processor: the network')
    expect(text).toContain('measured on loopback (latency off: software time only)')
    // Each hop's modelled round trip against what it measured (latency off: the software time alone).
    expect(text).toMatch(/Round trips, modelled \/ measured ms: access client→SYD [\d.]+ \/ [\d.]+ · relay \(ciphertext\) SYD→[A-Z]{3} [\d.]+ \/ [\d.]+ · .*to origin [A-Z]{3}→origin/)

    // Drawn on the map: the client's access hop, the relay out of Australia and the hop to the origin.
    const path = s.page.locator(`#paths g[data-ray="${ray}"]`)
    await path.waitFor()
    for (const kind of ['access', 'relay', 'origin']) expect(await path.locator(`path.seg.${kind}`).count()).toBeGreaterThan(0)
    expect(s.errors).toEqual([])
  })

  it('suggests the PoPs\' cities in the client field, then the world\'s cities of a million people', async () => {
    const options = await s.page.locator('#client-places option').evaluateAll((os) => os.map((o) => o.getAttribute('value') as string))
    // One per PoP: its city, the US state left off, and with its country where two PoPs share the name (SJC and SJO).
    expect(options).toContain('Sydney')
    expect(options).toEqual(expect.arrayContaining(['San Jose, CR', 'San Jose, US']))
    expect(options).not.toContain('San Jose')
    const world = options.slice(POPS.length)
    expect(options.slice(0, POPS.length).every((o) => !/, [A-Z]{2}$/.test(o) || o.startsWith('San Jose'))).toBe(true)
    // Then the large cities, with their country, except where a PoP's city has the name (Tokyo is NRT's).
    expect(world).toEqual(expect.arrayContaining(['New York, US', 'Pyongyang, KP']))
    expect(world.every((o) => o.includes(', '))).toBe(true)
    expect(world).toEqual(expect.arrayContaining(['Suzhou, Anhui', 'Suzhou, Jiangsu']))
    expect(world.some((o) => o.startsWith('Tokyo,') || o.startsWith('Sydney,'))).toBe(false)
    expect(world.length).toBeGreaterThan(100)
    expect(await s.page.locator('#client').getAttribute('list')).toBe('client-places')
  })

  it('sends a request through the edge from the page, for a client given by its city, and shows its path', async () => {
    await s.page.locator('#customer').selectOption('eu-shop.example')
    await s.page.locator('#client').fill('São Paulo')
    await s.page.locator('#send').click()
    const result = s.page.locator('#plan')
    await expect.poll(() => result.textContent()).toMatch(/^Sent through the edge: 200, entered at GRU \(Sao Paulo, BR\), inspected at [A-Z]{3} \(.*\), TLS handshake local; [\d.]+ ms \(latency off: software time only\)\. Ray [0-9a-f]{16}-GRU: its ledger entry is below\.$/)
    const ray = /Ray ([0-9a-f]{16}-GRU)/.exec(await result.textContent() ?? '')?.[1]
    const entry = s.page.locator(`#ledger li[data-ray="${ray}"]`)
    await entry.waitFor()
    expect(await entry.textContent()).toContain('entered at GRU (Sao Paulo')
    await s.page.locator(`#paths g[data-ray="${ray}"]`).waitFor()

    // A refusal is shown as what the client got.
    await s.page.locator('#client').fill('Frankfrut')
    await s.page.locator('#send').click()
    await expect.poll(() => result.textContent()).toMatch(/^Sent through the edge: 400, SIM_ERR_CLIENT_LOCATION_INVALID: .*did you mean Frankfurt \(FRA\) or Frankfort, US\?/)
    await s.page.locator('#customer').selectOption('')
    expect(s.errors).toEqual([])
  })

  async function popIsDown (id: string): Promise<boolean> {
    const res = await request(`${s.sim.controlUrl}/api/pops/${id}`)
    return ((await res.body.json()) as { down: boolean }).down
  }
})

// Fault injection for the fidelity badge: with latency on, an origin that takes 150 ms of real time the model does not
// know about makes every response leave late, as a machine too busy for its load would.
describe.skipIf(process.env.RSIM_SKIP_BROWSER === '1')('teaching page of a simulation behind its model', () => {
  let slowOrigin: Server | undefined
  const s = browserSession(async () => {
    const slow = createServer((_req, res) => { setTimeout(() => res.end('slow'), 150) })
    slowOrigin = slow
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
    return startSimulation(parseScenario(SCENARIO.replace('latency: { enabled: false }', 'latency: { enabled: true, jitter: 0 }'), 'page.test.ts'), {
      logger: pino({ level: 'silent' }),
      ipLocator: { lookup: () => undefined },
      externalOrigins: new Map([['global.example', `http://127.0.0.1:${(slow.address() as AddressInfo).port}`]])
    })
  }, async () => {
    // Not started when the session failed before it (no browser): nothing to close, and nothing to wait for.
    const origin = slowOrigin
    if (origin !== undefined) await new Promise((resolve) => origin.close(resolve))
  })

  async function send (host: string): Promise<string> {
    const res = await request(`${s.sim.edgeUrl}/`, { headers: { host, 'x-sim-client': 'SJC' } })
    await res.body.dump()
    expect(res.statusCode).toBe(200)
    return String(res.headers['x-sim-ray'])
  }

  it('says it keeps up until most of the latest responses are late, then says it is behind, and marks each late one', async () => {
    const badge = s.page.locator('#fidelity')
    expect(await badge.isHidden()).toBe(true)
    const onTime = await send('eu-shop.example')
    await s.page.locator(`#ledger li[data-ray="${onTime}"]`).waitFor()
    // Too few to judge yet (even if this first request of a cold simulation was late itself).
    await expect.poll(() => badge.textContent()).toBe('keeping up with its model')

    const late: string[] = []
    for (let i = 0; i < 5; i++) late.push(await send('global.example'))
    const entry = s.page.locator(`#ledger li[data-ray="${late[4]}"]`)
    await entry.waitFor()
    expect(await entry.locator('.head .badge.bad').textContent()).toMatch(/^left \d+(\.\d)? ms late$/)
    await expect.poll(() => badge.textContent()).toMatch(/^behind its model: [56] of the last 6 responses late$/)
    expect(await badge.getAttribute('class')).toBe('status bad')
    // Readable: white on red (a generic .bad rule once turned the text red on red).
    expect(await badge.evaluate((e) => (globalThis as unknown as { getComputedStyle (x: typeof e): { color: string } }).getComputedStyle(e).color)).toBe('rgb(255, 255, 255)')
    expect(s.errors).toEqual([])
  })
})
