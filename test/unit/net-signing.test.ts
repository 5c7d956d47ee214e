// Forwarding-header signatures: authentic relays verify once, anything altered, stale, replayed or unsigned does not.
import { describe, expect, it } from 'vitest'
import { createForwardSigner, hasForwardHeaders, type ForwardFields } from '../../src/net/signing.ts'

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

  it.each([
    ['x-sim-fwd-inspection', 'SYD'],
    ['x-sim-fwd-host', 'de-gov.example'],
    ['x-sim-fwd-client', '48.1,11.6,DE'],
    ['x-sim-fwd-plan', '[]'],
    ['x-sim-fwd-ts', '1000001']
  ])('refuses a relay whose %s was changed', (name, value) => {
    const s = createForwardSigner({ windowMs: 30_000, now: clock().now })
    const headers = { ...s.sign(fields), [name]: value }
    expect(s.verify(headers)).toMatchObject({ ok: false, reason: 'bad signature' })
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

  it('refuses missing fields and malformed signatures without throwing', () => {
    const s = createForwardSigner({ windowMs: 1000, now: clock().now })
    const headers = s.sign(fields)
    const { 'x-sim-fwd-ray': _ray, ...noRay } = headers
    expect(s.verify(noRay)).toMatchObject({ ok: false, reason: 'x-sim-fwd-ray missing' })
    expect(s.verify({ ...headers, 'x-sim-fwd-sig': 'zz' })).toMatchObject({ ok: false, reason: 'bad signature' })
    expect(s.verify({ ...headers, 'x-sim-fwd-ts': 'soon' })).toMatchObject({ ok: false, reason: 'missing or malformed timestamp' })
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
