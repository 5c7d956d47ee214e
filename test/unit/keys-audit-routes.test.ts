// `GET /api/keys/audit` as the control plane will serve it: filters, limits and the shared JSON error shape.
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { installErrorHandling, serverOptions } from '../../src/services/http-errors.ts'
import { KeyAuditLog } from '../../src/services/keys/audit.ts'
import { keyAuditRoutes } from '../../src/services/keys/audit-routes.ts'

async function appWith (audit: KeyAuditLog) {
  const app = Fastify(serverOptions('CONTROL'))
  installErrorHandling(app, 'CONTROL')
  await app.register(keyAuditRoutes, { audit, maxLimit: 3 })
  return app
}

describe('GET /api/keys/audit', () => {
  it('lists entries oldest first, filtered, with the most recent kept under the limit', async () => {
    const audit = new KeyAuditLog({ now: () => 1 })
    audit.record({ pop: 'CDG', host: 'eu-shop.example', operation: 'fetch', outcome: 'refused', code: 'SIM_ERR_KEY_REFUSED' })
    audit.record({ pop: 'CDG', host: 'eu-shop.example', operation: 'sign', outcome: 'allowed', signer: 'FRA' })
    audit.record({ pop: 'IAD', host: 'us.example', operation: 'fetch', outcome: 'allowed', signer: 'IAD' })
    for (let i = 0; i < 3; i++) audit.record({ pop: 'SJC', host: 'open.example', operation: 'sign', outcome: 'allowed', signer: 'SJC' })
    const app = await appWith(audit)
    const all = await app.inject('/api/keys/audit')
    expect(all.statusCode).toBe(200)
    expect(all.json()).toMatchObject({ total: 6, capacity: 10000 })
    expect(all.json().entries.map((e: { seq: number }) => e.seq)).toEqual([4, 5, 6])
    const refused = await app.inject('/api/keys/audit?outcome=refused&host=EU-Shop.example')
    expect(refused.json().entries).toEqual([{ seq: 1, at: 1, pop: 'CDG', host: 'eu-shop.example', operation: 'fetch', outcome: 'refused', code: 'SIM_ERR_KEY_REFUSED' }])
    const byPop = await app.inject('/api/keys/audit?pop=fra')
    expect(byPop.json().entries.map((e: { seq: number }) => e.seq)).toEqual([2])
    const limited = await app.inject('/api/keys/audit?operation=sign&limit=2')
    expect(limited.json().entries.map((e: { seq: number }) => e.seq)).toEqual([5, 6])
    await app.close()
  })

  it('answers bad queries with SIM_ERR_INPUT_INVALID in the shared error shape', async () => {
    const app = await appWith(new KeyAuditLog())
    for (const q of ['outcome=maybe', 'limit=0', 'limit=x', 'operation=decrypt', 'pops=FRA']) {
      const res = await app.inject(`/api/keys/audit?${q}`)
      expect(res.statusCode, q).toBe(400)
      expect(res.json(), q).toMatchObject({ error: { code: 'SIM_ERR_INPUT_INVALID' } })
    }
    // A filter that takes one of a few values names them, once, instead of one "must be equal to constant" per value.
    const outcome = (await app.inject('/api/keys/audit?outcome=maybe')).json()
    expect(outcome.error.message).toBe('invalid input at querystring: querystring/outcome must be one of "allowed", "refused"')
    const limit = (await app.inject('/api/keys/audit?limit=0')).json()
    expect(limit.error.message).toBe('invalid input at querystring: querystring/limit must be >= 1')
    expect((await app.inject('/api/keys/audit?pops=FRA')).json().error.message).toBe('invalid input at querystring: querystring has no field "pops"')
    await app.close()
  })
})
