// The SNI reader against real ClientHellos captured from node:tls (TLS 1.3 and 1.2, fragmented reads, records split
// further), hand-built edge cases with their stable reasons, and fuzzing: no byte sequence makes it throw.
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import tls from 'node:tls'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { parseClientHello } from '../../src/net/client-hello.ts'

/** The first bytes node:tls sends: a raw TCP server records them and hangs up. */
async function captureClientHello (options: tls.ConnectionOptions): Promise<Buffer> {
  const chunks: Buffer[] = []
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => { done = resolve })
  const server = net.createServer((socket) => {
    socket.on('data', (d: Buffer) => {
      chunks.push(d)
      const r = parseClientHello(Buffer.concat(chunks))
      if (r.status !== 'need-more') { socket.destroy(); done() }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options })
  client.on('error', () => {})
  await finished
  client.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return Buffer.concat(chunks)
}

/** Re-frames a ClientHello's handshake message into records of at most `size` bytes (legal per RFC 8446 5.1). */
function refragment (hello: Buffer, size: number): Buffer {
  const message = hello.subarray(5)
  const out: Buffer[] = []
  for (let i = 0; i < message.length; i += size) {
    const part = message.subarray(i, i + size)
    out.push(Buffer.from([0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff]), part)
  }
  return Buffer.concat(out)
}

function u16 (n: number): number[] { return [n >> 8, n & 0xff] }
function vec16 (bytes: number[]): number[] { return [...u16(bytes.length), ...bytes] }

/** A minimal ClientHello with the given extensions (type, body) as one record. */
function buildHello (extensions: Array<[number, number[]]> | null, opts: { sessionId?: number, suites?: number[], compression?: number[] } = {}): Buffer {
  const body = [
    0x03, 0x03, ...new Array<number>(32).fill(7),
    opts.sessionId ?? 0, ...new Array<number>(opts.sessionId ?? 0).fill(1),
    ...vec16(opts.suites ?? [0x13, 0x01]),
    ...(opts.compression ?? [1, 0])
  ]
  if (extensions !== null) body.push(...vec16(extensions.flatMap(([t, b]) => [...u16(t), ...vec16(b)])))
  const hs = [0x01, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff, ...body]
  return Buffer.from([0x16, 0x03, 0x01, ...u16(hs.length), ...hs])
}

function sni (...names: Array<[number, string]>): [number, number[]] {
  return [0, vec16(names.flatMap(([type, name]) => [type, ...vec16([...Buffer.from(name, 'latin1')])]))]
}

let tls13: Buffer
let tls12: Buffer
let noSni: Buffer

beforeAll(async () => {
  tls13 = await captureClientHello({ servername: 'eu-shop.example', ALPNProtocols: ['h2', 'http/1.1'] })
  tls12 = await captureClientHello({ servername: 'Legacy.Example', maxVersion: 'TLSv1.2' })
  // node:tls sends no server_name for an IP address (RFC 6066 section 3: literal IPs are not permitted).
  noSni = await captureClientHello({})
})

describe('real ClientHellos from node:tls', () => {
  it('reads SNI, ALPN and versions of a TLS 1.3 ClientHello', () => {
    expect(parseClientHello(tls13)).toMatchObject({
      status: 'ok', serverName: 'eu-shop.example', alpn: ['h2', 'http/1.1'], bytes: tls13.length, legacyVersion: 0x0303
    })
    const r = parseClientHello(tls13)
    expect(r.status === 'ok' && r.supportedVersions).toContain(0x0304)
  })

  it('reads a TLS 1.2 ClientHello and lower-cases the name', () => {
    expect(parseClientHello(tls12)).toMatchObject({ status: 'ok', serverName: 'legacy.example', supportedVersions: [] })
  })

  it('tells a ClientHello without server_name apart', () => {
    expect(parseClientHello(noSni)).toEqual({ status: 'no-sni', reason: 'no-server-name', bytes: noSni.length })
  })

  it('every proper prefix needs more bytes; the full hello is read', () => {
    for (let i = 0; i < tls13.length; i++) expect(parseClientHello(tls13.subarray(0, i)).status, `prefix ${i}`).toBe('need-more')
    expect(parseClientHello(tls13.subarray(0, 3))).toEqual({ status: 'need-more', bytes: 5 })
    expect(parseClientHello(tls13.subarray(0, 10))).toEqual({ status: 'need-more', bytes: tls13.length })
  })

  it.each([1, 7, 100, 512])('reassembles a hello split into records of %i bytes', (size) => {
    const split = refragment(tls13, size)
    expect(parseClientHello(split)).toMatchObject({ status: 'ok', serverName: 'eu-shop.example', bytes: split.length })
    expect(parseClientHello(split.subarray(0, split.length - 1)).status).toBe('need-more')
  })

  it('reports the bytes of the hello only, when application bytes follow', () => {
    const r = parseClientHello(Buffer.concat([tls13, Buffer.from([0x17, 0x03, 0x03, 0x00, 0x01, 0x00])]))
    expect(r).toMatchObject({ status: 'ok', bytes: tls13.length })
  })
})

describe('not TLS, no SNI, malformed', () => {
  it.each<[string, Buffer, object]>([
    ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), { status: 'not-tls', reason: 'not-handshake-record' }],
    ['a PROXY header', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), { status: 'not-tls', reason: 'not-handshake-record' }],
    ['an SSL 2.0 hello', Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01]), { status: 'not-tls', reason: 'sslv2-hello' }],
    ['a bad record version', Buffer.from([0x16, 0x01]), { status: 'not-tls', reason: 'bad-record-version' }],
    ['an empty record', Buffer.from([0x16, 0x03, 0x01, 0, 0]), { status: 'malformed', reason: 'empty-record' }],
    ['an oversized record', Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01]), { status: 'malformed', reason: 'record-too-long' }],
    ['a ServerHello', Buffer.from([0x16, 0x03, 0x03, 0, 4, 0x02]), { status: 'malformed', reason: 'not-client-hello' }],
    ['a huge announced hello', Buffer.from([0x16, 0x03, 0x01, 0, 4, 0x01, 0x02, 0, 0]), { status: 'malformed', reason: 'hello-too-long' }],
    ['an alert between fragments', Buffer.from([0x16, 0x03, 0x01, 0, 2, 0x01, 0x00, 0x15, 0x03, 0x03, 0, 2, 2, 40]), { status: 'malformed', reason: 'interleaved-record' }],
    ['no extensions', buildHello(null), { status: 'no-sni', reason: 'no-extensions' }],
    ['extensions without server_name', buildHello([[16, vec16([2, 0x68, 0x32])]]), { status: 'no-sni', reason: 'no-server-name' }],
    ['a 33-byte session id', buildHello([sni([0, 'a.example'])], { sessionId: 33 }), { status: 'malformed', reason: 'bad-session-id' }],
    ['an odd cipher suite list', buildHello([sni([0, 'a.example'])], { suites: [0x13] }), { status: 'malformed', reason: 'bad-cipher-suites' }],
    ['no compression methods', buildHello([sni([0, 'a.example'])], { compression: [0] }), { status: 'malformed', reason: 'bad-compression' }],
    ['a repeated extension', buildHello([sni([0, 'a.example']), sni([0, 'b.example'])]), { status: 'malformed', reason: 'duplicate-extension' }],
    ['two host names', buildHello([sni([0, 'a.example'], [0, 'b.example'])]), { status: 'malformed', reason: 'duplicate-name-type' }],
    ['an empty server_name (a server\'s answer)', buildHello([[0, []]]), { status: 'malformed', reason: 'bad-server-name' }],
    ['a trailing dot', buildHello([sni([0, 'a.example.'])]), { status: 'malformed', reason: 'bad-host-name' }],
    ['an IP literal', buildHello([sni([0, '192.0.2.1'])]), { status: 'malformed', reason: 'bad-host-name' }],
    ['a space in the name', buildHello([sni([0, 'a b.example'])]), { status: 'malformed', reason: 'bad-host-name' }],
    ['a non-ASCII name', buildHello([sni([0, 'caf\u00e9.example'])]), { status: 'malformed', reason: 'bad-host-name' }],
    ['an empty ALPN name', buildHello([sni([0, 'a.example']), [16, vec16([0])]]), { status: 'malformed', reason: 'bad-alpn' }],
    ['odd supported_versions', buildHello([sni([0, 'a.example']), [43, [3, 3, 4, 3]]]), { status: 'malformed', reason: 'bad-supported-versions' }]
  ])('%s', (_name, bytes, expected) => {
    expect(parseClientHello(bytes)).toMatchObject(expected)
  })

  it('ignores names of other types next to the host name', () => {
    expect(parseClientHello(buildHello([sni([1, 'opaque'], [0, 'a.example'])]))).toMatchObject({ status: 'ok', serverName: 'a.example' })
  })

  it('an extensions block whose length disagrees with the message is malformed', () => {
    const hello = buildHello([sni([0, 'a.example'])])
    // The extensions length sits right after compression: 5 + 4 + 2 + 32 + 1 + 4 + 2 = 50.
    hello[50] = 0xff
    expect(parseClientHello(hello)).toEqual({ status: 'malformed', reason: 'bad-extensions' })
  })
})

describe('fuzzing', () => {
  const statuses = ['ok', 'need-more', 'not-tls', 'no-sni', 'malformed']

  it('random bytes never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
      expect(statuses).toContain(parseClientHello(bytes).status)
    }), { numRuns: 3000 })
  })

  it('random bytes behind a plausible record header never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1024 }), fc.integer({ min: 0, max: 0xffff }), (tail, length) => {
      const bytes = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, length >> 8, length & 0xff, 0x01]), tail])
      expect(statuses).toContain(parseClientHello(bytes).status)
    }), { numRuns: 3000 })
  })

  it('mutated real hellos never throw, and a parsed name is always a valid lower-case DNS name', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.nat(),
      fc.boolean(),
      (edits, cut, useTls12) => {
        const bytes = Buffer.from(useTls12 ? tls12 : tls13)
        for (const [at, value] of edits) bytes[at % bytes.length] = value
        const r = parseClientHello(bytes.subarray(0, bytes.length - (cut % 8)))
        expect(statuses).toContain(r.status)
        if (r.status === 'ok') expect(r.serverName).toMatch(/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/)
      }
    ), { numRuns: 3000 })
  })

  it('any valid DNS name round-trips through a ClientHello, however it is fragmented', () => {
    fc.assert(fc.property(fc.domain(), fc.integer({ min: 1, max: 300 }), (name, size) => {
      const hello = refragment(buildHello([sni([0, name])]), size)
      expect(parseClientHello(hello)).toMatchObject({ status: 'ok', serverName: name.toLowerCase(), bytes: hello.length })
    }), { numRuns: 500 })
  })

  it('reads a large hello sent as 60,000 one-byte records', () => {
    const hello = refragment(buildHello([sni([0, 'a.example']), [21, new Array<number>(60_000).fill(0)]]), 1)
    expect(parseClientHello(hello)).toMatchObject({ status: 'ok', serverName: 'a.example', bytes: hello.length })
  })
})
