// A log sink keeps what a PoP shipped of its own requests and nothing else of a signed batch: lines that are not a
// record, or a record of another PoP, are skipped without losing the rest of the batch.
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createForwardSigner } from '../../src/net/signing.ts'
import { buildApp } from '../../src/services/logs/app.ts'

describe('log sink', () => {
  it('keeps the records a PoP shipped of its own requests and skips any other line of the batch', async () => {
    const signer = createForwardSigner({ windowMs: 30_000 })
    const app = buildApp({ id: 'FRA', signer, logger: pino({ level: 'silent' }), capacity: 2 })
    const own = (ray: string) => JSON.stringify({ ray, at: 1, clientIp: '192.0.2.1', host: 'eu-shop.example', pop: 'LHR', status: 200, ms: 1.5 })
    const body = ['null', '5', '"text"', 'not json', '[]', JSON.stringify({ ray: 'other', pop: 'CDG' }), own('a'), '', own('b'), own('c')].join('\n') + '\n'
    const res = await app.inject({ method: 'POST', url: '/logs', headers: { 'content-type': 'application/x-ndjson', ...signer.signBody('LHR', body) }, payload: body })
    expect([res.statusCode, res.json()]).toEqual([202, { accepted: 3 }])
    // The two most recent (capacity 2), read back as records.
    const held = (await app.inject('/logs')).json()
    expect(held).toEqual({ sink: 'FRA', received: 3, records: [JSON.parse(own('b')), JSON.parse(own('c'))] })
    expect((await app.inject('/logs?ray=c')).json().records).toEqual([JSON.parse(own('c'))])
    await app.close()
  })
})
