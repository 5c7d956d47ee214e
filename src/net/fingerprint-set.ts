// The replay window's memory of signatures: a set of 52-bit fingerprints (see fingerprint() in signing.ts) kept
// unboxed in a Float64Array with open addressing, instead of a Set<number>, which boxes every number above 2^30 as a
// heap object of its own: tens of thousands of them per window, each a cache miss to compare and garbage to collect.

/** Slot value of an empty slot; fingerprint 0 is stored as EMPTY_ZERO instead (outside the 52-bit range). */
const EMPTY = 0
const EMPTY_ZERO = 2 ** 52

/**
 * Non-negative integers below 2^52 whose low bits are uniform (HMAC output), so that they index the table directly
 * (linear probing). The table doubles when half full; clear() empties it and keeps its size for the next window.
 */
export class FingerprintSet {
  #slots: Float64Array
  #mask: number
  #size = 0

  constructor (capacity = 1 << 12) {
    let n = 16
    while (n < capacity) n *= 2
    this.#slots = new Float64Array(n)
    this.#mask = n - 1
  }

  get size (): number {
    return this.#size
  }

  /** The slot holding `v` (a stored value), or the empty slot where it would go. */
  #find (v: number): number {
    const slots = this.#slots
    const mask = this.#mask
    // ToInt32 keeps the low 32 bits of the integer: uniform for HMAC-derived values.
    let i = v & mask
    for (;;) {
      const s = slots[i] as number
      if (s === v || s === EMPTY) return i
      i = (i + 1) & mask
    }
  }

  has (fingerprint: number): boolean {
    const v = fingerprint === 0 ? EMPTY_ZERO : fingerprint
    return this.#slots[this.#find(v)] === v
  }

  /** Adds it; whether it was new. */
  add (fingerprint: number): boolean {
    if (!(Number.isSafeInteger(fingerprint) && fingerprint >= 0 && fingerprint < EMPTY_ZERO)) throw new RangeError(`fingerprint out of range: ${fingerprint}`)
    const v = fingerprint === 0 ? EMPTY_ZERO : fingerprint
    const i = this.#find(v)
    if (this.#slots[i] === v) return false
    this.#slots[i] = v
    if (++this.#size * 2 > this.#slots.length) this.#grow()
    return true
  }

  clear (): void {
    if (this.#size === 0) return
    this.#slots.fill(EMPTY)
    this.#size = 0
  }

  #grow (): void {
    const old = this.#slots
    this.#slots = new Float64Array(old.length * 2)
    this.#mask = this.#slots.length - 1
    for (const v of old) if (v !== EMPTY) this.#slots[this.#find(v)] = v
  }
}
