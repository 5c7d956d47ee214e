// The live data path under hostile or broken conditions: privacy of relayed requests, spoofed forwarding headers,
// size limits, misbehaving origins, unsigned log batches and graceful shutdown.
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { errorCode, get, startSmall } from './live-helpers.ts'

type Runtime = Awaited<ReturnType<typeof startSmall>>
let rt: Runtime | undefined
const servers: Server[] = []
const sockets: Socket[] = []
afterEach(async () => {
  await rt?.close()
  rt = undefined
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

/** A raw TCP peer standing in for an origin; `onConnection` decides how it misbehaves. */
async function rawOrigin (onConnection: (s: Socket) => void): Promise<string> {
  const srv = createServer((s) => { sockets.push(s); onConnection(s) })
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`
}

/** Sends raw bytes (keeping our side open, as clients do) and returns everything answered before the server closed. */
function rawExchange (url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => s.write(bytes))
    sockets.push(s)
    let out = ''
    s.on('data', (c) => { out += c.toString() })
    s.on('close', () => resolve(out))
    s.on('error', reject)
  })
}

describe('live faults', () => {
  it('an out-of-region ingress logs no path, query, header or body of a regional request', async () => {
    rt = await startSmall()
    const a = await get(`${rt.edgeUrl}/secret-path?token=topsecret`, {
      host: 'eu-shop.example',
      'x-sim-client': 'SYD',
      'x-private': 'hunter2',
      'content-type': 'text/plain'
    }, { method: 'POST', body: 'card=4111111111111111' })
    expect(a.status).toBe(200)
    expect(a.headers['x-sim-ingress']).toBe('SYD')
    // It still reached the origin in full, through the EU.
    expect(a.json()).toMatchObject({ path: '/secret-path?token=topsecret', requestBytes: 21 })
    const ingressLines = rt.lines.filter((l) => l.pop === 'SYD' || l.service === 'edge')
    expect(ingressLines.length).toBeGreaterThan(0)
    const text = JSON.stringify(ingressLines)
    for (const secret of ['secret-path', 'topsecret', 'hunter2', '4111', 'x-private', 'url']) expect(text).not.toContain(secret)
  })

  it('refuses spoofed forwarding headers, from a client at the edge or forged at a PoP port', async () => {
    rt = await startSmall()
    const viaEdge = await get(`${rt.edgeUrl}/`, { host: 'eu-shop.example', 'x-sim-client': 'SYD', 'x-sim-fwd-inspection': 'SYD' })
    expect([viaEdge.status, errorCode(viaEdge)]).toEqual([403, 'SIM_ERR_FORWARD_UNAUTHENTICATED'])
    const fieldsText = ['0123456789abcdef-SYD', 'SYD', 'FRA', '-33.9,151.2', 'eu-shop.example', '[["origin","FRA","origin:eu-shop.example",1]]']
      .map((f) => `${f.length}:${f}`).join(';')
    const forged = (ts: number) => ({ host: 'eu-shop.example', 'x-sim-fwd': `${'ab'.repeat(32)};${ts};${fieldsText}` })
    const atPop = await get(`${rt.popUrl('FRA') as string}/`, forged(Date.now()))
    expect([atPop.status, errorCode(atPop)]).toEqual([403, 'SIM_ERR_FORWARD_UNAUTHENTICATED'])
    const stale = await get(`${rt.popUrl('FRA') as string}/`, forged(1000))
    expect(errorCode(stale)).toBe('SIM_ERR_FORWARD_UNAUTHENTICATED')
    // A header of the family that is not the relay header is a client's: refused as such at a PoP's own port too.
    const family = await get(`${rt.popUrl('FRA') as string}/`, { host: 'eu-shop.example', 'x-sim-fwd-sig': 'ab'.repeat(32) })
    expect([family.status, errorCode(family)]).toEqual([403, 'SIM_ERR_FORWARD_UNAUTHENTICATED'])
    expect(rt.lines.filter((l) => l.role === 'inspection')).toEqual([])
  })

  it('answers 431 to an oversized header block and 413 to an oversized body, in the JSON error shape', async () => {
    rt = await startSmall({ server: { headerLimitBytes: 2048, bodyLimitBytes: 1000 } })
    const big = await rawExchange(rt.edgeUrl, `GET / HTTP/1.1\r\nHost: global.example\r\nConnection: close\r\nx-pad: ${'a'.repeat(4000)}\r\n\r\n`)
    expect(big).toMatch(/^HTTP\/1.1 431 /)
    expect(big).toContain('"code":"SIM_ERR_HEADERS_TOO_LARGE"')
    const declared = await get(`${rt.edgeUrl}/`, { host: 'global.example', 'x-sim-client': 'SJC', 'content-type': 'text/plain' }, { method: 'POST', body: 'x'.repeat(1001) })
    expect([declared.status, errorCode(declared)]).toEqual([413, 'SIM_ERR_BODY_TOO_LARGE'])
    // Chunked, so only counting the streamed bytes at the inspection PoP can catch it.
    const chunked = await rawExchange(rt.edgeUrl, 'POST / HTTP/1.1\r\nHost: eu-shop.example\r\nx-sim-client: SYD\r\nContent-Type: text/plain\r\n' +
      `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n7d0\r\n${'y'.repeat(2000)}\r\n0\r\n\r\n`)
    expect(chunked).toMatch(/^HTTP\/1.1 413 /)
    expect(chunked).toContain('SIM_ERR_BODY_TOO_LARGE')
  })

  it('turns an origin that writes garbage into 502 and one that hangs into 504', async () => {
    const garbage = await rawOrigin((s) => s.on('data', () => s.end('NOT HTTP AT ALL\r\n\r\n')))
    const hanging = await rawOrigin(() => {})
    const refused = await rawOrigin(() => {})
    servers.pop()?.close()
    rt = await startSmall({ server: { upstreamTimeoutMs: 300 } }, {
      externalOrigins: new Map([['global.example', garbage], ['uk-news.example', hanging], ['in-health.example', refused]])
    })
    const bad = await get(`${rt.edgeUrl}/`, { host: 'global.example', 'x-sim-client': 'SJC' })
    expect([bad.status, errorCode(bad)]).toEqual([502, 'SIM_ERR_ORIGIN_UNREACHABLE'])
    const slow = await get(`${rt.edgeUrl}/`, { host: 'uk-news.example', 'x-sim-client': 'LHR' })
    expect([slow.status, errorCode(slow)]).toEqual([504, 'SIM_ERR_UPSTREAM_TIMEOUT'])
    const gone = await get(`${rt.edgeUrl}/`, { host: 'in-health.example', 'x-sim-client': 'BOM' })
    expect([gone.status, errorCode(gone)]).toEqual([502, 'SIM_ERR_ORIGIN_UNREACHABLE'])
    // Relayed: the inspection PoP's error travels back through the ingress with its code.
    const relayed = await get(`${rt.edgeUrl}/`, { host: 'uk-news.example', 'x-sim-client': 'SYD' })
    expect([relayed.status, errorCode(relayed)]).toEqual([504, 'SIM_ERR_UPSTREAM_TIMEOUT'])
    expect(relayed.headers['x-sim-ingress']).toBe('SYD')
  })

  it('log sinks refuse batches that no PoP signed', async () => {
    rt = await startSmall()
    const sink = rt.logSinkUrls.get('FRA') as string
    const a = await get(`${sink}/logs`, { 'content-type': 'application/x-ndjson', 'x-sim-fwd-pop': 'FRA' }, { method: 'POST', body: '{"ray":"x","pop":"FRA"}\n' })
    expect([a.status, errorCode(a)]).toEqual([403, 'SIM_ERR_FORWARD_UNAUTHENTICATED'])
    expect((await get(`${sink}/logs`, {})).json().records).toEqual([])
  })

  it('finishes requests in flight on close, then refuses new connections', async () => {
    rt = await startSmall({
      latency: { enabled: true, timeScale: 1 },
      customers: [{ host: 'slow.example', region: null, keys: { mode: 'everywhere' }, logRegion: null, failover: 'closed', chinaNetwork: false, origin: { pop: 'SJC', responseBytes: 4096, serviceTimeMs: 400 } }]
    })
    const edge = rt.edgeUrl
    let arrived!: () => void
    const started = new Promise<void>((r) => { arrived = r })
    const origin = rt.originUrls.get('slow.example') as string
    // The origin is reached once the request has crossed the edge, the ingress and the access and origin delays.
    const pending = get(`${edge}/`, { host: 'slow.example', 'x-sim-client': 'SJC' })
    const waitForOrigin = async (): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        if (rt?.lines.some((l) => l.msg === 'request completed')) break
        await new Promise((r) => setTimeout(r, 10))
        if (i === 10) arrived()
      }
      arrived()
    }
    void waitForOrigin()
    await started
    const closing = rt.close()
    const a = await pending
    await closing
    expect(a.status).toBe(200)
    expect(a.text.length).toBe(4096)
    await expect(get(`${edge}/`, { host: 'slow.example' })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    await expect(get(`${origin}/`, {})).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    rt = undefined
  })
})
