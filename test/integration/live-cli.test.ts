// The banner of `rsim start` promises three requests; run each and check it does what its comment says.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startCommand, stoppedLine, tryCommands } from '../../src/cli/commands/start.ts'
import { errorCode, get, startSmall } from './live-helpers.ts'

let rt: Awaited<ReturnType<typeof startSmall>> | undefined
afterEach(async () => { await rt?.close(); rt = undefined })

function curlToRequest (line: string): { url: string, headers: Record<string, string> } {
  const headers: Record<string, string> = {}
  for (const m of line.matchAll(/-H '([^:]+): ([^']*)'/g)) headers[(m[1] as string).toLowerCase()] = m[2] as string
  const url = line.split(' ').at(-1) as string
  return { url, headers }
}

describe('rsim start', () => {
  it('prints requests that are served locally, relayed into the region, and refused', async () => {
    rt = await startSmall()
    const curls = tryCommands(rt.world, rt.edgeUrl).filter((l) => l.startsWith('curl '))
    expect(curls).toHaveLength(3)
    const [local, relayed, refused] = await Promise.all(curls.map((c) => { const r = curlToRequest(c); return get(r.url, r.headers) }))
    expect(local?.status).toBe(200)
    expect(local?.headers['x-sim-inspected-at']).toBe(local?.headers['x-sim-ingress'])
    expect(relayed?.status).toBe(200)
    expect(relayed?.headers['x-sim-ingress']).toBe('SYD')
    expect(relayed?.headers['x-sim-inspected-at']).not.toBe('SYD')
    expect(refused && [refused.status, errorCode(refused)]).toEqual([403, 'SIM_ERR_FORWARD_UNAUTHENTICATED'])
  })

  it('runs its TLS edge on the configured server.tlsPort', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rsim-start-'))
    const main = new URL('../../src/cli/main.ts', import.meta.url).pathname
    const config = join(dir, 'small.yaml')
    await writeFile(config, [
      'network: { pops: [FRA, LHR, IAD], logCores: { eu: FRA, us: IAD } }',
      'server: { edgePort: 0, controlPort: 0, tlsPort: 0 }',
      'logging: { level: silent }',
      'customers:',
      '  - { host: shop.example, origin: { pop: FRA } }'
    ].join('\n'))
    // A real process: `rsim start` runs until a signal, which a test must not send to its own worker.
    const child = spawn(process.execPath, [main, 'start', '--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      let out = ''
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString()
          const m = /TLS edge \(real TLS, SNI routing\)\s+(\S+)/.exec(out)
          if (m) resolve(m[1] as string)
        })
        child.once('exit', (code) => reject(new Error(`rsim start exited ${String(code)}: ${out}`)))
      })
      const port = Number(line.split(':').at(-1))
      // tlsPort 0 in the configuration: an ephemeral port, not the default 8443, and something listens there.
      expect(port).toBeGreaterThan(0)
      expect(port).not.toBe(8443)
      await new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve() })
        socket.once('error', reject)
      })
      expect(out).toContain(`--resolve shop.example:${port}:127.0.0.1`)
      // Warmed up first, through a copy of the scenario: the banner says how.
      expect(out).toMatch(/warmed up\s+\d+ requests through a \d+-PoP copy in \d+\.\d\d s \(--no-warm-up skips it\)/)
      // One request through the edge (latency on by default), then a stop: the last line says how it kept to the model.
      const edge = /edge \(send client requests here\)\s+(http:\S+)/.exec(out)?.[1]
      expect(edge).toBeDefined()
      expect((await get(`${String(edge)}/`, { host: 'shop.example', 'x-sim-client': 'FRA' })).status).toBe(200)
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      expect(out).toMatch(/\nstopped: 1 response held to the modelled time, [01] of them late \(\d+\.\d%, more than 1 ms and 5% after it\)(; the furthest behind left \d+\.\d ms after it)?\n$/)
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('ends with a plain "stopped" when nothing was held to the model', () => {
    expect(stoppedLine(undefined)).toBe('stopped')
    expect(stoppedLine({ settled: 0, late: 0, maxLateMs: 0 })).toBe('stopped')
    expect(stoppedLine({ settled: 200, late: 3, maxLateMs: 12.34 }))
      .toBe('stopped: 200 responses held to the modelled time, 3 of them late (1.5%, more than 1 ms and 5% after it); the furthest behind left 12.3 ms after it')
    // Every response on time: nothing to say about the latest.
    expect(stoppedLine({ settled: 5, late: 0, maxLateMs: 0 })).toBe('stopped: 5 responses held to the modelled time, 0 of them late (0.0%, more than 1 ms and 5% after it)')
  })

  it('rejects bad options with a code before starting anything', async () => {
    const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: {} }
    await expect(startCommand.run(['--latency', 'maybe'], io)).rejects.toMatchObject({ code: 'SIM_ERR_BAD_REQUEST' })
    await expect(startCommand.run(['--time-scale', '0'], io)).rejects.toMatchObject({ code: 'SIM_ERR_BAD_REQUEST' })
    // The configuration's bound holds on the command line too: a wait beyond it outgrows what a timer can hold.
    await expect(startCommand.run(['--time-scale', '1e9'], io)).rejects.toMatchObject({ code: 'SIM_ERR_BAD_REQUEST', message: expect.stringContaining('at most 1000, got "1e9"') })
    // Two listeners given one port on the command line: said so before anything listens, not "the port is in use".
    for (const args of [['--port', '18481', '--control-port', '18481'], ['--port', '18482', '--tls-port', '18482']]) {
      await expect(startCommand.run([...args, '--no-warm-up'], io)).rejects.toMatchObject({ code: 'SIM_ERR_LISTEN_FAILED', message: expect.stringMatching(/are both given this port; each needs its own$/) })
    }
    await expect(startCommand.run(['--port', '70000'], io)).rejects.toMatchObject({ code: 'SIM_ERR_BAD_REQUEST' })
    await expect(startCommand.run(['--tls-port', 'https'], io)).rejects.toMatchObject({ code: 'SIM_ERR_BAD_REQUEST' })
  })
})
