// `rsim rtt` run in-process on PassThrough streams: single pairs, JSON, CSV batches and their errors.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { rttCommand } from '../../src/cli/commands/rtt.ts'
import { runCommand } from '../helpers/run-command.ts'
import { distanceKm } from '../../src/core/geo.ts'
import { pathRttMs } from '../../src/core/latency.ts'
import { loadTopology } from '../../src/core/topology.ts'

function run (args: string[], stdinText = '', cwd = process.cwd()) {
  return runCommand(rttCommand, args, stdinText, cwd)
}

const topology = loadTopology()
const fra = topology.byId.get('FRA')!
const lhr = topology.byId.get('LHR')!

describe('rsim rtt <a> <b>', () => {
  it('prints distance and modelled RTT between two PoPs', async () => {
    const r = await run(['FRA', 'lhr'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`distance  ${distanceKm(fra, lhr).toFixed(1)} km`)
    expect(r.stdout).toContain(`rtt       ${pathRttMs(fra, lhr).toFixed(3)} ms`)
    expect(r.stdout).toContain('FRA (Frankfurt, DE)')
  })

  it('takes PoP cities as places and names their PoPs', async () => {
    const r = await run(['Frankfurt', 'london'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('from      FRA (Frankfurt, DE)')
    expect(r.stdout).toContain('to        LHR (London, GB)')
    expect(r.stdout).toContain(`rtt       ${pathRttMs(fra, lhr).toFixed(3)} ms`)
    const sjc = (await run(['San Jose, CA', 'FRA'])).stdout
    expect(sjc).toContain('from      SJC (San Jose, CA, US)')
  })

  it('accepts negative coordinates as places, not options, and prints JSON', async () => {
    const r = await run(['-33.87,151.21', '-23.55,-46.63', '--json'])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.a).toMatchObject({ lat: -33.87, lon: 151.21, source: 'latlon' })
    expect(j.b).toMatchObject({ lat: -23.55, lon: -46.63, source: 'latlon' })
    expect(j.rttMs).toBeCloseTo(pathRttMs({ lat: -33.87, lon: 151.21 }, { lat: -23.55, lon: -46.63 }), 3)
    expect(j.distanceKm).toBeGreaterThan(13_000)
  })

  it('locates IP addresses', async () => {
    const r = await run(['8.8.8.8', 'FRA', '--json'])
    expect(JSON.parse(r.stdout).a).toMatchObject({ source: 'ip', country: 'US' })
  })

  it.each([
    [['FRA'], 'SIM_ERR_BAD_REQUEST'],
    [['FRA', 'AMS', 'CDG'], 'SIM_ERR_BAD_REQUEST'],
    [['--bogus', 'FRA', 'AMS'], 'SIM_ERR_BAD_REQUEST'],
    [['XXX', 'AMS'], 'SIM_ERR_INPUT_INVALID'],
    [['FRA', '999.1.1.1'], 'SIM_ERR_INPUT_INVALID'],
    [['FRA', '10.1.2.3'], 'SIM_ERR_INPUT_INVALID']
  ])('%j fails with %s', async (args, code) => {
    const r = await run(args)
    expect(r.error?.code).toBe(code)
  })

  it('prints help', async () => {
    const r = await run(['--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('rsim rtt <a> <b>')
  })
})

describe('rsim rtt --input', () => {
  it('round-trips a CSV: rows kept as they are, columns in any order, rtt_ms added', async () => {
    const rows = [
      ['note', 'b_lat', 'b_lon', 'a_lat', 'a_lon'],
      ['"London, UK to Frankfurt"', '50.1109', '8.6821', '51.5074', '-0.1278'],
      ['same place', '0', '0', '0', '0'],
      ['"quote ""inside"""', '-33.8688', '151.2093', '34.0522', '-118.2437']
    ]
    const input = rows.map((r) => r.join(',')).join('\r\n') + '\r\n\r\n'
    const r = await run(['--input', '-'], input)
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(4)
    expect(lines[0]).toBe('note,b_lat,b_lon,a_lat,a_lon,rtt_ms')
    for (let i = 1; i < rows.length; i++) {
      const [, bLat, bLon, aLat, aLon] = rows[i]!.map(Number)
      const expected = pathRttMs({ lat: aLat!, lon: aLon! }, { lat: bLat!, lon: bLon! }).toFixed(3)
      expect(lines[i]).toBe(`${rows[i]!.join(',')},${expected}`)
    }
    expect(r.stderr).toContain('3 rows')
  })

  it('reads a file relative to cwd and streams many rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rsim-rtt-'))
    const n = 20_000
    const body = ['a_lat,a_lon,b_lat,b_lon']
    for (let i = 0; i < n; i++) body.push(`${(i % 180) - 89.5},${(i % 360) - 179.5},${(i % 7) * 10},${(i % 11) * 10}`)
    writeFileSync(join(dir, 'pairs.csv'), body.join('\n'))
    const r = await run(['--input', 'pairs.csv'], '', dir)
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(n + 1)
    expect(lines[n]).toMatch(/,\d+\.\d{3}$/)
  })

  it.each([
    ['a_lat,a_lon,b_lat\n1,2,3\n', '-:1', /missing b_lon/],
    ['a_lat,a_lon,b_lat,b_lon,rtt_ms\n1,2,3,4,5\n', '-:1', /already has an rtt_ms/],
    ['a_lat,a_lon,b_lat,b_lon\n1,2,3,4\n1,2,3\n', '-:3', /expected 4 fields, found 3/],
    ['a_lat,a_lon,b_lat,b_lon\n1,2,3,4\n\n95,2,3,4\n', '-:4', /a_lat: latitude 95 is outside/],
    ['a_lat,a_lon,b_lat,b_lon\n1,2,x,4\n', '-:2', /b_lat: latitude "x" is not a decimal number/],
    ['a_lat,a_lon,b_lat,b_lon\n"1,2,3,4\n', '-:2', /unterminated/],
    ['', '-', /empty input/]
  ])('bad input %j names %s', async (input, where, reason) => {
    const r = await run(['--input', '-'], input)
    expect(r.error?.code).toBe('SIM_ERR_INPUT_INVALID')
    expect(r.error?.message).toContain(`at ${where}:`)
    expect(r.error?.message).toMatch(reason)
  })

  it('names a missing file', async () => {
    const r = await run(['--input', 'does-not-exist.csv'], '', tmpdir())
    expect(r.error?.code).toBe('SIM_ERR_INPUT_INVALID')
    expect(r.error?.message).toMatch(/no such file/)
  })
})
