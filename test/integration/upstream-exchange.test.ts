// The data path's upstream exchange on real loopback sockets: small bodies arrive whole, large or unsized ones
// stream with backpressure, a reader that goes away aborts the upstream request, and failures before the answer
// reject with undici's error codes.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { Pool } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDelay } from '../../src/net/delay.ts'
import { FWD_HEADER, createForwardSigner } from '../../src/net/signing.ts'
import { classifyUpstreamError, createUpstreams, exchange } from '../../src/net/upstream.ts'

let server: Server
let base = ''
let pool: Pool
const aborted: string[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '/'
    if (url.startsWith('/small')) {
      res.writeHead(201, { 'content-type': 'text/plain', 'content-length': '1000', 'x-answer': 'yes' })
      res.end('x'.repeat(1000))
    } else if (url.startsWith('/large')) {
      // Declared and over the buffering limit: streamed.
      res.writeHead(200, { 'content-length': String(200_000) })
      res.end(Buffer.alloc(200_000, 'y'))
    } else if (url.startsWith('/chunked')) {
      res.writeHead(200)
      res.write('first ')
      setTimeout(() => res.end('second'), 20)
    } else if (url.startsWith('/endless')) {
      res.writeHead(200)
      const t = setInterval(() => res.write(Buffer.alloc(16_384)), 1)
      res.on('close', () => { clearInterval(t); aborted.push(url) })
    } else if (url.startsWith('/empty')) {
      res.writeHead(204)
      res.end()
    } else if (url.startsWith('/echo')) {
      const parts: Buffer[] = []
      req.on('data', (c: Buffer) => parts.push(c))
      req.on('end', () => {
        const body = Buffer.concat(parts)
        res.writeHead(200, { 'content-length': String(body.length) })
        res.end(body)
      })
    } else if (url.startsWith('/headers')) {
      const body = JSON.stringify(req.headers)
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) })
      res.end(body)
    } else if (url.startsWith('/cut')) {
      res.writeHead(200, { 'content-length': '100' })
      res.write('partial')
      setTimeout(() => res.socket?.destroy(), 5)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  pool = new Pool(base, { connections: 8 })
})

afterAll(async () => {
  await pool.destroy()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

async function text (body: Buffer | Readable): Promise<string> {
  if (Buffer.isBuffer(body)) return body.toString()
  const parts: Buffer[] = []
  for await (const c of body) parts.push(c as Buffer)
  return Buffer.concat(parts).toString()
}

describe('exchange', () => {
  it('hands a small body over whole, with status and headers', async () => {
    const res = await exchange(pool, { path: '/small', method: 'GET' })
    expect(res.statusCode).toBe(201)
    expect(res.headers['x-answer']).toBe('yes')
    expect(Buffer.isBuffer(res.body)).toBe(true)
    expect((res.body as Buffer).length).toBe(1000)
  })

  it('streams a body over the buffering limit, and one without a declared length', async () => {
    const large = await exchange(pool, { path: '/large', method: 'GET' })
    expect(large.body).toBeInstanceOf(Readable)
    expect((await text(large.body)).length).toBe(200_000)
    const chunked = await exchange(pool, { path: '/chunked', method: 'GET' })
    expect(chunked.body).toBeInstanceOf(Readable)
    expect(await text(chunked.body)).toBe('first second')
  })

  it('buffers by the declared length only, with the limit the caller sets', async () => {
    const res = await exchange(pool, { path: '/small', method: 'GET' }, 999)
    expect(res.body).toBeInstanceOf(Readable)
    expect((await text(res.body)).length).toBe(1000)
  })

  it('answers with an empty body when there is none, and sends request bodies from async iterables', async () => {
    const empty = await exchange(pool, { path: '/empty', method: 'GET' })
    expect(empty.statusCode).toBe(204)
    expect(await text(empty.body)).toBe('')
    async function * parts () { yield Buffer.from('one,'); yield Buffer.from('two') }
    const echo = await exchange(pool, { path: '/echo', method: 'POST', body: parts() })
    expect(await text(echo.body)).toBe('one,two')
  })

  it('aborts the upstream request when the reader of a stream goes away', async () => {
    const res = await exchange(pool, { path: '/endless-1', method: 'GET' })
    const body = res.body as Readable
    await new Promise((resolve) => body.once('data', resolve))
    body.destroy()
    await expect.poll(() => aborted.includes('/endless-1')).toBe(true)
  })

  it('pauses the upstream socket while the reader is behind (backpressure)', async () => {
    const res = await exchange(pool, { path: '/endless-2', method: 'GET' })
    const body = res.body as Readable
    // Nobody reads: the stream fills to its high-water mark and stays there instead of growing without bound.
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(body.readableLength).toBeLessThan(1_000_000)
    body.destroy()
    await expect.poll(() => aborted.includes('/endless-2')).toBe(true)
  })

  it('rejects when the connection is refused or cut before the body is complete', async () => {
    const closed = new Pool('http://127.0.0.1:1', { connections: 1 })
    const refused = await exchange(closed, { path: '/', method: 'GET' }).catch((e: unknown) => e)
    expect(classifyUpstreamError(refused)).toBe('refused')
    await closed.destroy()
    const cut = await exchange(pool, { path: '/cut', method: 'GET' }).catch((e: unknown) => e)
    expect(cut).toBeInstanceOf(Error)
    expect(classifyUpstreamError(cut)).toBe('broken')
  })

  it('rejects with the abort reason when the caller aborts', async () => {
    const ac = new AbortController()
    const p = exchange(pool, { path: '/chunked-abort', method: 'GET', signal: ac.signal }, 0)
    const reason = new Error('stop')
    ac.abort(reason)
    await expect(p).rejects.toBe(reason)
  })
})

describe('upstreams', () => {
  const fields = { ray: 'r1-LHR', ingress: 'LHR', inspection: 'CDG', client: '51.5,-0.1', host: 'eu-shop.example', plan: '{}' }

  it('sign and delay requests on the way out, through exchange and request alike, and close their pools', async () => {
    const signer = createForwardSigner({ windowMs: 30_000 })
    const upstreams = createUpstreams({ delay: createDelay({ enabled: true, timeScale: 1, jitter: 0, seed: 1 }), signer, timeoutMs: 5000, keepAliveTimeoutMs: 1000 })
    const dispatcher = upstreams.get(base)
    expect(upstreams.get(base)).toBe(dispatcher)
    const t = performance.now()
    const signed = await exchange(dispatcher, { path: '/headers', method: 'GET', headers: ['x-a', '1'], sim: { delayMs: 30, forward: fields } })
    // The modelled one-way delay held the request back (a lower bound only: timers never fire early).
    expect(performance.now() - t).toBeGreaterThanOrEqual(25)
    const seen = JSON.parse(await text(signed.body)) as Record<string, string>
    expect(seen['x-a']).toBe('1')
    const v = signer.verify(seen)
    expect(v.ok && v.fields).toEqual(fields)
    // Without policy inputs the request goes as it is; the Dispatcher API (request) runs through the same chain.
    const plain = await dispatcher.request({ path: '/headers', method: 'GET', headers: { 'x-b': '2' } })
    const headers = await plain.body.json() as Record<string, string>
    expect(headers['x-b']).toBe('2')
    expect(headers[FWD_HEADER]).toBeUndefined()
    await dispatcher.close()
    // A closed pool takes no more requests (undici reports it as destroyed once its close has finished).
    await expect(dispatcher.request({ path: '/headers', method: 'GET' })).rejects.toMatchObject({ code: expect.stringMatching(/^UND_ERR_(CLOSED|DESTROYED)$/) as string })
    await upstreams.close()
  })

  it('destroy the pool behind a dispatcher, with or without a callback', async () => {
    const upstreams = createUpstreams({ delay: createDelay({ enabled: false, timeScale: 1, jitter: 0, seed: 1 }), signer: createForwardSigner({ windowMs: 30_000 }), timeoutMs: 5000, keepAliveTimeoutMs: 1000 })
    const a = upstreams.get(base)
    await a.destroy(null)
    await expect(a.request({ path: '/headers', method: 'GET' })).rejects.toMatchObject({ code: 'UND_ERR_DESTROYED' })
    const b = upstreams.get(`${base}/`)
    await new Promise<void>((resolve) => b.destroy(resolve))
    await expect(b.request({ path: '/headers', method: 'GET' })).rejects.toMatchObject({ code: 'UND_ERR_DESTROYED' })
    await upstreams.close()
  })
})
