// The banner of `rsim start` promises three requests; run each and check it does what its comment says.
import { afterEach, describe, expect, it } from 'vitest'
import { startCommand, tryCommands } from '../../src/cli/commands/start.ts'
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

  it('rejects bad options with a code before starting anything', async () => {
    const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: {} }
    await expect(startCommand.run(['--latency', 'maybe'], io)).rejects.toMatchObject({ code: 'SIM_ERR_BAD_REQUEST' })
    await expect(startCommand.run(['--time-scale', '0'], io)).rejects.toMatchObject({ code: 'SIM_ERR_BAD_REQUEST' })
    await expect(startCommand.run(['--port', '70000'], io)).rejects.toMatchObject({ code: 'SIM_ERR_BAD_REQUEST' })
  })
})
