// HMAC-SHA256 (RFC 2104) with the key's inner and outer pads hashed once: each MAC then copies two prepared hash
// states (hash.copy(), Node >= 13) instead of creating an Hmac with a key object per call, which dominated the
// per-request cost of signing forwarding headers.
import { createHash, type Hash } from 'node:crypto'

const BLOCK = 64 // SHA-256 block size in bytes

export type Mac = (message: string | Buffer) => Buffer

export function hmacSha256 (key: Buffer): Mac {
  // RFC 2104 section 2: keys longer than the block are hashed first; shorter ones are zero-padded.
  const k = Buffer.alloc(BLOCK)
  ;(key.length > BLOCK ? createHash('sha256').update(key).digest() : key).copy(k)
  const ipad = Buffer.alloc(BLOCK)
  const opad = Buffer.alloc(BLOCK)
  for (let i = 0; i < BLOCK; i++) {
    ipad[i] = (k[i] as number) ^ 0x36
    opad[i] = (k[i] as number) ^ 0x5c
  }
  const inner: Hash = createHash('sha256').update(ipad)
  const outer: Hash = createHash('sha256').update(opad)
  return function mac (message) {
    const innerDigest = inner.copy().update(message).digest()
    return outer.copy().update(innerDigest).digest()
  }
}
