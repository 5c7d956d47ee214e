// A warm-up that fails (here: made to) only costs the first requests some time: the simulation starts all the same
// and says so in its log.
import { pino } from 'pino'
import { request } from 'undici'
import { describe, expect, it, vi } from 'vitest'
import { startSimulation } from '../../src/runtime/start.ts'
import { smallScenario } from './live-helpers.ts'

vi.mock('../../src/runtime/warm-up.ts', () => ({
  warmUp: () => Promise.reject(Object.assign(new Error('copy did not start'), { code: 'SIM_ERR_LISTEN_FAILED' }))
}))

describe('warm-up failure', () => {
  it('is logged as a warning, and the simulation starts and serves', async () => {
    const lines: Array<{ level: number, msg: string, err?: { message: string } }> = []
    const logger = pino({ level: 'warn' }, { write: (l: string) => { lines.push(JSON.parse(l)) } })
    const rt = await startSimulation(await smallScenario(), { controlApp: false, logger, warmUp: true })
    try {
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
})
