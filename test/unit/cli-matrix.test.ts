// `rsim matrix` run in-process: the added-latency table agrees with the planner cell by cell, its options, and its
// coded refusals.
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { HEADLINE_CITIES, matrixCommand } from '../../src/cli/commands/matrix.ts'
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
    expect(lines).toHaveLength(2 + HEADLINE_CITIES.length)
    for (const [i, city] of HEADLINE_CITIES.entries()) {
      const cells = (lines[2 + i] as string).slice(`${city.city} (${city.code})`.length).trim().split(/\s+/)
      expect(cells.map(Number)).toEqual(regional.map((host) => {
        const p = plan({ client: at(city.code), host, newConnection: true }, world)
        return p.outcome === 'served' ? Math.round(p.addedMs * 10) / 10 : Number.NaN
      }))
    }
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
    expect(lines.slice(2).map((l) => /\(([A-Z]{3})\)/.exec(l)?.[1]).sort()).toEqual(['AMS', 'CDG', 'FRA', 'IAD', 'LHR', 'MAN', 'MUC', 'VIE', 'ZRH'])
  })

  it.each([
    [['--host', 'nope.example'], 'SIM_ERR_INPUT_INVALID', /no customer is configured for host "nope\.example"/],
    [['--client', 'Atlantis'], 'SIM_ERR_INPUT_INVALID', /invalid input at --client/],
    [['--all-pops', '--client', 'SYD'], 'SIM_ERR_BAD_REQUEST', /--all-pops and --client name the clients twice/],
    [['--down', 'XXX'], 'SIM_ERR_INPUT_INVALID', /unknown PoP "XXX"/],
    [['--strategy', 'fastest'], 'SIM_ERR_BAD_REQUEST', /--strategy must be one of/],
    [['--config', example('keyless-us.yaml')], 'SIM_ERR_INPUT_INVALID', /no customer with a processing region; name one with --host/]
  ])('refuses %j with %s', async (args, code, message) => {
    const r = await runCommand(matrixCommand, args)
    expect(r.error?.code).toBe(code)
    expect(r.error?.message).toMatch(message)
  })
})
