// `rsim plan`, `pops`, `regions` and `check` run in-process: output shapes, batches, exit codes and coded errors.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkCommand } from '../../src/cli/commands/check.ts'
import { planCommand } from '../../src/cli/commands/plan.ts'
import { popsCommand } from '../../src/cli/commands/pops.ts'
import { regionsCommand } from '../../src/cli/commands/regions.ts'
import { runCommand } from '../helpers/run-command.ts'

describe('rsim plan', () => {
  it('prints the plan as JSON with the documented fields', async () => {
    const r = await runCommand(planCommand, ['--client', 'SYD', '--host', 'eu-shop.example', '--json'])
    expect(r.code).toBe(0)
    const p = JSON.parse(r.stdout)
    for (const field of ['outcome', 'client', 'ingress', 'inspection', 'tls', 'logRegion', 'hops', 'modelledMs', 'addedMs', 'ledger']) {
      expect(p).toHaveProperty(field)
    }
    expect(p.client).toMatchObject({ country: 'AU' })
    expect(p.tls).toMatchObject({ at: p.inspection, key: 'local' })
    expect(p.hops[0]).toMatchObject({ from: 'client', to: 'SYD' })
  })

  it('prints a readable summary and exits 3 on a refusal', async () => {
    const r = await runCommand(planCommand, ['--client', '52.52,13.40', '--host', 'de-gov.example', '--down', 'FRA,TXL,DUS,HAM,MUC,STR'])
    expect(r.code).toBe(3)
    expect(r.stdout).toMatch(/REFUSED 503 SIM_ERR_REGION_UNAVAILABLE/)
    // What the network saw of the refused request: its own security telemetry at the ingress.
    expect(r.stdout).toMatch(/\n {2}ledger\n {4}ok {3}security-telemetry observed {2}at [A-Z]{3} \([A-Z]{2}\), network is controller\n?$/)
    const unknown = await runCommand(planCommand, ['--client', 'SYD', '--host', 'nobody.example'])
    expect(unknown.code).toBe(3)
    expect(unknown.stdout).toContain('REFUSED 421 SIM_ERR_HOST_UNKNOWN\n  reason      no customer is configured for host "nobody.example"\n  ingress     SYD Sydney, NSW (AU)')
    expect(unknown.stdout).toContain('security-telemetry observed  at SYD (AU), network is controller')
  })

  it('--strategy compares selection strategies for the same request', async () => {
    const nearest = JSON.parse((await runCommand(planCommand, ['--client', 'SYD', '--host', 'eu-shop.example', '--json'])).stdout)
    const total = JSON.parse((await runCommand(planCommand, ['--client', 'SYD', '--host', 'eu-shop.example', '--json', '--strategy', 'least-total'])).stdout)
    expect(nearest.inspection).toBe('LCA')
    expect(total.inspection).toBe('FRA')
    expect(total.modelledMs).toBeLessThanOrEqual(nearest.modelledMs)
    expect((await runCommand(planCommand, ['--client', 'SYD', '--host', 'eu-shop.example', '--strategy', 'fastest'])).error?.message).toMatch(/--strategy must be one of nearest, least-total, load-aware/)
  })

  it('locates IP clients with GeoLite2', async () => {
    const r = await runCommand(planCommand, ['--client', '81.2.69.160', '--host', 'global.example', '--json'])
    expect(JSON.parse(r.stdout)).toMatchObject({ ingress: 'LHR', client: { country: 'GB' } })
  })

  it.each([
    [['--client', 'nowhere', '--host', 'eu-shop.example'], /SIM_ERR_CLIENT_LOCATION_INVALID/],
    [['--client', '999.1.1.1', '--host', 'eu-shop.example'], /SIM_ERR_CLIENT/],
    [['--client', 'SYD', '--host', 'eu-shop.example', '--down', 'XXX'], /unknown PoP "XXX"/],
    [['--client', 'SYD'], /--client and --host are required/],
    [['--bogus'], /Unknown option '--bogus'/]
  ])('bad input %j gives a coded error', async (args, message) => {
    const r = await runCommand(planCommand, args)
    expect(r.code).toBe(2)
    expect(r.error?.message).toMatch(message)
  })

  it('plans a CSV batch, one JSON plan per line, with quoted lat,lon and empty down lists', async () => {
    const csv = 'client,host,down\nSYD,eu-shop.example,\n"48.85,2.35",de-gov.example,FRA TXL DUS HAM MUC STR\nIAD,us-bank.example,IAD\n'
    const r = await runCommand(planCommand, ['--input', '-'], csv)
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatchObject({ outcome: 'served', ingress: 'SYD' })
    expect(lines[1]).toMatchObject({ outcome: 'refused', code: 'SIM_ERR_REGION_UNAVAILABLE' })
    expect(lines[2]).toMatchObject({ outcome: 'served' })
    expect(lines[2].ingress).not.toBe('IAD')
    expect(r.stderr).toMatch(/planned 3 requests/)
  })

  it('a bad batch row names its line; earlier rows are still written', async () => {
    const csv = 'client,host,down\nSYD,eu-shop.example,\nnowhere,eu-shop.example,\n'
    const r = await runCommand(planCommand, ['--input', '-'], csv)
    expect(r.error?.code).toBe('SIM_ERR_INPUT_INVALID')
    expect(r.error?.message).toMatch(/-:3/)
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
  })

  it('an empty host is a mistake in the input (exit 2), on the command line and in a batch row, not a refused plan', async () => {
    for (const host of ['', '  ']) {
      const r = await runCommand(planCommand, ['--client', 'SYD', '--host', host])
      expect(r.code).toBe(2)
      expect(r.error?.message).toBe('invalid input at --host: the host is empty; give a customer host, e.g. eu-shop.example')
    }
    const batch = await runCommand(planCommand, ['--input', '-'], 'client,host,down\nSYD,eu-shop.example,\nSYD,,\n')
    expect(batch.code).toBe(2)
    expect(batch.error?.message).toBe('invalid input at -:3: the host is empty; give a customer host, e.g. eu-shop.example')
    expect(batch.stdout.trim().split('\n')).toHaveLength(1)
  })

  it('a batch without the required header is refused', async () => {
    const r = await runCommand(planCommand, ['--input', '-'], 'SYD,eu-shop.example,\n')
    expect(r.error?.message).toMatch(/must name the columns client, host, down/)
  })

  it('uses the scenario given with --config and reports its errors with file and line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rsim-'))
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'customers:\n  - host: a.example\n    origin: { pop: NOPE }\n')
    const r = await runCommand(planCommand, ['--client', 'SYD', '--host', 'a.example', '--config', file])
    expect(r.error?.code).toBe('SIM_ERR_CONFIG_INVALID')
    expect(r.error?.message).toContain(`${file}:3`)
  })
})

describe('rsim pops / regions / check', () => {
  it('lists the PoPs of a region', async () => {
    const r = await runCommand(popsCommand, ['--region', 'de'])
    expect(r.stdout).toMatch(/^FRA /m)
    expect(r.stdout).toMatch(/6 PoPs/)
    expect(r.stdout).not.toMatch(/^LHR /m)
  })

  it('counts one PoP as one', async () => {
    expect((await runCommand(popsCommand, ['--region', 'at'])).stdout).toMatch(/^VIE .*\n1 PoP\n$/)
  })

  it('refuses an unknown region', async () => {
    expect((await runCommand(popsCommand, ['--region', 'atlantis'])).error?.code).toBe('SIM_ERR_REGION_UNKNOWN')
  })

  it('lists the regions, marking assumed memberships', async () => {
    const r = await runCommand(regionsCommand, [])
    expect(r.stdout).toMatch(/^eu\s+group\s+\d+ PoPs\s+European Union/m)
    // One PoP is one PoP, in the same column.
    expect(r.stdout).toMatch(/^at\s+country\s+1 PoP {3}Austria$/m)
    expect(r.stdout).toMatch(/^fedramp-domestic .*\(assumed\)/m)
  })

  it('checks the default scenario and prints notes', async () => {
    const r = await runCommand(checkCommand, [])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/valid: 340 PoPs/)
    expect(r.stdout).toMatch(/note: customer uk-news\.example: processed in gb/)
  })

  it.each([planCommand, popsCommand, regionsCommand, checkCommand])('$name --help', async (command) => {
    const r = await runCommand(command, ['--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Usage:/)
  })
})
