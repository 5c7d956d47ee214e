// The live data path at the edges of HTTP/1.1: bodies refused before they were all sent, `Expect: 100-continue`,
// request targets and methods a reverse proxy cannot forward, a missing Host, clients that leave before the answer,
// and header blocks near the limit on a relay, which carries the signed forwarding header on top.
import { connect, type Socket } from 'node:net'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import type { RequestRecord } from '../../src/services/records.ts'
import { buildControlApp } from '../../src/services/control/app.ts'
import { errorCode, eventually, get, liveRuntimePerTest } from './live-helpers.ts'

const live = liveRuntimePerTest()
const sockets: Socket[] = []
afterEach(() => { for (const s of sockets.splice(0)) s.destroy() })

/**
 * Opens a connection, writes `head`, then (after `waitFor` is seen, if given) each of `body`, and collects what the
 * server answers until it closes the connection or `untilText` has arrived.
 */
function exchange (url: string, head: string, opts: { body?: Buffer[], waitFor?: string, untilText?: string } = {}): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname)
    sockets.push(s)
    let out = ''
    let sent = opts.waitFor === undefined
    const sendBody = (): void => { for (const b of opts.body ?? []) s.write(b) }
    s.on('connect', () => { s.write(head); if (sent) sendBody() })
    s.on('data', (c: Buffer) => {
      out += c.toString('latin1')
      if (!sent && opts.waitFor !== undefined && out.includes(opts.waitFor)) { sent = true; sendBody() }
      if (opts.untilText !== undefined && out.includes(opts.untilText)) { s.destroy(); resolve(out) }
    })
    // A write into a connection the server reset fails here; what was answered before is still the result.
    s.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve(`${out}<${err.code}>`); else reject(err) })
    s.on('close', () => resolve(out))
  })
}

function statusOf (answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0)
}

describe('the live data path at the edges of HTTP/1.1', () => {
  it('answers a body over the limit with 413 and keeps serving, whether the body is declared or chunked, inspected at the ingress or relayed', async () => {
    const rt = await live.start({ server: { bodyLimitBytes: 1000 } })
    // Sent whole, without waiting: the client is still writing when the 413 leaves, and must read it, not a reset.
    const declared = await get(`${rt.edgeUrl}/`, { host: 'eu-shop.example', 'x-sim-client': 'FRA', 'content-type': 'application/octet-stream' }, { method: 'POST', body: 'x'.repeat(2 * 1048576) })
    expect([declared.status, errorCode(declared)]).toEqual([413, 'SIM_ERR_BODY_TOO_LARGE'])
    for (const client of ['FRA', 'SYD']) {
      const chunk = Buffer.from(`4000\r\n${'y'.repeat(0x4000)}\r\n`)
      const answer = await exchange(rt.edgeUrl, `POST / HTTP/1.1\r\nHost: eu-shop.example\r\nx-sim-client: ${client}\r\nTransfer-Encoding: chunked\r\n\r\n`,
        { body: [...Array<Buffer>(40).fill(chunk), Buffer.from('0\r\n\r\n')], untilText: '}' })
      expect(statusOf(answer)).toBe(413)
      expect(answer).toContain('"code":"SIM_ERR_BODY_TOO_LARGE"')
    }
    const after = await get(`${rt.edgeUrl}/`, { host: 'eu-shop.example', 'x-sim-client': 'FRA' })
    expect(after.status).toBe(200)
  })

  it('answers a fast relayed upload far over the limit with its 413 after the modelled relay, not with a reset', async () => {
    const rt = await live.start({ latency: { enabled: true, timeScale: 1 }, server: { bodyLimitBytes: 1000 } })
    // 20 MiB sent as fast as loopback takes it, while the answer waits out the relay back from the EU.
    const chunk = Buffer.from(`10000\r\n${'z'.repeat(0x10000)}\r\n`)
    const answer = await exchange(rt.edgeUrl, 'POST / HTTP/1.1\r\nHost: eu-shop.example\r\nx-sim-client: SYD\r\nTransfer-Encoding: chunked\r\n\r\n',
      { body: [...Array<Buffer>(320).fill(chunk), Buffer.from('0\r\n\r\n')], untilText: '}' })
    expect(statusOf(answer)).toBe(413)
    expect(answer).toContain('"code":"SIM_ERR_BODY_TOO_LARGE"')
  })

  it('refuses a request with two Host fields (RFC 9112 section 3.2) instead of forwarding both', async () => {
    const rt = await live.start()
    for (const client of ['FRA', 'SYD']) {
      const answer = await exchange(rt.edgeUrl, `GET / HTTP/1.1\r\nHost: eu-shop.example\r\nHost: us-bank.example\r\nx-sim-client: ${client}\r\nConnection: close\r\n\r\n`)
      expect(statusOf(answer)).toBe(400)
      expect(answer).toContain('more than one Host header')
    }
  })

  it('takes a body sent after `100 Continue`, and forwards it without the expectation, inspected at the ingress or relayed', async () => {
    const rt = await live.start()
    for (const client of ['FRA', 'SYD']) {
      const answer = await exchange(rt.edgeUrl, `POST /upload HTTP/1.1\r\nHost: eu-shop.example\r\nx-sim-client: ${client}\r\nContent-Type: text/plain\r\n` +
        'Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n', { body: [Buffer.from('hello')], waitFor: '100 Continue' })
      expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /)
      expect(answer).toContain('"requestBytes":5')
    }
  })

  it('answers an expectation it can decide on the headers at once: 413 for a declared body over the limit, 417 for another expectation', async () => {
    const rt = await live.start({ server: { bodyLimitBytes: 1000 } })
    for (const url of [rt.edgeUrl, rt.popUrl('LHR') as string]) {
      // No body is sent: the answer must come without a 100 Continue asking for it.
      const tooLarge = await exchange(url, 'POST / HTTP/1.1\r\nHost: eu-shop.example\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n')
      expect(tooLarge).toMatch(/^HTTP\/1\.1 413 /)
      expect(tooLarge).toContain('"code":"SIM_ERR_BODY_TOO_LARGE"')
      const other = await exchange(url, 'GET / HTTP/1.1\r\nHost: eu-shop.example\r\nExpect: something-else\r\n\r\n')
      expect(other).toMatch(/^HTTP\/1\.1 417 /)
      expect(other).toContain('"code":"SIM_ERR_EXPECTATION_FAILED"')
    }
  })

  it('forwards every method node knows, WebDAV\'s and PURGE among them, with its body, inspected at the ingress or relayed', async () => {
    const rt = await live.start()
    for (const url of [rt.edgeUrl, rt.popUrl('LHR') as string]) {
      for (const client of ['FRA', 'SYD']) {
        for (const method of ['PROPFIND', 'MKCOL', 'PURGE', 'QUERY']) {
          const body = '<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>'
          const answer = await exchange(url, `${method} /dav/ HTTP/1.1\r\nHost: eu-shop.example\r\nx-sim-client: ${client}\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
          expect(statusOf(answer), `${method} from ${client}`).toBe(200)
          // The origin saw the method and the whole body.
          const echo = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { method: string, path: string, requestBytes: number }
          expect([echo.method, echo.path, echo.requestBytes]).toEqual([method, '/dav/', body.length])
        }
      }
    }
  })

  it('answers a Host that is blank, not ASCII or has a bad port 400 on the edge and a PoP\'s port alike, and serves a good one with a port', async () => {
    const rt = await live.start()
    for (const url of [rt.edgeUrl, rt.popUrl('LHR') as string]) {
      const blank = await exchange(url, 'GET / HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n')
      expect([statusOf(blank), blank.includes('"code":"SIM_ERR_HOST_MISSING"')], url).toEqual([400, true])
      for (const host of ['eu-shop.example:abc', 'eu-shop.example:99999', 'b\u00c3\u00bccher.example']) {
        const bad = await exchange(url, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
        expect([statusOf(bad), bad.includes('"code":"SIM_ERR_BAD_REQUEST"')], `${url} ${host}`).toEqual([400, true])
      }
      const withPort = await exchange(url, 'GET / HTTP/1.1\r\nHost: EU-SHOP.example:8080\r\nx-sim-client: FRA\r\nConnection: close\r\n\r\n')
      expect(statusOf(withPort), url).toBe(200)
    }
  })

  it('answers what it cannot forward in the JSON error shape: no Host, a target that is not a path, CONNECT', async () => {
    const rt = await live.start()
    const pop = rt.popUrl('LHR') as string
    for (const url of [rt.edgeUrl, pop]) {
      const noHost = await exchange(url, 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')
      expect(statusOf(noHost)).toBe(400)
      expect(noHost).toContain('"code":"SIM_ERR_HOST_MISSING"')
      const asterisk = await exchange(url, 'OPTIONS * HTTP/1.1\r\nHost: eu-shop.example\r\nConnection: close\r\n\r\n')
      expect(statusOf(asterisk)).toBe(400)
      expect(asterisk).toContain('"code":"SIM_ERR_BAD_REQUEST"')
      // An absolute URL is refused for its form whatever host it names, a customer's or none.
      for (const host of ['eu-shop.example', 'nobody.example']) {
        const absolute = await exchange(url, `GET http://${host}/ HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
        expect(statusOf(absolute)).toBe(400)
        expect(absolute).toContain('"code":"SIM_ERR_BAD_REQUEST"')
      }
      const tunnel = await exchange(url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')
      expect(statusOf(tunnel)).toBe(405)
      expect(tunnel).toContain('"code":"SIM_ERR_METHOD_NOT_ALLOWED"')
    }
  })

  it('answers a request line of another HTTP version than 1.x 505, on the data path and the control plane alike', async () => {
    const rt = await live.start({}, { controlApp: buildControlApp, controlPort: 0 })
    for (const url of [rt.edgeUrl, rt.popUrl('LHR') as string, rt.controlUrl as string]) {
      const path = url === rt.controlUrl ? '/healthz' : '/'
      // Node's parser takes these two in an HTTP/1 request line; HTTP/2 is never sent as text.
      for (const version of ['2.0', '0.9']) {
        const answer = await exchange(url, `GET ${path} HTTP/${version}\r\nHost: eu-shop.example\r\nx-sim-client: FRA\r\nConnection: close\r\n\r\n`)
        expect([statusOf(answer), answer.includes('"code":"SIM_ERR_HTTP_VERSION_UNSUPPORTED"'), answer.includes(`HTTP/${version} is not served here`)], `${url} ${version}`).toEqual([505, true, true])
      }
      const old = await exchange(url, `GET ${path} HTTP/1.0\r\nHost: eu-shop.example\r\nx-sim-client: FRA\r\n\r\n`)
      expect(statusOf(old), url).toBe(200)
    }
  })

  it('records a request whose client left before the answer as closed by the client (499), not as served', async () => {
    const rt = await live.start({ latency: { enabled: true, timeScale: 1 } })
    const records: RequestRecord[] = []
    rt.events.on('request', (r) => records.push(r))
    const gone = new AbortController()
    const pending = request(`${rt.edgeUrl}/`, { headers: { host: 'eu-shop.example', 'x-sim-client': 'SYD' }, signal: gone.signal })
    // Its answer cannot come before its modelled path (access, relay to TXL and the origin leg: about 240 ms); the
    // client leaves well before that, and late enough that a busy machine has handed the request to the ingress.
    setTimeout(() => gone.abort(), 120)
    await expect(pending).rejects.toThrow()
    const rec = await eventually(async () => records[0])
    expect([rec.status, rec.code, rec.host]).toEqual([499, 'SIM_ERR_CLIENT_CLOSED', 'eu-shop.example'])
    // The relay it started is not held as an error anywhere: the origin has nothing to log at error level.
    await new Promise((r) => setTimeout(r, 400))
    expect(rt.lines.filter((l) => (l.level as number) >= 50)).toEqual([])
  })

  it('takes a client that half-closes after its request as gone, as nginx does: no answer, recorded 499', async () => {
    const rt = await live.start({ latency: { enabled: true, timeScale: 1 } })
    const records: RequestRecord[] = []
    rt.events.on('request', (r) => records.push(r))
    const { port } = new URL(rt.edgeUrl)
    const answer = await new Promise<string>((resolve, reject) => {
      // allowHalfOpen: the socket stays readable after its own end(), so an answer would be seen.
      const s = connect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true })
      sockets.push(s)
      let out = ''
      s.on('connect', () => { s.end('GET / HTTP/1.1\r\nHost: eu-shop.example\r\nx-sim-client: SYD\r\n\r\n') })
      s.on('data', (c: Buffer) => { out += c.toString('latin1') })
      s.on('error', reject)
      s.on('close', () => resolve(out))
    })
    expect(answer).toBe('')
    const rec = await eventually(async () => records[0])
    expect([rec.status, rec.code, rec.ray.endsWith('-SYD')]).toEqual([499, 'SIM_ERR_CLIENT_CLOSED', true])
  })

  it('holds clients to the header limit, and relays a request within it though the forwarding header takes it over', async () => {
    const rt = await live.start({ server: { headerLimitBytes: 2048 } })
    // About 2,000 bytes of headers: within the limit from the client, over it with the signed x-sim-fwd added.
    const pad = 'p'.repeat(1900)
    const relayed = await get(`${rt.edgeUrl}/`, { host: 'eu-shop.example', 'x-sim-client': 'SYD', 'x-pad': pad })
    expect([relayed.status, relayed.headers['x-sim-ingress']]).toEqual([200, 'SYD'])
    const local = await get(`${rt.edgeUrl}/`, { host: 'eu-shop.example', 'x-sim-client': 'FRA', 'x-pad': pad })
    expect(local.status).toBe(200)
    // A PoP's own port takes relays with more, but a client request over the limit is still refused there, counted
    // as the edge's parser counts it (the target and every name and value).
    const pop = rt.popUrl('LHR') as string
    // The largest head both parsers take: node's refuses one that reaches its limit.
    const fits = 2047 - '/'.length - 'host'.length - 'eu-shop.example'.length - 'x-pad'.length - 'connection'.length - 'keep-alive'.length
    for (const url of [rt.edgeUrl, pop]) {
      const within = await get(`${url}/`, { host: 'eu-shop.example', 'x-pad': 'p'.repeat(fits), connection: 'keep-alive' })
      expect(within.status).toBe(200)
      const reaching = await get(`${url}/`, { host: 'eu-shop.example', 'x-pad': 'p'.repeat(fits + 1), connection: 'keep-alive' })
      expect([reaching.status, errorCode(reaching)]).toEqual([431, 'SIM_ERR_HEADERS_TOO_LARGE'])
    }
    // A target that alone reaches the limit is too long a URI, at the edge, at a PoP's own port (whose parser takes
    // relays with more) and behind a good request on the same connection.
    for (const url of [rt.edgeUrl, pop]) {
      const long = await get(`${url}/${'u'.repeat(2100)}`, { host: 'eu-shop.example' })
      expect([long.status, errorCode(long)], url).toEqual([414, 'SIM_ERR_URL_TOO_LONG'])
    }
    const behind = await exchange(rt.edgeUrl, 'GET / HTTP/1.1\r\nHost: eu-shop.example\r\nx-sim-client: FRA\r\n\r\n' +
      `GET /${'u'.repeat(2100)} HTTP/1.1\r\nHost: eu-shop.example\r\n\r\n`)
    expect([...behind.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([200, 414])
    const over = await get(`${pop}/`, { host: 'eu-shop.example', 'x-pad': 'p'.repeat(2100) })
    expect([over.status, errorCode(over)]).toEqual([431, 'SIM_ERR_HEADERS_TOO_LARGE'])
    expect(over.json()).toMatchObject({ error: { message: 'request headers exceed 2048 bytes' } })
  })
  it('answers requests pipelined before a malformed one first, then the error, then closes: no answer is lost', async () => {
    const rt = await live.start()
    const records: RequestRecord[] = []
    rt.events.on('request', (r) => records.push(r))
    const good = (client: string): string => `GET / HTTP/1.1\r\nHost: eu-shop.example\r\nx-sim-client: ${client}\r\n\r\n`
    // Two good requests, inspected at the ingress and relayed, then one the parser refuses, all sent at once.
    for (const url of [rt.edgeUrl, rt.popUrl('FRA') as string]) {
      records.length = 0
      const answer = await exchange(url, good('FRA') + good('SYD') + 'BOGUS\r\n\r\n')
      const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
      expect(statuses, url).toEqual([200, 200, 400])
      expect(answer).toContain('"code":"SIM_ERR_BAD_REQUEST"')
      // Both good requests are recorded as served, not as left by their client.
      const recs = await eventually(async () => records.length >= 2 ? records : undefined)
      expect(recs.map((r) => r.status)).toEqual([200, 200])
    }
  })

  it('answers a body the parser refuses part-way with one 400 as that request\'s own answer, recorded, then closes', async () => {
    const rt = await live.start({ latency: { enabled: true, timeScale: 0.05 } })
    const records: RequestRecord[] = []
    rt.events.on('request', (r) => records.push(r))
    const post = (client: string, te: string): string => `POST / HTTP/1.1\r\nHost: eu-shop.example\r\nx-sim-client: ${client}\r\nTransfer-Encoding: ${te}\r\n\r\n`
    // Relayed (SYD) and inspected at the ingress (FRA), through the edge and straight at a PoP; a bad chunk at once,
    // and a bad chunk after a good one that the relay has begun to forward.
    const cases = [
      { url: rt.edgeUrl, client: 'SYD', head: post('SYD', 'chunked'), body: ['zz\r\n\r\n'] },
      { url: rt.edgeUrl, client: 'FRA', head: post('FRA', 'chunked'), body: ['zz\r\n\r\n'] },
      { url: rt.popUrl('SYD') as string, client: 'SYD', head: post('SYD', 'chunked'), body: ['3\r\nabc\r\n', 'zz\r\n\r\n'] },
      { url: rt.popUrl('FRA') as string, client: 'FRA', head: post('FRA', 'chunked'), body: ['3\r\nabc\r\n', 'zz\r\n\r\n'] }
    ]
    for (const c of cases) {
      records.length = 0
      const answer = await exchange(c.url, c.head, { body: c.body.map((b) => Buffer.from(b)) })
      const label = `${c.url} ${c.client} ${c.body.join('|')}`
      expect([...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])), label).toEqual([400])
      expect(answer, label).toContain('"code":"SIM_ERR_BAD_REQUEST"')
      expect(answer, label).toContain('HPE_INVALID_CHUNK_SIZE (invalid character in chunk size)')
      expect(answer.toLowerCase(), label).toContain('connection: close')
      const rec = await eventually(async () => records[0])
      expect([rec.status, rec.code], label).toEqual([400, 'SIM_ERR_BAD_REQUEST'])
    }
    // A Transfer-Encoding that does not end in chunked leaves the body's length unknown (RFC 9112 section 6.3): 400 and
    // close at once, without waiting for a body that may never come, and one answer even when a body follows.
    for (const body of [[], ['abc']]) {
      const answer = await exchange(rt.edgeUrl, post('SYD', 'gzip'), { body: body.map((b) => Buffer.from(b)) })
      expect([...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])), body.join()).toEqual([400])
      expect(answer).toContain('Transfer-Encoding \\"gzip\\" does not end in chunked')
      expect(answer.toLowerCase()).toContain('connection: close')
    }
    // Ending in chunked, it is a body like any other.
    const ok = await exchange(rt.edgeUrl, post('SYD', 'gzip, chunked') + '3\r\nabc\r\n0\r\n\r\n', { untilText: '"requestBytes":3' })
    expect(statusOf(ok)).toBe(200)
    // The relays cut mid-body leave no connection for a PoP to wait on: the simulation closes.
    await rt.close()
  })

  it('answers a header block over the limit pipelined behind a good request after the good one\'s answer', async () => {
    const rt = await live.start({ server: { headerLimitBytes: 2048 } })
    const answer = await exchange(rt.edgeUrl, 'GET / HTTP/1.1\r\nHost: eu-shop.example\r\nx-sim-client: FRA\r\n\r\n' +
      `GET / HTTP/1.1\r\nHost: eu-shop.example\r\nx-pad: ${'p'.repeat(4000)}\r\n\r\n`)
    const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
    expect(statuses).toEqual([200, 431])
  })
})
