// Forwarding-header signatures: authentic relays verify once; anything altered, stale, replayed, malformed or unsigned
// does not, and nothing throws.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { hmacSha256 } from '../../src/net/hmac.ts'
import { createForwardSigner, fingerprint, FWD_HEADER, hasForwardHeaders, isDigits, type ForwardFields } from '../../src/net/signing.ts'

const fields: ForwardFields = {
  ray: '0123456789abcdef-SYD',
  ingress: 'SYD',
  inspection: 'FRA',
  client: '-33.87,151.21,AU',
  host: 'eu-shop.example',
  plan: '[["origin","FRA","origin:eu-shop.example",1.2]]'
}

function clock (start = 1_000_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => { t += ms } }
}

describe('forward signer', () => {
  it('verifies what it signed, once', () => {
    const c = clock()
    const s = createForwardSigner({ windowMs: 30_000, now: c.now })
    const headers = s.sign(fields)
    expect(s.verify(headers)).toEqual({ ok: true, fields, ts: 1_000_000 })
    expect(s.verify(headers)).toEqual({ ok: false, reason: 'replayed signature' })
  })

  it('remembers signatures for the whole window and forgets them after it, by their first 52 bits', () => {
    const c = clock()
    const s = createForwardSigner({ windowMs: 30_000, now: c.now })
    const first = s.sign(fields)
    expect(s.verify(first).ok).toBe(true)
    // Many relays later, still inside the window (the timestamp still accepted): the first is still refused.
    for (let i = 0; i < 200; i++) {
      c.advance(140)
      expect(s.verify(s.sign({ ...fields, ray: `${i}` })).ok).toBe(true)
    }
    expect(s.verify(first)).toEqual({ ok: false, reason: 'replayed signature' })
    fc.assert(fc.property(fc.stringMatching(/^[0-9a-f]{64}$/), (sig) => {
      expect(fingerprint(sig)).toBe(Number.parseInt(sig.slice(0, 13), 16))
      expect(Number.isSafeInteger(fingerprint(sig))).toBe(true)
    }))
  })

  // Each field in turn replaced in the signed header, its length prefix kept consistent.
  it.each([
    ['inspection', '3:FRA', '3:SYD'],
    ['host', '15:eu-shop.example', '14:de-gov.example'],
    ['client', '16:-33.87,151.21,AU', '12:48.1,11.6,DE'],
    ['plan', '47:[["origin","FRA","origin:eu-shop.example",1.2]]', '2:[]'],
    ['timestamp', ';1000000;', ';1000001;']
  ])('refuses a relay whose %s was changed', (_name, from, to) => {
    const s = createForwardSigner({ windowMs: 30_000, now: clock().now })
    const value = s.sign(fields)[FWD_HEADER] as string
    expect(value).toContain(from)
    expect(s.verify({ [FWD_HEADER]: value.replace(from, to) })).toMatchObject({ ok: false, reason: 'bad signature' })
  })

  it('refuses signatures outside the window, and those of another run', () => {
    const c = clock()
    const s = createForwardSigner({ windowMs: 1000, now: c.now })
    const headers = s.sign(fields)
    c.advance(1001)
    expect(s.verify(headers)).toMatchObject({ ok: false, reason: 'timestamp outside the 1000 ms window' })
    const other = createForwardSigner({ windowMs: 1000, now: c.now })
    expect(other.verify(s.sign(fields))).toMatchObject({ ok: false, reason: 'bad signature' })
  })

  it('refuses a missing header, malformed signatures and malformed fields without throwing', () => {
    const secret = Buffer.alloc(32, 7)
    const s = createForwardSigner({ secret, windowMs: 1000, now: clock().now })
    const value = s.sign(fields)[FWD_HEADER] as string
    expect(s.verify({ host: 'a' })).toMatchObject({ ok: false, reason: 'x-sim-fwd missing' })
    expect(s.verify({ [FWD_HEADER]: [value, value] })).toMatchObject({ ok: false, reason: 'x-sim-fwd missing' })
    expect(s.verify({ [FWD_HEADER]: `zz${value.slice(2)}` })).toMatchObject({ ok: false, reason: 'bad signature' })
    expect(s.verify({ [FWD_HEADER]: value.slice(0, 64) })).toMatchObject({ ok: false, reason: 'bad signature' })
    expect(s.verify({ [FWD_HEADER]: '' })).toMatchObject({ ok: false, reason: 'bad signature' })
    // Correctly signed with the run's secret, yet not the shape a PoP writes: refused, never read past the fault.
    const mac = hmacSha256(secret)
    const signed = (rest: string) => ({ [FWD_HEADER]: `${mac(`fwd;${rest}`).toString('hex')};${rest}` })
    for (const rest of ['1000000', '1000000;2:ab', '1000000;x:ab', '1000000;99:ab', '1000000;1:a;1:b;1:c;1:d;1:e;1:f;1:g', '1000000;1:ab;1:c;1:d;1:e;1:f;1:g']) {
      expect(s.verify(signed(rest))).toMatchObject({ ok: false, reason: 'malformed forwarding header' })
    }
    expect(s.verify(signed('soon;1:a;1:b;1:c;1:d;1:e;1:f'))).toMatchObject({ ok: false, reason: 'missing or malformed timestamp' })
    expect(s.verify(signed('1000000;1:a;1:b;1:c;1:d;1:e;0:'))).toMatchObject({ ok: true, fields: { ray: 'a', plan: '' } })
  })

  it('round-trips any field text, separators included, and refuses any single changed character', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '9', ':', ';', ',', '[', '"', ' ', '-', '.'), maxLength: 24 })
    fc.assert(fc.property(
      fc.record({ ray: text, ingress: text, inspection: text, client: text, host: text, plan: text }),
      fc.nat(),
      fc.constantFrom('0', '1', ':', ';', 'a'),
      (f, at, ch) => {
        const s = createForwardSigner({ windowMs: 1000, now: clock().now })
        const value = s.sign(f)[FWD_HEADER] as string
        const i = at % value.length
        const changed = value.slice(0, i) + ch + value.slice(i + 1)
        if (changed !== value) expect(s.verify({ [FWD_HEADER]: changed }).ok).toBe(false)
        expect(s.verify({ [FWD_HEADER]: value })).toEqual({ ok: true, fields: f, ts: 1_000_000 })
      }
    ), { numRuns: 300 })
  })

  it('signs bodies for a PoP: any changed byte or PoP fails', () => {
    const s = createForwardSigner({ windowMs: 1000, now: clock().now })
    const body = Buffer.from('{"ray":"r","pop":"SYD"}\n')
    const h = s.signBody('SYD', body)
    expect(s.verifyBody(h, body)).toEqual({ ok: true, pop: 'SYD' })
    expect(s.verifyBody(h, Buffer.from('{"ray":"r","pop":"SYE"}\n'))).toMatchObject({ ok: false })
    expect(s.verifyBody({ ...h, 'x-sim-fwd-pop': 'FRA' }, body)).toMatchObject({ ok: false })
  })

  it('recognises any x-sim-fwd header a client might send', () => {
    expect(hasForwardHeaders({ host: 'a', 'x-sim-fwd-anything': '1' })).toBe(true)
    expect(hasForwardHeaders({ host: 'a', 'x-sim-client': 'SYD' })).toBe(false)
  })
})

describe('timestamp digits', () => {
  it('accepts what /^\\d{1,16}$/ accepts, and nothing else', () => {
    const text = fc.oneof(fc.stringMatching(/^\d{0,20}$/), fc.string({ maxLength: 20 }), fc.constantFrom('', '1e3', '-1', ' 1', '١٢', '0x10'))
    fc.assert(fc.property(text, (t) => {
      expect(isDigits(t, 16)).toBe(/^\d{1,16}$/.test(t))
    }), { numRuns: 2000 })
  })
})
