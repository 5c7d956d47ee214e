// The requests `rsim start` suggests: their words follow the scenario's own plans, their addresses the listen host.
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { banner, connectAddress, tlsTryCommand, tryCommands } from '../../src/cli/commands/start.ts'
import type { StartedSimulation } from '../../src/runtime/start.ts'
import { loadModel } from '../../src/cli/model.ts'

const SMALL_EUROPE = fileURLToPath(new URL('../../config/examples/small-europe.yaml', import.meta.url))

describe('rsim start banner', () => {
  it('says where to look a request up by its ray, and that the map can send requests, when there is a control plane', async () => {
    const { world, scenario } = await loadModel(SMALL_EUROPE)
    const rt = { popCount: 9, world, startupMs: 500, edgeUrl: 'http://127.0.0.1:9080', controlUrl: 'http://127.0.0.1:9081' } as unknown as StartedSimulation
    const text = banner(rt, scenario, true, 1)
    expect(text).toContain('curl -s http://127.0.0.1:9081/api/ledger/<x-sim-ray>')
    expect(text).toContain('Or open http://127.0.0.1:9081/ and send requests from the map ("Send through the edge").')
    const headless = banner({ ...rt, controlUrl: '' } as StartedSimulation, scenario, true, 1)
    expect(headless).not.toContain('/api/ledger')
    expect(headless).toContain('control plane and map             (none)')
  })

  it('describes where the Sydney client enters in this scenario, not Sydney when SYD is not one of its PoPs', async () => {
    const { world } = await loadModel(SMALL_EUROPE)
    const lines = tryCommands(world, 'http://127.0.0.1:8080')
    const comment = lines.find((l) => l.includes('relayed unread'))
    expect(comment).toBe('# a client in Sydney, taken in at Ashburn, VA (IAD), relayed unread and inspected at Zurich (ZRH) in region dach (see x-sim-inspected-at, Server-Timing)')
    expect(lines.join('\n')).not.toMatch(/taken in at Sydney/)
  })

  it('still says Sydney with the default scenario, where SYD is a PoP', async () => {
    const { world } = await loadModel()
    expect(tryCommands(world, 'http://127.0.0.1:8080').join('\n')).toMatch(/taken in at Sydney, NSW \(SYD\), relayed unread/)
  })

  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['0.0.0.0', '127.0.0.1'],
    ['::1', '[::1]'],
    ['::', '[::1]']
  ])('the TLS example for host %s resolves to %s', async (host, address) => {
    const { world } = await loadModel(SMALL_EUROPE)
    expect(connectAddress(host)).toBe(address)
    expect(tlsTryCommand(world, host, 8443, 'ca.pem')[1]).toContain(`--resolve alpen-bank.example:8443:${address} `)
  })
})
