// PROXY protocol v1 and v2 headers: the spec's forms (TCP4, TCP6, UNKNOWN, LOCAL, UNSPEC, UNIX, TLVs), the header
// curl really sends, partial reads, stable reasons for bad headers, and fuzzing: no byte sequence makes it throw.
import { execFile, execFileSync } from 'node:child_process'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { V1_MAX_BYTES, V2_SIGNATURE, parseProxyHeader } from '../../src/net/proxy-protocol.ts'

function v2 (verCmd: number, fam: number, block: number[]): Buffer {
  return Buffer.concat([V2_SIGNATURE, Buffer.from([verCmd, fam, block.length >> 8, block.length & 0xff, ...block])])
}

const u16 = (n: number): number[] => [n >> 8, n & 0xff]
const tlv = (type: number, value: number[]): number[] => [type, ...u16(value.length), ...value]

function ipv6Bytes (text: string): number[] {
  // Test-side conversion through the WHATWG URL parser, independent of the code under test.
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1)
  const [l = '', r = ''] = host.split('::')
  const left = l === '' ? [] : l.split(':')
  const right = r === '' ? [] : r.split(':')
  const groups = host.includes('::') ? [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right] : left
  return groups.flatMap((g) => u16(parseInt(g, 16)))
}

describe('version 1', () => {
  it.each<[string, string, object]>([
    ['TCP4', 'PROXY TCP4 203.0.113.7 192.0.2.1 56324 8443\r\n', { family: 'tcp4', source: { address: '203.0.113.7', port: 56324 }, destination: { address: '192.0.2.1', port: 8443 } }],
    ['TCP6, normalised', 'PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 65535 0\r\n', { family: 'tcp6', source: { address: '2001:db8::1', port: 65535 }, destination: { address: '::1', port: 0 } }],
    ['TCP6 with an embedded IPv4', 'PROXY TCP6 ::ffff:203.0.113.7 ::1 1 2\r\n', { source: { address: '::ffff:203.0.113.7', port: 1 } }],
    ['an IPv6 client under TCP4, as curl --haproxy-clientip sends it', 'PROXY TCP4 2001:DB8::42 127.0.0.1 40000 8443\r\n', { family: 'tcp4', source: { address: '2001:db8::42', port: 40000 } }],
    ['UNKNOWN', 'PROXY UNKNOWN\r\n', { family: 'unknown' }],
    ['UNKNOWN with ignored addresses', 'PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n', { family: 'unknown' }]
  ])('%s', (_name, header, expected) => {
    const bytes = Buffer.concat([Buffer.from(header, 'latin1'), Buffer.from([0x16, 0x03, 0x01])])
    const r = parseProxyHeader(bytes)
    expect(r).toMatchObject({ status: 'ok', version: 1, command: 'proxy', bytes: header.length, ...expected })
    if (r.status === 'ok' && r.family === 'unknown') expect(r.source).toBeUndefined()
  })

  it('the longest header fits in 107 bytes', () => {
    const longest = 'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n'
    expect(longest.length).toBe(V1_MAX_BYTES)
    expect(parseProxyHeader(Buffer.from(longest))).toMatchObject({ status: 'ok', bytes: V1_MAX_BYTES })
  })

  it.each<[string, string, string]>([
    ['a port over 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n', 'v1-bad-port'],
    ['a port with a leading zero', 'PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n', 'v1-bad-port'],
    ['a bad IPv4 address', 'PROXY TCP4 256.1.1.1 5.6.7.8 1 80\r\n', 'v1-bad-address'],
    ['an IPv6 destination under TCP4', 'PROXY TCP4 1.2.3.4 ::1 1 80\r\n', 'v1-bad-address'],
    ['a host name as the source', 'PROXY TCP4 client.example 5.6.7.8 1 80\r\n', 'v1-bad-address'],
    ['a zone index', 'PROXY TCP6 fe80::1%eth0 ::1 1 80\r\n', 'v1-bad-address'],
    ['an unknown protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 80\r\n', 'v1-bad-protocol'],
    ['a missing field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', 'v1-bad-fields'],
    ['a double space', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 80\r\n', 'v1-bad-fields'],
    ['a bare LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 80\n', 'v1-bad-character'],
    ['CR without LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 80\rX', 'v1-bad-character'],
    ['a control character', 'PROXY TCP4 1.2.3.4\t5.6.7.8 1 80\r\n', 'v1-bad-character'],
    ['no CRLF within 107 bytes', `PROXY UNKNOWN ${'a'.repeat(100)}`, 'v1-too-long']
  ])('%s is malformed', (_name, header, reason) => {
    expect(parseProxyHeader(Buffer.from(header, 'latin1'))).toEqual({ status: 'malformed', reason })
  })

  it('every proper prefix needs more bytes', () => {
    const header = Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 40000 8443\r\n')
    for (let i = 0; i < header.length; i++) expect(parseProxyHeader(header.subarray(0, i)).status, `prefix ${i}`).toBe('need-more')
    expect(parseProxyHeader(header.subarray(0, header.length - 1))).toEqual({ status: 'need-more', bytes: header.length })
  })

  it('a stream that starts otherwise carries no header', () => {
    expect(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]))).toEqual({ status: 'not-proxy' })
    expect(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual({ status: 'not-proxy' })
    expect(parseProxyHeader(Buffer.from('PROXYX'))).toEqual({ status: 'not-proxy' })
  })
})

describe('version 2', () => {
  it('PROXY over TCP4, with the TLS bytes that follow left alone', () => {
    const header = v2(0x21, 0x11, [203, 0, 113, 7, 192, 0, 2, 1, ...u16(56324), ...u16(443)])
    const r = parseProxyHeader(Buffer.concat([header, Buffer.from([0x16, 0x03, 0x01])]))
    expect(r).toEqual({
      status: 'ok', bytes: 28, version: 2, command: 'proxy', family: 'tcp4',
      source: { address: '203.0.113.7', port: 56324 }, destination: { address: '192.0.2.1', port: 443 }
    })
  })

  it('PROXY over TCP6 and UDP6, in RFC 5952 form', () => {
    const block = [...ipv6Bytes('2001:db8::7'), ...ipv6Bytes('::ffff:192.0.2.1'), ...u16(1), ...u16(2)]
    expect(parseProxyHeader(v2(0x21, 0x21, block))).toMatchObject({
      status: 'ok', bytes: 52, family: 'tcp6', source: { address: '2001:db8::7', port: 1 }, destination: { address: '::ffff:192.0.2.1', port: 2 }
    })
    expect(parseProxyHeader(v2(0x21, 0x22, block))).toMatchObject({ status: 'ok', family: 'udp6' })
  })

  it('LOCAL: the proxy\'s own connection, whatever the address block holds', () => {
    expect(parseProxyHeader(v2(0x20, 0x00, []))).toEqual({ status: 'ok', bytes: 16, version: 2, command: 'local', family: 'unknown' })
    expect(parseProxyHeader(v2(0x20, 0x11, [1, 2, 3]))).toEqual({ status: 'ok', bytes: 19, version: 2, command: 'local', family: 'unknown' })
  })

  it('UNSPEC and UNIX addresses give no source; TLVs are skipped and the authority kept', () => {
    expect(parseProxyHeader(v2(0x21, 0x00, [9, 9]))).toMatchObject({ status: 'ok', family: 'unknown' })
    expect(parseProxyHeader(v2(0x21, 0x31, new Array<number>(216).fill(0x61)))).toMatchObject({ status: 'ok', family: 'unix-stream', bytes: 232 })
    const withTlvs = v2(0x21, 0x11, [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2, ...tlv(0x01, [0x68, 0x32]), ...tlv(0x02, [...Buffer.from('EU-Shop.example')]), ...tlv(0x04, [])])
    const r = parseProxyHeader(withTlvs)
    expect(r).toMatchObject({ status: 'ok', authority: 'eu-shop.example', source: { address: '1.2.3.4', port: 1 } })
  })

  it.each<[string, Buffer, string]>([
    ['version 1 in the binary form', v2(0x11, 0x11, new Array<number>(12).fill(0)), 'v2-bad-version'],
    ['an unknown command', v2(0x22, 0x11, new Array<number>(12).fill(0)), 'v2-bad-command'],
    ['an unknown family', v2(0x21, 0x41, new Array<number>(12).fill(0)), 'v2-bad-family'],
    ['an address block too short for TCP4', v2(0x21, 0x11, new Array<number>(11).fill(0)), 'v2-short-addresses'],
    ['an address block too short for TCP6', v2(0x21, 0x21, new Array<number>(35).fill(0)), 'v2-short-addresses'],
    ['a truncated TLV', v2(0x21, 0x11, [...new Array<number>(12).fill(0), 0x01, 0x00, 0x05, 0x00]), 'v2-bad-tlv'],
    ['a TLV header cut short', v2(0x21, 0x11, [...new Array<number>(12).fill(0), 0x01, 0x00]), 'v2-bad-tlv']
  ])('%s is malformed', (_name, bytes, reason) => {
    expect(parseProxyHeader(bytes)).toEqual({ status: 'malformed', reason })
  })

  it('every proper prefix needs more bytes, and says how many once the length is known', () => {
    const header = v2(0x21, 0x21, [...ipv6Bytes('2001:db8::7'), ...ipv6Bytes('::1'), 0, 1, 0, 2])
    for (let i = 0; i < header.length; i++) expect(parseProxyHeader(header.subarray(0, i)).status, `prefix ${i}`).toBe('need-more')
    expect(parseProxyHeader(header.subarray(0, 20))).toEqual({ status: 'need-more', bytes: 52 })
  })
})

// curl sends a v1 header with --haproxy-protocol (curl 7.60+); --haproxy-clientip (curl 8.2+) sets its source address.
const curlVersion = (() => {
  try {
    const m = /curl (\d+)\.(\d+)/.exec(execFileSync('curl', ['--version'], { encoding: 'utf8' }))
    return m === null ? 0 : Number(m[1]) * 100 + Number(m[2])
  } catch {
    return 0
  }
})()

async function curlHeader (args: string[]): Promise<Buffer> {
  const seen: Buffer[] = []
  const server = net.createServer((socket) => {
    socket.on('data', (d: Buffer) => {
      seen.push(d)
      if (Buffer.concat(seen).includes('\r\n\r\n')) socket.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n')
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const curlArgs = ['-s', '-o', '/dev/null', '--max-time', '5', '--noproxy', '*', ...args, `http://127.0.0.1:${port}/`]
  await new Promise<void>((resolve) => execFile('curl', curlArgs, () => resolve()))
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return Buffer.concat(seen)
}

describe.skipIf(curlVersion < 760)('curl --haproxy-protocol', () => {
  it('reads the header curl sends, and the HTTP request right after it', async () => {
    const bytes = await curlHeader(['--haproxy-protocol'])
    const r = parseProxyHeader(bytes)
    expect(r).toMatchObject({ status: 'ok', version: 1, command: 'proxy', family: 'tcp4', source: { address: '127.0.0.1' }, destination: { address: '127.0.0.1' } })
    if (r.status === 'ok') expect(bytes.subarray(r.bytes).toString('latin1')).toMatch(/^GET \/ HTTP\/1\.1\r\n/)
  })
})

describe.skipIf(curlVersion < 802)('curl --haproxy-clientip', () => {
  // The family follows curl's connection to 127.0.0.1 (TCP4), whatever the client address.
  it.each(['203.0.113.7', '2001:db8::42'])('reads the client address %s', async (ip) => {
    const r = parseProxyHeader(await curlHeader(['--haproxy-clientip', ip]))
    expect(r).toMatchObject({ status: 'ok', version: 1, command: 'proxy', family: 'tcp4', source: { address: ip } })
  })
})

describe('fuzzing', () => {
  const statuses = ['ok', 'need-more', 'not-proxy', 'malformed']

  it('random bytes, alone or behind either signature, never throw', () => {
    fc.assert(fc.property(fc.constantFrom(Buffer.alloc(0), Buffer.from('PROXY '), V2_SIGNATURE), fc.uint8Array({ maxLength: 600 }), (prefix, tail) => {
      expect(statuses).toContain(parseProxyHeader(Buffer.concat([prefix, tail])).status)
    }), { numRuns: 5000 })
  })

  it('mutated valid headers never throw', () => {
    const samples = [
      Buffer.from('PROXY TCP6 2001:db8::7 ::1 40000 8443\r\n'),
      v2(0x21, 0x21, [...ipv6Bytes('2001:db8::7'), ...ipv6Bytes('::1'), 0, 1, 0, 2, ...tlv(2, [0x61])])
    ]
    fc.assert(fc.property(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (sample, edits) => {
      const b = Buffer.from(sample)
      for (const [at, value] of edits) b[at % b.length] = value
      expect(statuses).toContain(parseProxyHeader(b).status)
    }), { numRuns: 5000 })
  })

  it('any IPv4 or IPv6 source reads the same from v1 text and v2 bytes, in the URL standard\'s form', () => {
    fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (ip, p) => {
      const six = ip.includes(':')
      const r1 = parseProxyHeader(Buffer.from(`PROXY ${six ? 'TCP6' : 'TCP4'} ${ip} ${six ? '::1' : '127.0.0.1'} ${p} 443\r\n`))
      const addr = six ? ipv6Bytes(ip) : ip.split('.').map(Number)
      const other = six ? ipv6Bytes('::1') : [127, 0, 0, 1]
      const r2 = parseProxyHeader(v2(0x21, six ? 0x21 : 0x11, [...addr, ...other, ...u16(p), ...u16(443)]))
      expect(r1.status).toBe('ok')
      expect(r2.status).toBe('ok')
      if (r1.status !== 'ok' || r2.status !== 'ok') return
      expect(r1.source).toEqual(r2.source)
      expect(r1.source?.port).toBe(p)
      const canonical = six ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip
      // The URL standard writes IPv4-mapped addresses in hex; RFC 5952 section 5 prefers the dotted form.
      if (!(r1.source?.address ?? '').startsWith('::ffff:')) expect(r1.source?.address).toBe(canonical)
    }), { numRuns: 2000 })
  })
})
