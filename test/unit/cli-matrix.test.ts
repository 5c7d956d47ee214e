// `rsim matrix` run in-process: the added-latency table agrees with the planner cell by cell, its options, and its
// coded refusals.
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { HEADLINE_CITIES, columnMean, matrixCommand } from '../../src/cli/commands/matrix.ts'
import { loadScenario } from '../../src/config/load.ts'
import { parseClientLocation } from '../../src/core/client.ts'
import { plan } from '../../src/core/planner.ts'
import type { ClientLocation, World } from '../../src/core/types.ts'
import { buildWorld } from '../../src/core/world.ts'
import { runCommand } from '../helpers/run-command.ts'

const example = (name: string): string => fileURLToPath(new URL(`../../config/examples/${name}`, import.meta.url))
let world: World

beforeAll(async () => {
  world = buildWorld(await loadScenario()).world
})

function at (input: string): ClientLocation {
  const c = parseClientLocation(input, world.topology, { lookup: () => undefined })
  if ('error' in c) throw new Error(input)
  return c
}

interface Cell { client: string, host: string, outcome: string, route?: string, addedMs?: number, modelledMs?: number, baselineMs?: number, code?: string }

describe('rsim matrix', () => {
  it('tables every regional customer from the ten headline cities, each cell the planner\'s added latency', async () => {
    const r = await runCommand(matrixCommand, [])
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe('Added latency of data localisation, ms (modelled; new TLS connections; "refused": no plan serves it)')
    const regional = [...world.customers.values()].filter((c) => c.region !== null).map((c) => c.host)
    expect(lines[1]?.split(/\s+/)).toEqual(['client', ...regional.map((h) => h.split('.')[0])])
    expect(lines).toHaveLength(3 + HEADLINE_CITIES.length)
    const table = HEADLINE_CITIES.map((city) => regional.map((host) => {
      const p = plan({ client: at(city.code), host, newConnection: true }, world)
      return p.outcome === 'served' ? Math.round(p.addedMs * 10) / 10 : Number.NaN
    }))
    for (const [i, city] of HEADLINE_CITIES.entries()) {
      const cells = (lines[2 + i] as string).slice(`${city.city} (${city.code})`.length).trim().split(/\s+/)
      expect(cells.map(Number)).toEqual(table[i])
    }
    // The last row: each column's mean over the ten cities (every one served by the default scenario).
    const means = (lines.at(-1) as string).slice('mean'.length).trim().split(/\s+/).map(Number)
    expect(lines.at(-1)).toMatch(/^mean /)
    expect(means).toEqual(regional.map((_h, j) => Number((table.reduce((sum, row) => sum + (row[j] as number), 0) / table.length).toFixed(1))))
  })

  it('reads client places and their weights from a CSV file, and weights the mean by them', async () => {
    const csv = 'client,weight,team\nNew York,40,sales\n"Portland, ME",10,\nTokyo,50,support\nAtlantis-free row,0,\n'
    const r = await runCommand(matrixCommand, ['--clients', '-', '--host', 'eu-shop.example', '--host', 'us-bank.example', '--json'], csv.replace('Atlantis-free row', 'Sydney'))
    expect(r.code).toBe(0)
    const cells = JSON.parse(r.stdout) as (Cell & { weight: number })[]
    expect(cells.map((c) => [c.client, c.host, c.weight])).toEqual([
      ['New York', 'eu-shop.example', 40], ['New York', 'us-bank.example', 40],
      ['Portland, ME', 'eu-shop.example', 10], ['Portland, ME', 'us-bank.example', 10],
      ['Tokyo', 'eu-shop.example', 50], ['Tokyo', 'us-bank.example', 50],
      ['Sydney', 'eu-shop.example', 0], ['Sydney', 'us-bank.example', 0]
    ])
    const p = plan({ client: at('New York'), host: 'eu-shop.example', newConnection: true }, world)
    if (p.outcome !== 'served') throw new Error('eu-shop is served from New York')
    expect(cells[0]).toMatchObject({ route: `EWR>${p.inspection}`, addedMs: Math.round(p.addedMs * 10) / 10 })
    const text = await runCommand(matrixCommand, ['--clients', '-', '--host', 'eu-shop.example', '--host', 'us-bank.example'], csv.replace('Atlantis-free row', 'Sydney'))
    const last = text.stdout.trimEnd().split('\n').at(-1) as string
    expect(last).toMatch(/^weighted mean /)
    const want = ['eu-shop.example', 'us-bank.example'].map((host) => {
      const mine = cells.filter((c) => c.host === host)
      return (mine.reduce((sum, c) => sum + c.weight * (c.addedMs as number), 0) / 100).toFixed(1)
    })
    expect(last.slice('weighted mean'.length).trim().split(/\s+/)).toEqual(want)
  })

  it('weighs a client whose weight cell is empty, or that has no weight column, as 1', async () => {
    const hosts = ['--host', 'eu-shop.example']
    const empty = await runCommand(matrixCommand, ['--clients', '-', ...hosts, '--json'], 'client,weight\nBerlin,\nSydney,3\n')
    expect(empty.code).toBe(0)
    expect((JSON.parse(empty.stdout) as { weight: number }[]).map((c) => c.weight)).toEqual([1, 3])
    const none = await runCommand(matrixCommand, ['--clients', '-', ...hosts], 'client\nBerlin\nSydney\n')
    expect(none.code).toBe(0)
    // Every weight 1: a plain mean.
    expect(none.stdout.trimEnd().split('\n').at(-1)).toMatch(/^mean +\d+\.\d$/)
  })

  it('takes the mean over the clients a column serves, and says what share it refuses', async () => {
    const csv = 'client,weight\nBerlin,3\nSydney,1\n'
    const down = 'FRA,TXL,DUS,HAM,MUC,STR'
    const r = await runCommand(matrixCommand, ['--clients', '-', '--host', 'de-gov.example', '--host', 'eu-shop.example', '--down', down], csv)
    expect(r.code).toBe(0)
    // Germany down: de-gov is refused for every client, so its mean is too.
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^weighted mean +refused +\d+\.\d$/)
    // A column refused for some clients only (refusals depend on the ingress where a key policy and the region differ).
    expect(columnMean([
      { client: 'a', host: 'h', outcome: 'served', addedMs: 10 },
      { client: 'b', host: 'h', outcome: 'refused', code: 'SIM_ERR_REGION_UNAVAILABLE' },
      { client: 'c', host: 'h', outcome: 'served', addedMs: 30 }
    ], [1, 2, 3])).toEqual({ meanMs: 25, refusedShare: 2 / 6 })
    expect(columnMean([{ client: 'a', host: 'h', outcome: 'refused' }], [1])).toEqual({ meanMs: undefined, refusedShare: 1 })
  })

  it('takes hosts and client places of any kind, resumed sessions, down PoPs, and prints JSON cells', async () => {
    const args = ['--host', 'de-gov.example', '--host', 'us-bank.example', '--host', 'de-gov.example', '--client', 'Sydney', '--client', '48.85,2.35', '--client', 'SYD', '--resumed', '--down', 'FRA,TXL,DUS,HAM,MUC,STR', '--json']
    const r = await runCommand(matrixCommand, args)
    expect(r.code).toBe(0)
    const cells = JSON.parse(r.stdout) as Cell[]
    expect(cells).toHaveLength(6)
    // Germany down: de-gov fails closed everywhere; the bank is served, a resumed session paying no key hop.
    expect(cells.filter((c) => c.host === 'de-gov.example').map((c) => [c.outcome, c.code])).toEqual(Array(3).fill(['refused', 'SIM_ERR_REGION_UNAVAILABLE']))
    const bank = cells.find((c) => c.host === 'us-bank.example' && c.client === 'Sydney') as Cell
    const p = plan({ client: at('SYD'), host: 'us-bank.example', newConnection: false }, world)
    if (p.outcome !== 'served') throw new Error('the bank is served from Sydney')
    expect(bank).toEqual({ client: 'Sydney', host: 'us-bank.example', outcome: 'served', route: `SYD>${p.inspection}`, modelledMs: p.modelledMs, baselineMs: p.baselineMs, addedMs: Math.round(p.addedMs * 10) / 10 })
    // The same place by its city and by its IATA code: the same cell.
    expect(cells.find((c) => c.host === 'us-bank.example' && c.client === 'SYD')).toMatchObject({ addedMs: bank.addedMs, route: bank.route })
    const text = await runCommand(matrixCommand, args.slice(0, -1))
    expect(text.stdout).toContain('(modelled; resumed TLS sessions; down: FRA TXL DUS HAM MUC STR; "refused": no plan serves it)')
    expect(text.stdout).toMatch(/^Sydney +refused +\d+\.\d$/m)
  })

  it('puts a client at every PoP of a scenario with --all-pops', async () => {
    const r = await runCommand(matrixCommand, ['--all-pops', '--config', example('small-europe.yaml')])
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[1]?.split(/\s+/)).toEqual(['client', 'alpen-bank', 'paris-media'])
    expect(lines.at(-1)).toMatch(/^mean +\d+\.\d +\d+\.\d$/)
    expect(lines.slice(2, -1).map((l) => /\(([A-Z]{3})\)/.exec(l)?.[1]).sort()).toEqual(['AMS', 'CDG', 'FRA', 'IAD', 'LHR', 'MAN', 'MUC', 'VIE', 'ZRH'])
  })

  it.each([
    [['--host', 'nope.example'], 'SIM_ERR_INPUT_INVALID', /no customer is configured for host "nope\.example"/],
    [['--client', 'Atlantis'], 'SIM_ERR_INPUT_INVALID', /invalid input at --client/],
    [['--all-pops', '--client', 'SYD'], 'SIM_ERR_BAD_REQUEST', /--client and --all-pops name the clients twice/],
    [['--clients', '-', '--client', 'SYD'], 'SIM_ERR_BAD_REQUEST', /--client and --clients name the clients twice/],
    [['--clients', 'no-such-file.csv'], 'SIM_ERR_INPUT_INVALID', /no-such-file\.csv: no such file/],
    [['--down', 'XXX'], 'SIM_ERR_INPUT_INVALID', /unknown PoP "XXX"/],
    [['--strategy', 'fastest'], 'SIM_ERR_BAD_REQUEST', /--strategy must be one of/],
    [['--config', example('keyless-us.yaml')], 'SIM_ERR_INPUT_INVALID', /no customer with a processing region; name one with --host/]
  ])('refuses %j with %s', async (args, code, message) => {
    const r = await runCommand(matrixCommand, args)
    expect(r.error?.code).toBe(code)
    expect(r.error?.message).toMatch(message)
  })

  it.each([
    ['client,weight\nBerlin,x\n', /-:2: weight "x" is not a non-negative number/],
    ['client,weight\nBerlin,-1\n', /-:2: weight "-1" is not a non-negative number/],
    ['client,weight\n,2\n', /-:2: the client column is empty/],
    ['who,weight\nBerlin,1\n', /-:1: the header must name the columns client; missing client/],
    ['client\n', /no client rows after the header/],
    ['client,weight\nBerlin,0\nSydney,0\n', /every weight is 0/],
    ['client\nAtlantis\n', /invalid input at -:2: SIM_ERR_CLIENT_LOCATION_INVALID/]
  ])('refuses the clients file %j', async (csv, message) => {
    const r = await runCommand(matrixCommand, ['--clients', '-'], csv)
    expect(r.error?.code).toBe('SIM_ERR_INPUT_INVALID')
    expect(r.error?.message).toMatch(message)
  })
})
