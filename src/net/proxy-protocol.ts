// Reads a PROXY protocol header (HAProxy, www.haproxy.org/download/3.0/doc/proxy-protocol.txt) at the start of a
// connection: version 1 (text, what `curl --haproxy-protocol` / `--haproxy-clientip` send) and version 2 (binary).
// The edge uses the source address to locate the simulated client. Partial reads ask for more bytes; hostile bytes get
// a stable reason, never an exception.
import { isIPv4, isIPv6 } from 'node:net'

/** Spec section 2.1: a v1 header is at most 107 bytes, CRLF included. */
export const V1_MAX_BYTES = 107
const V1_PREFIX = Buffer.from('PROXY ', 'latin1')
/** Spec section 2.2: the 12-byte signature that starts every v2 header. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const V2_HEADER = 16
const PP2_TYPE_AUTHORITY = 0x02

export interface ProxyEndpoint {
  readonly address: string
  readonly port: number
}

export type ProxyFamily = 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unix-stream' | 'unix-dgram' | 'unknown'

export type ProxyMalformedReason =
  | 'v1-too-long' | 'v1-bad-character' | 'v1-bad-fields' | 'v1-bad-protocol' | 'v1-bad-address' | 'v1-bad-port'
  | 'v2-bad-version' | 'v2-bad-command' | 'v2-bad-family' | 'v2-short-addresses' | 'v2-bad-tlv'

export interface ProxyHeader {
  readonly version: 1 | 2
  /** `local`: a health check from the proxy itself (v2 only); use the connection's real endpoints. */
  readonly command: 'proxy' | 'local'
  readonly family: ProxyFamily
  /** The original client, for TCP/UDP over IPv4 or IPv6. */
  readonly source?: ProxyEndpoint
  readonly destination?: ProxyEndpoint
  /** v2 PP2_TYPE_AUTHORITY: the host name the client asked for (typically the SNI), when the proxy sent it. */
  readonly authority?: string
}

export type ProxyHeaderResult =
  /** `bytes`: the length of the header; the application stream starts right after it. */
  | ({ readonly status: 'ok', readonly bytes: number } & ProxyHeader)
  /** A consistent prefix of a header; at least `bytes` bytes in all are needed. */
  | { readonly status: 'need-more', readonly bytes: number }
  /** The stream does not start with a PROXY header. */
  | { readonly status: 'not-proxy' }
  | { readonly status: 'malformed', readonly reason: ProxyMalformedReason }

const malformed = (reason: ProxyMalformedReason): ProxyHeaderResult => ({ status: 'malformed', reason })

/** Whether `data` starts with (a prefix of) `sig`: 1 full match, 0 consistent but short, -1 different. */
function startsWith (data: Uint8Array, sig: Uint8Array): 1 | 0 | -1 {
  const n = Math.min(data.length, sig.length)
  for (let i = 0; i < n; i++) if (data[i] !== sig[i]) return -1
  return data.length >= sig.length ? 1 : 0
}

/** Parses the PROXY header at the start of `data` (everything received so far). */
export function parseProxyHeader (data: Uint8Array): ProxyHeaderResult {
  if (data.length === 0) return { status: 'need-more', bytes: 1 }
  const v2 = startsWith(data, V2_SIGNATURE)
  if (v2 === 1) return parseV2(data)
  if (v2 === 0) return { status: 'need-more', bytes: V2_HEADER }
  const v1 = startsWith(data, V1_PREFIX)
  if (v1 === 1) return parseV1(data)
  if (v1 === 0) return { status: 'need-more', bytes: V1_PREFIX.length }
  return { status: 'not-proxy' }
}

const PORT = /^(?:0|[1-9]\d{0,4})$/

function parseV1 (data: Uint8Array): ProxyHeaderResult {
  const limit = Math.min(data.length, V1_MAX_BYTES)
  let end = -1
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const c = data[i] as number
    if (c === 0x0d) {
      if (i + 1 >= data.length) return { status: 'need-more', bytes: i + 2 }
      if (data[i + 1] !== 0x0a) return malformed('v1-bad-character')
      end = i
      break
    }
    // The header is printable US-ASCII separated by single spaces.
    if (c < 0x20 || c > 0x7e) return malformed('v1-bad-character')
  }
  if (end < 0) return data.length >= V1_MAX_BYTES ? malformed('v1-too-long') : { status: 'need-more', bytes: data.length + 1 }
  const line = Buffer.from(data.subarray(0, end)).toString('latin1')
  const bytes = end + 2
  const fields = line.split(' ')
  const protocol = fields[1]
  // "UNKNOWN": the proxy cannot tell; the rest of the line is to be ignored and the real endpoints used.
  if (protocol === 'UNKNOWN') return { status: 'ok', bytes, version: 1, command: 'proxy', family: 'unknown' }
  if (fields.length !== 6) return malformed('v1-bad-fields')
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return malformed('v1-bad-protocol')
  const [, , src, dst, sport, dport] = fields as [string, string, string, string, string, string]
  const valid = protocol === 'TCP4' ? isIPv4 : isIPv6
  // The family names the proxy's own connection. curl's --haproxy-clientip (lib/cf-haproxy.c) sends the given client
  // address under the family of its connection ("PROXY TCP4 2001:db8::1 127.0.0.1 ..."), so the source may be of either
  // family; the destination must match. A zone index (fe80::1%eth0) names an interface of the proxy, not a client.
  const srcValid = isIPv4(src) || isIPv6(src)
  if (!srcValid || !valid(dst) || src.includes('%') || dst.includes('%')) return malformed('v1-bad-address')
  if (!PORT.test(sport) || !PORT.test(dport) || Number(sport) > 65535 || Number(dport) > 65535) return malformed('v1-bad-port')
  return {
    status: 'ok',
    bytes,
    version: 1,
    command: 'proxy',
    family: protocol === 'TCP4' ? 'tcp4' : 'tcp6',
    source: { address: isIPv6(src) ? canonicalIPv6(src) : src, port: Number(sport) },
    destination: { address: protocol === 'TCP6' ? canonicalIPv6(dst) : dst, port: Number(dport) }
  }
}

const FAMILIES: Readonly<Record<number, { family: ProxyFamily, addressBytes: number }>> = {
  0x00: { family: 'unknown', addressBytes: 0 },
  0x11: { family: 'tcp4', addressBytes: 12 },
  0x12: { family: 'udp4', addressBytes: 12 },
  0x21: { family: 'tcp6', addressBytes: 36 },
  0x22: { family: 'udp6', addressBytes: 36 },
  0x31: { family: 'unix-stream', addressBytes: 216 },
  0x32: { family: 'unix-dgram', addressBytes: 216 }
}

function parseV2 (data: Uint8Array): ProxyHeaderResult {
  if (data.length < V2_HEADER) return { status: 'need-more', bytes: V2_HEADER }
  const verCmd = data[12] as number
  if (verCmd >> 4 !== 2) return malformed('v2-bad-version')
  const cmd = verCmd & 0x0f
  if (cmd > 1) return malformed('v2-bad-command')
  const length = ((data[14] as number) << 8) | (data[15] as number)
  const bytes = V2_HEADER + length
  if (data.length < bytes) return { status: 'need-more', bytes }
  // LOCAL: the proxy's own connection (a health check); the address block, whatever it holds, is to be skipped.
  if (cmd === 0) return { status: 'ok', bytes, version: 2, command: 'local', family: 'unknown' }
  const fam = FAMILIES[data[13] as number]
  if (fam === undefined) return malformed('v2-bad-family')
  // UNSPEC: "the receiver must ignore the address information" (section 2.2), TLVs included.
  if (fam.family === 'unknown') return { status: 'ok', bytes, version: 2, command: 'proxy', family: 'unknown' }
  if (length < fam.addressBytes) return malformed('v2-short-addresses')
  const block = data.subarray(V2_HEADER, bytes)
  const tlvs = parseTlvs(block.subarray(fam.addressBytes))
  if (tlvs === undefined) return malformed('v2-bad-tlv')
  const base = { status: 'ok', bytes, version: 2, command: 'proxy', family: fam.family, ...tlvs } as const
  switch (fam.family) {
    case 'tcp4':
    case 'udp4':
      return {
        ...base,
        source: { address: ipv4(block, 0), port: port(block, 8) },
        destination: { address: ipv4(block, 4), port: port(block, 10) }
      }
    case 'tcp6':
    case 'udp6':
      return {
        ...base,
        source: { address: ipv6(block, 0), port: port(block, 32) },
        destination: { address: ipv6(block, 16), port: port(block, 34) }
      }
    default:
      // UNIX sockets: nothing the simulation can locate; the real endpoints stand.
      return base
  }
}

/** Type-length-value vectors after the addresses (spec section 2.2.7): checked, and the authority kept. */
function parseTlvs (b: Uint8Array): { authority?: string } | undefined {
  let p = 0
  let authority: string | undefined
  while (p < b.length) {
    if (p + 3 > b.length) return undefined
    const type = b[p] as number
    const length = ((b[p + 1] as number) << 8) | (b[p + 2] as number)
    if (p + 3 + length > b.length) return undefined
    if (type === PP2_TYPE_AUTHORITY) {
      const value = Buffer.from(b.subarray(p + 3, p + 3 + length))
      // UTF-8 host name; one that does not decode cleanly is not trusted.
      const text = value.toString('utf8')
      if (length > 0 && length <= 255 && Buffer.byteLength(text) === length && !text.includes('\ufffd')) authority = text.toLowerCase()
    }
    p += 3 + length
  }
  return authority === undefined ? {} : { authority }
}

function port (b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number)
}

function ipv4 (b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`
}

/** RFC 5952 text: lower case, the longest run (two or more) of zero groups as `::`, IPv4-mapped as `::ffff:a.b.c.d`. */
function ipv6 (b: Uint8Array, at: number): string {
  const groups: number[] = []
  for (let i = 0; i < 8; i++) groups.push(port(b, at + 2 * i))
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${ipv4(b, at + 12)}`
  return formatGroups(groups)
}

function formatGroups (groups: readonly number[]): string {
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) { bestStart = i; bestLength = j - i }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}

/** The RFC 5952 form of a valid IPv6 text address, so v1 and v2 headers name the same client alike. */
function canonicalIPv6 (text: string): string {
  const lower = text.toLowerCase()
  let head = lower
  let v4: number[] = []
  const lastColon = lower.lastIndexOf(':')
  if (lower.includes('.', lastColon)) {
    v4 = lower.slice(lastColon + 1).split('.').map(Number)
    head = lower.slice(0, lastColon + 1) + '0:0'
  }
  const [left = '', right] = head.split('::') as [string, string | undefined]
  const l = left === '' ? [] : left.split(':')
  const r = right === undefined || right === '' ? [] : right.split(':')
  const groups = right === undefined ? l : [...l, ...new Array<string>(8 - l.length - r.length).fill('0'), ...r]
  const nums = groups.map((g) => parseInt(g, 16))
  if (v4.length === 4) {
    nums[6] = ((v4[0] as number) << 8) | (v4[1] as number)
    nums[7] = ((v4[2] as number) << 8) | (v4[3] as number)
  }
  const bytes = new Uint8Array(16)
  nums.forEach((n, i) => { bytes[2 * i] = n >> 8; bytes[2 * i + 1] = n & 0xff })
  return ipv6(bytes, 0)
}
