// Bodies through the live data path, relayed into the region: small answers (read whole at each hop), large ones
// (streamed), HEAD answers without a body, and request bodies on their way to the origin.
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadScenario } from '../../src/config/load.ts'
import { BUFFER_LIMIT_BYTES } from '../../src/net/upstream.ts'
import { get, startSmall } from './live-helpers.ts'

const LARGE = 'eu-large.example'
const LARGE_BYTES = 3 * BUFFER_LIMIT_BYTES + 123

type Runtime = Awaited<ReturnType<typeof startSmall>>
let rt: Runtime

beforeAll(async () => {
  const base = await loadScenario()
  const eu = base.customers.find((c) => c.host === 'eu-shop.example')
  if (eu === undefined) throw new Error('default scenario lacks eu-shop.example')
  rt = await startSmall({ customers: [...base.customers, { ...eu, host: LARGE, origin: { ...eu.origin, responseBytes: LARGE_BYTES } }] })
})
afterAll(async () => { await rt.close() })

describe('bodies on the live data path', () => {
  it('relays an answer larger than the buffering limit whole, streamed hop by hop', async () => {
    const a = await get(rt.edgeUrl, { host: LARGE, 'x-sim-client': 'SYD' })
    expect(a.status).toBe(200)
    expect(a.headers['x-sim-ingress']).toBe('SYD')
    expect(Buffer.byteLength(a.text)).toBe(LARGE_BYTES)
    expect(a.json().seenFrom).toBe(a.headers['x-sim-inspected-at'])
  })

  it('relays a small answer with its length, and a HEAD answer with headers only', async () => {
    const a = await get(rt.edgeUrl, { host: 'eu-shop.example', 'x-sim-client': 'SYD' })
    expect(a.status).toBe(200)
    expect(a.headers['content-length']).toBe(String(Buffer.byteLength(a.text)))
    const head = await request(rt.edgeUrl, { method: 'HEAD', headers: { host: 'eu-shop.example', 'x-sim-client': 'SYD' } })
    expect(head.statusCode).toBe(200)
    expect(head.headers['x-sim-inspected-at']).toBe(a.headers['x-sim-inspected-at'])
    expect(await head.body.text()).toBe('')
  })

  it('carries a request body larger than the buffering limit to the origin', async () => {
    const body = 'b'.repeat(2 * BUFFER_LIMIT_BYTES)
    const a = await get(rt.edgeUrl, { host: 'eu-shop.example', 'x-sim-client': 'SYD', 'content-type': 'text/plain' }, { method: 'POST', body })
    expect(a.status).toBe(200)
    expect(a.json().requestBytes).toBe(body.length)
  })

  it('answers many concurrent relayed requests of both sizes completely', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => get(rt.edgeUrl, { host: i % 2 === 0 ? LARGE : 'eu-shop.example', 'x-sim-client': 'SYD' })))
    for (const [i, a] of answers.entries()) {
      expect(a.status).toBe(200)
      expect(Buffer.byteLength(a.text)).toBe(i % 2 === 0 ? LARGE_BYTES : Number(a.headers['content-length']))
    }
  })
})
