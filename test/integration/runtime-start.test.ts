// Starting the runtime when an address cannot be used, or the default client cannot be located: a coded error naming
// it, and nothing left listening.
import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { pino } from 'pino'
import { startSimulation } from '../../src/runtime/start.ts'
import { smallScenario } from './live-helpers.ts'

let blocker: Server | undefined
afterEach(async () => {
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()))
  blocker = undefined
})

async function occupiedPort (): Promise<number> {
  blocker = createServer()
  await new Promise<void>((resolve) => blocker!.listen(0, '127.0.0.1', () => resolve()))
  return (blocker.address() as { port: number }).port
}

describe('runtime start-up errors', () => {
  it('a port in use is SIM_ERR_LISTEN_FAILED naming the address, and what had started is closed again', async () => {
    const port = await occupiedPort()
    // Fixed PoP ports (below the ephemeral range), so that a second start can only succeed if the first released them.
    const popBasePort = 20000 + (process.pid % 400) * 25
    const scenario = await smallScenario({ server: { popBasePort } })
    const err = await startSimulation(scenario, { edgePort: port, controlApp: false, logger: pino({ level: 'silent' }) })
      .then(() => undefined, (e: unknown) => e as { code: string, message: string })
    expect(err?.code).toBe('SIM_ERR_LISTEN_FAILED')
    expect(err?.message).toContain(`cannot listen on 127.0.0.1 port ${port}: the port is in use`)
    const rt = await startSimulation(scenario, { controlApp: false, logger: pino({ level: 'silent' }) })
    expect(rt.popUrl('SYD')).toMatch(/:\d+$/)
    await rt.close()
  })

  it('PoP ports past 65535 (popBasePort too high) are a coded error, not a crash', async () => {
    const err = await startSimulation(await smallScenario({ server: { popBasePort: 65530 } }), { controlApp: false, logger: pino({ level: 'silent' }) })
      .then(() => undefined, (e: unknown) => e as { code: string, message: string })
    expect(err?.code).toBe('SIM_ERR_LISTEN_FAILED')
    expect(err?.message).toMatch(/port 655\d\d/)
  })

  it('a default client no request could be located from (parsed without a locator) stops the start, naming the field', async () => {
    const base = await smallScenario()
    const scenario = { ...base, network: { ...base.network, defaultClient: '10.0.0.1' } }
    const before = process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length
    const err = await startSimulation(scenario, { controlApp: false, logger: pino({ level: 'silent' }) })
      .then(() => undefined, (e: unknown) => e as { code: string, message: string })
    expect(err?.code).toBe('SIM_ERR_CONFIG_INVALID')
    expect(err?.message).toContain('network.defaultClient: client IP address "10.0.0.1" has no known location')
    expect(process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length).toBe(before)
  })
})

describe('runtime start-up errors after the TLS edge listens', () => {
  const listeners = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length

  it('a control port in use closes every listener, the TLS edge included', async () => {
    const port = await occupiedPort()
    const err = await startSimulation(await smallScenario(), { controlPort: port, tlsPort: 0, logger: pino({ level: 'silent' }) })
      .then(() => undefined, (e: unknown) => e as { code: string })
    expect(err?.code).toBe('SIM_ERR_LISTEN_FAILED')
    // The one listener left is the blocker (Node releases a closed server's handle a little after its close callback).
    await vi.waitFor(() => expect(listeners()).toBe(1), { timeout: 5000 })
  })
})
