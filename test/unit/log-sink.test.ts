// A log sink keeps what a PoP shipped of its own requests and nothing else of a signed batch: lines that are not a
// record, or a record of another PoP, are skipped without losing the rest of the batch. A PoP's shipper batches its
// records by sink and PoP, each batch signed as its PoP's.
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createForwardSigner } from '../../src/net/signing.ts'
import type { Upstreams } from '../../src/net/upstream.ts'
import { buildApp, type LogRecord } from '../../src/services/logs/app.ts'
import { createLogShipper } from '../../src/services/pop/log-shipper.ts'

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

describe('log shipper', () => {
  it('batches records by sink and PoP, sends a full batch at once and the rest when flushed, each signed as its PoP', async () => {
    const signer = createForwardSigner({ windowMs: 30_000 })
    const sent: { url: string, pop: string, rays: string[] }[] = []
    const upstreams: Upstreams = {
      get: (url) => ({
        request: async (opts: { headers: Record<string, string>, body: string }) => {
          const body = Buffer.from(opts.body)
          const v = signer.verifyBody(opts.headers, body)
          if (!v.ok) throw new Error(v.reason)
          sent.push({ url, pop: v.pop, rays: opts.body.trimEnd().split('\n').map((l) => (JSON.parse(l) as LogRecord).ray) })
          return { statusCode: 202, body: { dump: async () => {} } }
        }
      }) as unknown as ReturnType<Upstreams['get']>,
      close: async () => {}
    }
    const sinks: Record<string, string> = { FRA: 'http://fra', IAD: 'http://iad' }
    const shipper = createLogShipper({ sinkUrl: (s) => sinks[s], upstreams, signer, logger: pino({ level: 'silent' }), flushMs: 60_000, maxBatch: 3 })
    const record = (ray: string, pop: string): LogRecord => ({ ray, at: 1, clientIp: '192.0.2.1', host: 'eu-shop.example', pop, status: 200, ms: 1 })
    expect(shipper.ship('NOWHERE', record('x', 'LHR'))).toBe(false)
    for (const [ray, sink, pop] of [['1', 'FRA', 'LHR'], ['2', 'FRA', 'CDG'], ['3', 'IAD', 'LHR'], ['4', 'FRA', 'LHR'], ['5', 'FRA', 'LHR'], ['6', 'FRA', 'LHR']] as const) {
      expect(shipper.ship(sink, record(ray, pop))).toBe(true)
    }
    // The third record for FRA from LHR filled its batch: sent without waiting for the timer.
    await new Promise((resolve) => setImmediate(resolve))
    expect(sent).toEqual([{ url: 'http://fra', pop: 'LHR', rays: ['1', '4', '5'] }])
    await shipper.flush()
    expect(sent.slice(1).sort((a, b) => a.rays[0]!.localeCompare(b.rays[0]!))).toEqual([
      { url: 'http://fra', pop: 'CDG', rays: ['2'] },
      { url: 'http://iad', pop: 'LHR', rays: ['3'] },
      { url: 'http://fra', pop: 'LHR', rays: ['6'] }
    ])
    // Nothing is sent twice, and an empty flush sends nothing.
    await shipper.close()
    expect(sent).toHaveLength(4)
  })
})
