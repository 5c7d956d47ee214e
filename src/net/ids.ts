// Random identifiers (ray ids, trace and span ids) drawn from a pooled buffer: one randomFillSync per 64 KiB instead of
// one call into the crypto binding per id, which profiles showed as a top cost per request.
import { randomFillSync } from 'node:crypto'

const POOL_SIZE = 65536
const pool = Buffer.alloc(POOL_SIZE)
let offset = POOL_SIZE

/** `bytes` random bytes as lowercase hex (2 x bytes characters). */
export function randomHex (bytes: number): string {
  if (bytes > POOL_SIZE) throw new RangeError(`randomHex: at most ${POOL_SIZE} bytes`)
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool)
    offset = 0
  }
  const out = pool.toString('hex', offset, offset + bytes)
  offset += bytes
  return out
}
