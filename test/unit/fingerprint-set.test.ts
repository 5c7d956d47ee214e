// The replay window's fingerprint table (src/net/fingerprint-set.ts) behaves as a Set of numbers: same membership, same
// size, across growth, clearing and the value 0, and it refuses what is not a fingerprint.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FingerprintSet } from '../../src/net/fingerprint-set.ts'

const fingerprint = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 }), fc.double({ min: 0, max: 2 ** 52 - 1, noNaN: true }).map(Math.floor), fc.constant(2 ** 52 - 1))

describe('FingerprintSet', () => {
  it('answers as a Set<number> would, through adds, growth and clears', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), v: fingerprint }),
      fc.record({ kind: fc.constant('has' as const), v: fingerprint }),
      fc.record({ kind: fc.constant('clear' as const), v: fc.constant(0) })
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 1, max: 64 }), (ops, capacity) => {
      const mine = new FingerprintSet(capacity)
      const model = new Set<number>()
      for (const { kind, v } of ops) {
        if (kind === 'add') {
          expect(mine.add(v)).toBe(!model.has(v))
          model.add(v)
        } else if (kind === 'has') {
          expect(mine.has(v)).toBe(model.has(v))
        } else {
          mine.clear()
          model.clear()
        }
        expect(mine.size).toBe(model.size)
      }
      for (const v of model) expect(mine.has(v)).toBe(true)
    }), { numRuns: 300 })
  })

  it('keeps every one of many entries whose low bits collide', () => {
    const s = new FingerprintSet(16)
    // Equal low 32 bits: every one probes from the same slot.
    const values = Array.from({ length: 1000 }, (_, i) => i * 2 ** 32 + 7)
    for (const v of values) expect(s.add(v)).toBe(true)
    for (const v of values) expect(s.has(v)).toBe(true)
    expect(s.has(1000 * 2 ** 32 + 7)).toBe(false)
    expect(s.size).toBe(1000)
  })

  it('refuses what is not a fingerprint', () => {
    const s = new FingerprintSet()
    for (const bad of [-1, 1.5, 2 ** 52, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => s.add(bad)).toThrow(RangeError)
    expect(s.size).toBe(0)
  })
})
