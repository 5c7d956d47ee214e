// The prepared-pad HMAC equals node:crypto's HMAC-SHA256, and pooled random ids and bytes are well formed and distinct.
import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hmacSha256, hmacSha256Hex, sameText } from '../../src/net/hmac.ts'
import { newSecret } from '../../src/net/signing.ts'
import { randomBytesPooled, randomHex } from '../../src/net/ids.ts'

describe('hmacSha256', () => {
  it('matches createHmac for any key length and message, reusably', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.string(), { minLength: 1, maxLength: 4 }), (key, messages) => {
      const mac = hmacSha256(Buffer.from(key))
      for (const m of messages) expect(mac(m).equals(createHmac('sha256', Buffer.from(key)).update(m).digest())).toBe(true)
    }))
  })

  it('RFC 4231 test case 2', () => {
    const mac = hmacSha256(Buffer.from('Jefe'))
    expect(mac('what do ya want for nothing?').toString('hex')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
    expect(hmacSha256Hex(Buffer.from('Jefe'))('what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
  })

  it('as hex matches createHmac on both paths: ASCII pads (7-bit keys) and any other key', () => {
    const ascii = fc.uint8Array({ max: 0x7f, maxLength: 64 })
    const any = fc.uint8Array({ maxLength: 200 })
    fc.assert(fc.property(fc.oneof(ascii, any), fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 4 }), (key, messages) => {
      const mac = hmacSha256Hex(Buffer.from(key))
      for (const m of messages) expect(mac(m)).toBe(createHmac('sha256', Buffer.from(key)).update(m).digest('hex'))
    }), { numRuns: 300 })
  })

  it('per-run secrets are 32 bytes of 7 random bits each, different every time', () => {
    const a = newSecret()
    const b = newSecret()
    expect(a.length).toBe(32)
    expect([...a, ...b].every((x) => x < 0x80)).toBe(true)
    expect(a.equals(b)).toBe(false)
  })
})

describe('sameText', () => {
  it('is string equality', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => { expect(sameText(a, b)).toBe(a === b) }))
    expect(sameText('abc', 'abc')).toBe(true)
    expect(sameText('abc', 'abd')).toBe(false)
    expect(sameText('abc', 'ab')).toBe(false)
  })
})

describe('randomHex', () => {
  it('gives lowercase hex of the asked length, across pool refills, without repeats', () => {
    const seen = new Set<string>()
    // 20,000 ids of 8 bytes draw 160 KB: the 64 KiB pool is refilled twice.
    for (let i = 0; i < 20000; i++) {
      const id = randomHex(8)
      expect(id).toMatch(/^[0-9a-f]{16}$/)
      seen.add(id)
    }
    expect(seen.size).toBe(20000)
    expect(randomHex(16)).toMatch(/^[0-9a-f]{32}$/)
    expect(() => randomHex(70000)).toThrow(RangeError)
  })
})

describe('randomBytesPooled', () => {
  it('gives buffers of their own, of the asked length, across pool refills, without repeats', () => {
    const first = randomBytesPooled(32)
    const copy = Buffer.from(first)
    const seen = new Set<string>([first.toString('hex')])
    // 5,000 draws of 32 bytes are 160 KB: the pool is refilled under the first buffer, which must not change.
    for (let i = 0; i < 5000; i++) {
      const b = randomBytesPooled(32)
      expect(b.length).toBe(32)
      seen.add(b.toString('hex'))
    }
    expect(seen.size).toBe(5001)
    expect(first.equals(copy)).toBe(true)
    expect(() => randomBytesPooled(70000)).toThrow(RangeError)
  })
})
