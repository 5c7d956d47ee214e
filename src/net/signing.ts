// Authentication of inter-PoP forwarding: an HMAC-SHA256 (RFC 2104) with a per-run random secret over the forwarding
// fields, with a timestamp window and a replay cache, so a client can neither claim "already inspected" nor pick its
// inspection PoP (docs/design.md invariant 5). Also signs shipped log batches, so a log sink accepts records only from PoPs.
import { createHash, randomBytes } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { FingerprintSet } from './fingerprint-set.ts'
import { hmacSha256Hex, sameText } from './hmac.ts'

/** Every forwarding header starts with this; clients may never send one. */
export const FWD_PREFIX = 'x-sim-fwd'

/**
 * The one header a relay carries: `<signature>;<timestamp>;<length>:<ray>;<length>:<ingress>;...`, the fields in
 * FIELD_ORDER, each prefixed with its length in characters. The signature (64 hex digits) is the HMAC of everything
 * after its `;`, which is all the verifier needs to check before it reads any field.
 */
export const FWD_HEADER = FWD_PREFIX

/** Headers of signed log batches and key calls (signBody). */
export const FWD = {
  ts: 'x-sim-fwd-ts',
  pop: 'x-sim-fwd-pop',
  sig: 'x-sim-fwd-sig'
} as const

/** What an ingress tells the inspection PoP it relays to. */
export interface ForwardFields {
  readonly ray: string
  readonly ingress: string
  readonly inspection: string
  /** The client location as `lat,lon[,country]` (the input text itself stays at the ingress). */
  readonly client: string
  readonly host: string
  /** The hops downstream of the inspection PoP (key, origin), as the ingress planned them (compact JSON). */
  readonly plan: string
}

export type VerifyResult =
  | { readonly ok: true, readonly fields: ForwardFields, readonly ts: number }
  | { readonly ok: false, readonly reason: string }

export interface ForwardSigner {
  /** The relay's one header (FWD_HEADER), timestamped and signed. */
  sign (fields: ForwardFields): Record<string, string>
  /** Checks the relay header's signature, then its fields, timestamp window and replay cache; never throws. */
  verify (headers: IncomingHttpHeaders): VerifyResult
  /** Headers authenticating a body sent by `pop` (log batches): HMAC over the timestamp, the PoP and the body digest. */
  signBody (pop: string, body: Buffer | string): Record<string, string>
  verifyBody (headers: IncomingHttpHeaders, body: Buffer): { ok: true, pop: string } | { ok: false, reason: string }
}

export interface SignerOptions {
  /** Defaults to newSecret(): a per-run secret that never leaves the process. */
  readonly secret?: Buffer
  readonly windowMs: number
  readonly now?: () => number
}

const FIELD_ORDER = ['ray', 'ingress', 'inspection', 'client', 'host', 'plan'] as const

/** The timestamp and the length-prefixed fields of a relay header, from `at` on; a reason when it is malformed. */
function parseFields (value: string, at: number): { ts: string, fields: ForwardFields } | string {
  const semi = value.indexOf(';', at)
  if (semi < 0) return 'malformed forwarding header'
  const ts = value.slice(at, semi)
  const out: Partial<Record<typeof FIELD_ORDER[number], string>> = {}
  let i = semi + 1
  for (const k of FIELD_ORDER) {
    // The length: one to six decimal digits, then a colon.
    let length = 0
    let colon = i
    for (; colon < value.length && colon - i <= 6; colon++) {
      const c = value.charCodeAt(colon)
      if (c === 58 /* : */) break
      if (c < 48 || c > 57) return 'malformed forwarding header'
      length = length * 10 + c - 48
    }
    if (colon === i || colon - i > 6 || value.charCodeAt(colon) !== 58) return 'malformed forwarding header'
    const end = colon + 1 + length
    if (end > value.length || (end < value.length && value.charCodeAt(end) !== 59)) return 'malformed forwarding header'
    out[k] = value.slice(colon + 1, end)
    i = end + 1
  }
  if (i < value.length) return 'malformed forwarding header'
  return { ts, fields: out as ForwardFields }
}

/** One to `max` decimal digits and nothing else (what /^\d{1,max}$/ tests, without a regular expression per relay). */
export function isDigits (text: string, max: number): boolean {
  if (text.length === 0 || text.length > max) return false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

function single (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v
}

export function hasForwardHeaders (headers: IncomingHttpHeaders): boolean {
  for (const name in headers) if (name.startsWith(FWD_PREFIX)) return true
  return false
}

/**
 * The first 52 bits of a signature (lowercase hex, already verified) as an integer, exact in a double. A replay is
 * the very same signature, so it always matches. Two different authentic relays share one only by chance: HMAC
 * output is uniform, so with n signatures remembered (about two windows' worth of relays) a new relay is refused
 * as a replay with probability n / 2^52, under 1e-10 at 100,000 remembered; and nobody without the secret can aim
 * at a remembered one, since a signature is only accepted after its MAC is checked.
 */
export function fingerprint (sig: string): number {
  let n = 0
  for (let i = 0; i < 13; i++) {
    const c = sig.charCodeAt(i)
    n = n * 16 + (c <= 57 ? c - 48 : c - 87)
  }
  return n
}

/**
 * A per-run secret: 32 random bytes of 7 bits each (224 bits), so the HMAC's pads are ASCII and signing takes the
 * fast path of hmacSha256Hex.
 */
export function newSecret (): Buffer {
  const secret = randomBytes(32)
  for (let i = 0; i < secret.length; i++) secret[i] = (secret[i] as number) & 0x7f
  return secret
}

export function createForwardSigner (opts: SignerOptions): ForwardSigner {
  const secret = opts.secret ?? newSecret()
  const now = opts.now ?? Date.now
  const windowMs = opts.windowMs
  // Signatures seen within the window: a captured relay cannot be replayed, even inside it. Each is remembered by its
  // fingerprint (see fingerprint()), a number, rather than as text: tens of thousands of them live for the whole
  // window, and a string sliced out of the header would keep the whole header alive with it.
  let seen = new FingerprintSet()
  let previous = new FingerprintSet()
  let rotatedAt = now()

  let signedAt = Number.NaN
  let signedAtText = ''

  const mac = hmacSha256Hex(secret)
  function macParts (parts: readonly string[]): string {
    // Length-prefixed parts: no two different field lists give the same input (nor a relay's, which starts `fwd;`).
    let input = ''
    for (const p of parts) input += `${Buffer.byteLength(p)}:${p}\n`
    return mac(input)
  }

  function checkTime (tsText: string | undefined): number | string {
    if (tsText === undefined || !isDigits(tsText, 16)) return 'missing or malformed timestamp'
    const ts = Number(tsText)
    if (Math.abs(now() - ts) > windowMs) return `timestamp outside the ${windowMs} ms window`
    return ts
  }

  function equal (expected: string, given: string | undefined): boolean {
    return given !== undefined && sameText(expected, given)
  }

  function notReplayed (sig: string): boolean {
    const t = now()
    // Two generations of windowMs each cover the whole window without scanning: O(1) per check.
    if (t - rotatedAt > windowMs) {
      // The older generation's table, emptied, takes the new one's entries (its size fits a window already).
      const emptied = previous
      previous = seen
      seen = emptied
      seen.clear()
      rotatedAt = t
    }
    const f = fingerprint(sig)
    if (previous.has(f)) return false
    return seen.add(f)
  }

  return {
    sign (fields) {
      const t = now()
      // Relays signed within the same millisecond share the timestamp's text (a number past 2^31 is written out slowly).
      if (t !== signedAt) {
        signedAt = t
        signedAtText = String(t)
      }
      let payload = `fwd;${signedAtText}`
      for (const k of FIELD_ORDER) {
        const v = fields[k]
        payload += `;${v.length}:${v}`
      }
      return { [FWD_HEADER]: `${mac(payload)};${payload.slice(4)}` }
    },
    verify (headers) {
      const value = single(headers[FWD_HEADER])
      if (value === undefined) return { ok: false, reason: `${FWD_HEADER} missing` }
      // The signature first: nothing of an unauthenticated relay is read.
      if (value.charCodeAt(64) !== 59 /* ; */ || !equal(mac(`fwd;${value.slice(65)}`), value.slice(0, 64))) return { ok: false, reason: 'bad signature' }
      const parsed = parseFields(value, 65)
      if (typeof parsed === 'string') return { ok: false, reason: parsed }
      const ts = checkTime(parsed.ts)
      if (typeof ts === 'string') return { ok: false, reason: ts }
      if (!notReplayed(value.slice(0, 64))) return { ok: false, reason: 'replayed signature' }
      return { ok: true, fields: parsed.fields, ts }
    },
    signBody (pop, body) {
      const ts = String(now())
      const digest = createHash('sha256').update(body).digest('hex')
      return { [FWD.ts]: ts, [FWD.pop]: pop, [FWD.sig]: macParts(['body', pop, digest, ts]) }
    },
    verifyBody (headers, body) {
      const pop = single(headers[FWD.pop])
      if (pop === undefined) return { ok: false, reason: `${FWD.pop} missing` }
      const ts = checkTime(single(headers[FWD.ts]))
      if (typeof ts === 'string') return { ok: false, reason: ts }
      const digest = createHash('sha256').update(body).digest('hex')
      if (!equal(macParts(['body', pop, digest, String(ts)]), single(headers[FWD.sig]))) return { ok: false, reason: 'bad signature' }
      return { ok: true, pop }
    }
  }
}
