// Reads the server name (SNI) from the first bytes of a TLS connection without terminating TLS, as an anycast ingress
// does to route a still-encrypted stream (docs/design.md, "Anycast ingress"). The ClientHello may arrive in pieces and span
// several records; hostile bytes get a stable reason, never an exception. ClientHello layout: RFC 8446 section 4.1.2;
// records: section 5.1; server_name: RFC 6066 section 3; ALPN: RFC 7301 section 3.1.

/** The largest ClientHello accepted. Real ones are under 2 KiB (a few KiB with post-quantum key shares). */
export const MAX_CLIENT_HELLO_BYTES = 65_536

/** RFC 8446 section 5.1: a TLSPlaintext fragment MUST NOT exceed 2^14 bytes. */
const MAX_RECORD_BYTES = 16_384
const RECORD_HEADER = 5
const CONTENT_HANDSHAKE = 0x16
const HANDSHAKE_CLIENT_HELLO = 0x01
const EXT_SERVER_NAME = 0
const EXT_ALPN = 16
const EXT_SUPPORTED_VERSIONS = 43

export type NotTlsReason = 'not-handshake-record' | 'sslv2-hello' | 'bad-record-version'
export type NoSniReason = 'no-extensions' | 'no-server-name'
export type MalformedHelloReason =
  | 'empty-record' | 'record-too-long' | 'interleaved-record' | 'not-client-hello' | 'hello-too-long'
  | 'trailing-bytes' | 'truncated' | 'bad-session-id' | 'bad-cipher-suites' | 'bad-compression' | 'bad-extensions'
  | 'duplicate-extension' | 'bad-server-name' | 'duplicate-name-type' | 'bad-host-name' | 'bad-alpn' | 'bad-supported-versions'

export interface ClientHelloInfo {
  /** The host name, lower-cased. */
  readonly serverName: string
  /** ALPN protocols offered, in the client's order (empty without the extension). */
  readonly alpn: readonly string[]
  /** TLS versions from supported_versions (0x0304 is TLS 1.3); empty without the extension (TLS 1.2 and older). */
  readonly supportedVersions: readonly number[]
  readonly legacyVersion: number
}

export type ClientHelloResult =
  /** `bytes`: how many bytes the records carrying the ClientHello take (what a relay must forward first). */
  | ({ readonly status: 'ok', readonly bytes: number } & ClientHelloInfo)
  /** Everything so far is consistent; at least `bytes` bytes in all are needed to decide. */
  | { readonly status: 'need-more', readonly bytes: number }
  | { readonly status: 'not-tls', readonly reason: NotTlsReason }
  | { readonly status: 'no-sni', readonly reason: NoSniReason, readonly bytes: number }
  | { readonly status: 'malformed', readonly reason: MalformedHelloReason }

const malformed = (reason: MalformedHelloReason): ClientHelloResult => ({ status: 'malformed', reason })

function u16 (b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number)
}

/**
 * Parses the ClientHello at the start of `data` (everything received so far on the connection). Call again with more
 * bytes on `need-more`.
 */
export function parseClientHello (data: Uint8Array): ClientHelloResult {
  if (data.length === 0) return { status: 'need-more', bytes: RECORD_HEADER }
  const first = data[0] as number
  if (first !== CONTENT_HANDSHAKE) {
    // An SSL 2.0-compatible hello starts with a two-byte length with the top bit set, then message type 1.
    if ((first & 0x80) !== 0 && data.length >= 3 && data[2] === 0x01) return { status: 'not-tls', reason: 'sslv2-hello' }
    return { status: 'not-tls', reason: 'not-handshake-record' }
  }
  // legacy_record_version: 0x0301 for a first ClientHello, 0x0300..0x0303 seen in the wild (RFC 8446 section 5.1).
  if (data.length >= 2 && data[1] !== 0x03) return { status: 'not-tls', reason: 'bad-record-version' }

  // The handshake message may be fragmented over several records (RFC 8446 section 5.1): collect their fragments and
  // copy them together once, at the end (copying on every record would be quadratic in a stream of 1-byte records).
  const fragments: Uint8Array[] = []
  const header = new Uint8Array(4)
  let handshakeBytes = 0
  let messageLength = -1
  let off = 0
  for (;;) {
    if (off + RECORD_HEADER > data.length) {
      // Partial record header: check what there is of it.
      if (off < data.length && data[off] !== CONTENT_HANDSHAKE) return malformed('interleaved-record')
      return { status: 'need-more', bytes: off + RECORD_HEADER }
    }
    if (data[off] !== CONTENT_HANDSHAKE) return malformed('interleaved-record')
    if (data[off + 1] !== 0x03) return off === 0 ? { status: 'not-tls', reason: 'bad-record-version' } : malformed('interleaved-record')
    const length = u16(data, off + 3)
    // RFC 8446 section 5.1: zero-length handshake fragments MUST NOT be sent.
    if (length === 0) return malformed('empty-record')
    if (length > MAX_RECORD_BYTES) return malformed('record-too-long')
    const start = off + RECORD_HEADER
    const available = Math.min(length, data.length - start)
    const fragment = data.subarray(start, start + available)
    fragments.push(fragment)
    for (let i = 0; handshakeBytes + i < 4 && i < fragment.length; i++) header[handshakeBytes + i] = fragment[i] as number
    handshakeBytes += available
    // Decide as early as the bytes allow: a hostile peer should not hold a connection open with a bogus header.
    if (handshakeBytes >= 1 && header[0] !== HANDSHAKE_CLIENT_HELLO) return malformed('not-client-hello')
    if (messageLength < 0 && handshakeBytes >= 4) {
      messageLength = ((header[1] as number) << 16) | u16(header, 2)
      if (messageLength > MAX_CLIENT_HELLO_BYTES) return malformed('hello-too-long')
    }
    if (available < length) return { status: 'need-more', bytes: start + length }
    off = start + length
    if (messageLength >= 0 && handshakeBytes >= 4 + messageLength) {
      // Nothing may follow the ClientHello before the server answers (RFC 8446 section 2).
      if (handshakeBytes > 4 + messageLength) return malformed('trailing-bytes')
      const hs = fragments.length === 1 ? fragment : concat(fragments, handshakeBytes)
      const body = parseBody(hs.subarray(4))
      if ('reason' in body) return body.status === 'no-sni' ? { ...body, bytes: off } : body
      return { status: 'ok', bytes: off, ...body }
    }
  }
}

function concat (parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

type BodyResult = ClientHelloInfo | { readonly status: 'malformed', readonly reason: MalformedHelloReason } | { readonly status: 'no-sni', readonly reason: NoSniReason }

/** The ClientHello body (after the 4-byte handshake header), every length checked against what remains. */
function parseBody (b: Uint8Array): BodyResult {
  const end = b.length
  // legacy_version (2) + random (32)
  if (end < 35) return { status: 'malformed', reason: 'truncated' }
  const legacyVersion = u16(b, 0)
  let p = 34
  const sessionIdLength = b[p] as number
  if (sessionIdLength > 32 || p + 1 + sessionIdLength > end) return { status: 'malformed', reason: 'bad-session-id' }
  p += 1 + sessionIdLength
  if (p + 2 > end) return { status: 'malformed', reason: 'truncated' }
  const suites = u16(b, p)
  if (suites < 2 || suites % 2 !== 0 || p + 2 + suites > end) return { status: 'malformed', reason: 'bad-cipher-suites' }
  p += 2 + suites
  if (p + 1 > end) return { status: 'malformed', reason: 'truncated' }
  const compression = b[p] as number
  if (compression < 1 || p + 1 + compression > end) return { status: 'malformed', reason: 'bad-compression' }
  p += 1 + compression
  // A TLS 1.2-or-older client may omit the extensions block entirely.
  if (p === end) return { status: 'no-sni', reason: 'no-extensions' }
  if (p + 2 > end) return { status: 'malformed', reason: 'truncated' }
  const extLength = u16(b, p)
  p += 2
  if (p + extLength !== end) return { status: 'malformed', reason: 'bad-extensions' }

  const seen = new Set<number>()
  let serverName: string | undefined
  let alpn: string[] = []
  let versions: number[] = []
  while (p < end) {
    if (p + 4 > end) return { status: 'malformed', reason: 'bad-extensions' }
    const type = u16(b, p)
    const length = u16(b, p + 2)
    p += 4
    if (p + length > end) return { status: 'malformed', reason: 'bad-extensions' }
    // RFC 8446 section 4.2: no more than one extension of the same type.
    if (seen.has(type)) return { status: 'malformed', reason: 'duplicate-extension' }
    seen.add(type)
    const ext = b.subarray(p, p + length)
    p += length
    if (type === EXT_SERVER_NAME) {
      const r = parseServerName(ext)
      if (typeof r !== 'string') return { status: 'malformed', reason: r.reason }
      serverName = r
    } else if (type === EXT_ALPN) {
      const r = parseAlpn(ext)
      if (r === undefined) return { status: 'malformed', reason: 'bad-alpn' }
      alpn = r
    } else if (type === EXT_SUPPORTED_VERSIONS) {
      const r = parseSupportedVersions(ext)
      if (r === undefined) return { status: 'malformed', reason: 'bad-supported-versions' }
      versions = r
    }
  }
  if (serverName === undefined) return { status: 'no-sni', reason: 'no-server-name' }
  return { serverName, alpn, supportedVersions: versions, legacyVersion }
}

// RFC 6066 section 3: HostName is an ASCII DNS name without a trailing dot; IP literals are not permitted. Letters,
// digits and hyphens per label (RFC 1123), and underscores, which some real names carry.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/
const DOTTED_QUAD = /^\d+\.\d+\.\d+\.\d+$/

function parseServerName (ext: Uint8Array): string | { readonly reason: MalformedHelloReason } {
  if (ext.length < 2) return { reason: 'bad-server-name' }
  const listLength = u16(ext, 0)
  if (listLength < 1 || listLength + 2 !== ext.length) return { reason: 'bad-server-name' }
  let p = 2
  let host: string | undefined
  const types = new Set<number>()
  while (p < ext.length) {
    if (p + 3 > ext.length) return { reason: 'bad-server-name' }
    const nameType = ext[p] as number
    const length = u16(ext, p + 1)
    p += 3
    if (length < 1 || p + length > ext.length) return { reason: 'bad-server-name' }
    // "The ServerNameList MUST NOT contain more than one name of the same name_type."
    if (types.has(nameType)) return { reason: 'duplicate-name-type' }
    types.add(nameType)
    if (nameType === 0) {
      const name = asciiHostName(ext.subarray(p, p + length))
      if (name === undefined) return { reason: 'bad-host-name' }
      host = name
    }
    p += length
  }
  return host ?? { reason: 'bad-server-name' }
}

function asciiHostName (bytes: Uint8Array): string | undefined {
  if (bytes.length > 253) return undefined
  let s = ''
  for (const c of bytes) {
    if (c < 0x21 || c > 0x7e) return undefined
    s += String.fromCharCode(c)
  }
  s = s.toLowerCase()
  if (DOTTED_QUAD.test(s)) return undefined
  for (const label of s.split('.')) if (!LABEL.test(label)) return undefined
  return s
}

function parseAlpn (ext: Uint8Array): string[] | undefined {
  if (ext.length < 2 || u16(ext, 0) + 2 !== ext.length || ext.length === 2) return undefined
  const out: string[] = []
  let p = 2
  while (p < ext.length) {
    const length = ext[p] as number
    // RFC 7301 section 3.1: empty protocol names MUST NOT be included.
    if (length === 0 || p + 1 + length > ext.length) return undefined
    out.push(Buffer.from(ext.subarray(p + 1, p + 1 + length)).toString('latin1'))
    p += 1 + length
  }
  return out
}

function parseSupportedVersions (ext: Uint8Array): number[] | undefined {
  // RFC 8446 section 4.2.1: ProtocolVersion versions<2..254> in a ClientHello.
  if (ext.length < 1) return undefined
  const length = ext[0] as number
  if (length < 2 || length % 2 !== 0 || length + 1 !== ext.length) return undefined
  const out: number[] = []
  for (let p = 1; p < ext.length; p += 2) out.push(u16(ext, p))
  return out
}
