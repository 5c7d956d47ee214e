// A warm-up that fails (here: made to) only costs the first requests some time: the simulation starts all the same
// and says so in its log. And a start that cannot listen fails before any warm-up.
import { createServer } from 'node:net'
import { pino } from 'pino'
import { request } from 'undici'
import { describe, expect, it, vi } from 'vitest'
import { startSimulation } from '../../src/runtime/start.ts'
import { smallScenario } from './live-helpers.ts'

const calls = vi.hoisted(() => ({ warmUp: 0 }))

vi.mock('../../src/runtime/warm-up.ts', () => ({
  warmUp: () => {
    calls.warmUp++
    return Promise.reject(Object.assign(new Error('copy did not start'), { code: 'SIM_ERR_LISTEN_FAILED' }))
  }
}))

describe('warm-up failure', () => {
  it('is logged as a warning, and the simulation starts and serves', async () => {
    const lines: Array<{ level: number, msg: string, err?: { message: string } }> = []
    const logger = pino({ level: 'warn' }, { write: (l: string) => { lines.push(JSON.parse(l)) } })
    const before = calls.warmUp
    const rt = await startSimulation(await smallScenario(), { controlApp: false, logger, warmUp: true })
    try {
      expect(calls.warmUp).toBe(before + 1)
      expect(rt.warmUp).toBeUndefined()
      const warning = lines.find((l) => l.msg.startsWith('warm-up failed'))
      expect(warning?.level).toBe(40)
      expect(warning?.err?.message).toBe('copy did not start')
      const res = await request(`${rt.edgeUrl}/`, { headers: { host: 'eu-shop.example', 'x-sim-client': 'FRA' } })
      await res.body.dump()
      expect(res.statusCode).toBe(200)
    } finally {
      await rt.close()
    }
  })

  it('does not run before a start that cannot listen: the port in use is reported at once', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()))
    const port = (blocker.address() as { port: number }).port
    try {
      const before = calls.warmUp
      const err = await startSimulation(await smallScenario(), { edgePort: port, controlApp: false, logger: pino({ level: 'silent' }), warmUp: true })
        .then(() => undefined, (e: unknown) => e as { code: string })
      expect(err?.code).toBe('SIM_ERR_LISTEN_FAILED')
      expect(calls.warmUp).toBe(before)
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()))
    }
  })
})
