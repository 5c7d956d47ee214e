// The command line as a whole (runCli): bad input of every kind is a coded error and exit status 2, never a stack.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../src/cli/main.ts'

const dir = mkdtempSync(join(tmpdir(), 'rsim-cli-'))
function file (name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

async function cli (args: string[], stdinText = ''): Promise<{ code: number, stdout: string, stderr: string }> {
  const streams = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() }
  const out: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' }
  streams.stdout.on('data', (c: Buffer) => { out.stdout += c.toString() })
  streams.stderr.on('data', (c: Buffer) => { out.stderr += c.toString() })
  streams.stdin.end(stdinText)
  const code = await runCli(args, { ...streams, cwd: dir, env: {} })
  return { code, ...out }
}

const BOMB = file('bomb.yaml', [
  'a: &a [x, x, x, x, x, x, x, x, x]',
  'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
  'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
  'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
  'customers:',
  '  - { host: shop.example, origin: { pop: FRA } }'
].join('\n'))

describe('a YAML alias bomb', () => {
  it.each([
    ['check', '--config', BOMB],
    ['plan', '--config', BOMB, '--client', 'FRA', '--host', 'shop.example'],
    ['start', '--config', BOMB, '--no-warm-up']
  ])('%s: SIM_ERR_CONFIG_INVALID naming the file and line, exit 2', async (...args) => {
    const r = await cli(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`SIM_ERR_CONFIG_INVALID`)
    expect(r.stderr).toContain(`${BOMB}:2:`)
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /)
  })
})

describe('positional arguments', () => {
  it.each([
    ['check', 'broken.yaml'],
    ['plan', 'extra', '--client', 'SYD', '--host', 'eu-shop.example'],
    ['pops', 'extra'],
    ['regions', 'extra'],
    ['start', 'extra', '--no-warm-up']
  ])('%s refuses an unexpected argument', async (...args) => {
    const r = await cli(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/SIM_ERR_BAD_REQUEST: bad request: unexpected argument "(broken\.yaml|extra)"/)
    expect(r.stdout).toBe('')
  })

  it('check suggests --config for a file name', async () => {
    expect((await cli(['check', 'broken.yaml'])).stderr).toContain('rsim check --config broken.yaml')
  })
})

describe('negative coordinates as option values', () => {
  it('plan --client takes "-33.87,151.21" unquoted, like --client=', async () => {
    const spaced = await cli(['plan', '--client', '-33.87,151.21', '--host', 'eu-shop.example', '--json'])
    const joined = await cli(['plan', '--client=-33.87,151.21', '--host', 'eu-shop.example', '--json'])
    expect(spaced.code).toBe(0)
    expect(JSON.parse(spaced.stdout)).toMatchObject({ ingress: 'SYD', client: { lat: -33.87, lon: 151.21 } })
    expect(spaced.stdout).toBe(joined.stdout)
  })

  it('rtt still takes negative places as arguments', async () => {
    const r = await cli(['rtt', '--json', '-33.87,151.21', '-1.2,3'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ a: { lat: -33.87 }, b: { lat: -1.2, lon: 3 } })
  })

  it('a negative number after a flag that takes no value is still an error', async () => {
    const r = await cli(['plan', '--json', '-33.87,151.21', '--host', 'eu-shop.example'])
    expect(r.code).toBe(2)
  })
})

describe('key policies that no PoP of the scenario satisfies', () => {
  it.each([
    ['a geo policy without a region', 'keys: { mode: geo, policy: "country: ZZ" }', 'allows no PoP of this scenario'],
    ['a geo policy outside network.pops', 'keys: { mode: geo, policy: "country: JP" }', 'allows no PoP of this scenario'],
    ['a keyless allow-list outside network.pops', 'keys: { mode: keyless, server: FRA, allow: [NRT] }', 'unknown PoP "NRT"']
  ])('%s is SIM_ERR_CONFIG_INCONSISTENT in check', async (_name, keys, message) => {
    const config = file('keys.yaml', [
      'network: { pops: [FRA, LHR, IAD], logCores: { eu: FRA, us: IAD } }',
      'customers:',
      `  - { host: shop.example, ${keys}, origin: { pop: FRA } }`
    ].join('\n'))
    const r = await cli(['check', '--config', config])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('SIM_ERR_CONFIG_INCONSISTENT')
    expect(r.stderr).toContain(message)
  })
})

describe('--input that cannot be read', () => {
  it.each([
    ['plan', dir, 'a directory, not a file'],
    ['rtt', dir, 'a directory, not a file'],
    ['plan', join(dir, 'missing.csv'), 'no such file'],
    ['rtt', join(dir, 'missing.csv'), 'no such file']
  ])('%s --input %s: SIM_ERR_INPUT_INVALID, exit 2', async (command, input, reason) => {
    const r = await cli([command, '--input', input])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`SIM_ERR_INPUT_INVALID: invalid input at ${input}: ${reason}`)
  })

  it.skipIf(process.getuid?.() === 0)('an unreadable file: permission denied', async () => {
    const input = file('secret.csv', 'a_lat,a_lon,b_lat,b_lon\n')
    chmodSync(input, 0)
    const r = await cli(['rtt', '--input', input])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('permission denied')
  })
})

describe('conflicting batch input', () => {
  it('plan --input refuses the options of a single request', async () => {
    const input = file('ok.csv', 'client,host,down\nSYD,eu-shop.example,\n')
    const r = await cli(['plan', '--input', input, '--down', 'SYD', '--client', 'FRA', '--json'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('SIM_ERR_BAD_REQUEST')
    expect(r.stderr).toContain('cannot be combined with --client, --down, --json')
    expect(r.stdout).toBe('')
  })

  it('plan --input still takes --strategy and --config', async () => {
    const input = file('ok.csv', 'client,host,down\nSYD,eu-shop.example,\n')
    const r = await cli(['plan', '--input', input, '--strategy', 'least-total'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ inspection: 'FRA' })
  })

  it.each([
    ['rtt', 'a_lat,a_lon,b_lat,b_lon,a_lat\n1,2,3,4,5\n', 'a_lat'],
    ['plan', 'client,host,down,host\nSYD,eu-shop.example,,x.example\n', 'host']
  ])('%s: a header naming a column twice is SIM_ERR_INPUT_INVALID', async (command, csv, column) => {
    const r = await cli([command, '--input', '-'], csv)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`SIM_ERR_INPUT_INVALID: invalid input at -:1: the header names the column ${column} more than once`)
  })
})

describe('a client at a PoP outside the scenario', () => {
  const config = new URL('../../config/examples/small-europe.yaml', import.meta.url).pathname

  it('plan says SYD is a PoP, but not one of this scenario', async () => {
    const r = await cli(['plan', '--config', config, '--client', 'SYD', '--host', 'paris-media.example'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('SYD (Sydney, NSW) is a PoP, but not a PoP of this scenario (network.pops)')
    expect(r.stderr).not.toContain('no PoP has the IATA code')
  })

  it('a code that is no PoP at all is still reported as such', async () => {
    const r = await cli(['plan', '--config', config, '--client', 'QQQ', '--host', 'paris-media.example'])
    expect(r.stderr).toContain('no PoP has the IATA code QQQ')
  })
})
