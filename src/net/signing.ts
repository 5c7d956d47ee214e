// Authentication of inter-PoP forwarding: an HMAC-SHA256 (RFC 2104) with a per-run random secret over the forwarding
// headers, with a timestamp window and a replay cache, so a client can neither claim "already inspected" nor pick its
// inspection PoP (DESIGN.md invariant 5). Also signs shipped log batches, so a log sink accepts records only from PoPs.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { hmacSha256 } from './hmac.ts'

/** Every forwarding header starts with this; clients may never send one. */
export const FWD_PREFIX = 'x-sim-fwd'

export const FWD = {
  ray: 'x-sim-fwd-ray',
  ingress: 'x-sim-fwd-ingress',
  inspection: 'x-sim-fwd-inspection',
  client: 'x-sim-fwd-client',
  host: 'x-sim-fwd-host',
  plan: 'x-sim-fwd-plan',
  ts: 'x-sim-fwd-ts',
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
  sign (fields: ForwardFields): Record<string, string>
  verify (headers: IncomingHttpHeaders): VerifyResult
  /** Headers authenticating a body sent by `pop` (log batches): HMAC over the timestamp, the PoP and the body digest. */
  signBody (pop: string, body: Buffer | string): Record<string, string>
  verifyBody (headers: IncomingHttpHeaders, body: Buffer): { ok: true, pop: string } | { ok: false, reason: string }
}

export interface SignerOptions {
  /** Defaults to 32 random bytes: a per-run secret that never leaves the process. */
  readonly secret?: Buffer
  readonly windowMs: number
  readonly now?: () => number
}

const FIELD_ORDER = ['ray', 'ingress', 'inspection', 'client', 'host', 'plan'] as const

function single (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v
}

export function hasForwardHeaders (headers: IncomingHttpHeaders): boolean {
  for (const name in headers) if (name.startsWith(FWD_PREFIX)) return true
  return false
}

export function createForwardSigner (opts: SignerOptions): ForwardSigner {
  const secret = opts.secret ?? randomBytes(32)
  const now = opts.now ?? Date.now
  const windowMs = opts.windowMs
  // Signatures seen within the window: a captured relay cannot be replayed, even inside it.
  let seen = new Set<string>()
  let previous = new Set<string>()
  let rotatedAt = now()

  const hmac = hmacSha256(secret)
  function mac (parts: readonly string[]): Buffer {
    // Length-prefixed parts: no two different field lists give the same input.
    let input = ''
    for (const p of parts) input += `${Buffer.byteLength(p)}:${p}\n`
    return hmac(input)
  }

  function checkTime (tsText: string | undefined): number | string {
    if (tsText === undefined || !/^\d{1,16}$/.test(tsText)) return 'missing or malformed timestamp'
    const ts = Number(tsText)
    if (Math.abs(now() - ts) > windowMs) return `timestamp outside the ${windowMs} ms window`
    return ts
  }

  function equal (expected: Buffer, given: string | undefined): boolean {
    if (given === undefined || !/^[0-9a-f]{64}$/.test(given)) return false
    return timingSafeEqual(expected, Buffer.from(given, 'hex'))
  }

  function notReplayed (sig: string): boolean {
    const t = now()
    // Two generations of windowMs each cover the whole window without scanning: O(1) per check.
    if (t - rotatedAt > windowMs) { previous = seen; seen = new Set(); rotatedAt = t }
    if (seen.has(sig) || previous.has(sig)) return false
    seen.add(sig)
    return true
  }

  return {
    sign (fields) {
      const ts = String(now())
      const sig = mac(['fwd', ...FIELD_ORDER.map((k) => fields[k]), ts]).toString('hex')
      const out: Record<string, string> = { [FWD.ts]: ts, [FWD.sig]: sig }
      for (const k of FIELD_ORDER) out[FWD[k]] = fields[k]
      return out
    },
    verify (headers) {
      const values: Partial<Record<typeof FIELD_ORDER[number], string>> = {}
      for (const k of FIELD_ORDER) {
        const v = single(headers[FWD[k]])
        if (v === undefined) return { ok: false, reason: `${FWD[k]} missing` }
        values[k] = v
      }
      const ts = checkTime(single(headers[FWD.ts]))
      if (typeof ts === 'string') return { ok: false, reason: ts }
      const fields = values as ForwardFields
      const sig = single(headers[FWD.sig])
      if (!equal(mac(['fwd', ...FIELD_ORDER.map((k) => fields[k]), String(ts)]), sig)) return { ok: false, reason: 'bad signature' }
      if (!notReplayed(sig as string)) return { ok: false, reason: 'replayed signature' }
      return { ok: true, fields, ts }
    },
    signBody (pop, body) {
      const ts = String(now())
      const digest = createHash('sha256').update(body).digest('hex')
      return { [FWD.ts]: ts, 'x-sim-fwd-pop': pop, [FWD.sig]: mac(['body', pop, digest, ts]).toString('hex') }
    },
    verifyBody (headers, body) {
      const pop = single(headers['x-sim-fwd-pop'])
      if (pop === undefined) return { ok: false, reason: 'x-sim-fwd-pop missing' }
      const ts = checkTime(single(headers[FWD.ts]))
      if (typeof ts === 'string') return { ok: false, reason: ts }
      const digest = createHash('sha256').update(body).digest('hex')
      if (!equal(mac(['body', pop, digest, String(ts)]), single(headers[FWD.sig]))) return { ok: false, reason: 'bad signature' }
      return { ok: true, pop }
    }
  }
}
