// A request whose body node's HTTP parser refused after its head was routed (a malformed chunk, a Transfer-Encoding
// whose body cannot be delimited): the error is that request's own, and its handler, which may be relaying the body
// already, answers it. Destroying the request would destroy the connection with it and lose the answer, so the reader
// of the body is failed instead (pop/ingress.ts lazyBody), and the handler answers the error once.
import type { IncomingMessage } from 'node:http'

const failures = new WeakMap<IncomingMessage, Error>()
const readers = new WeakMap<IncomingMessage, (err: Error) => void>()

/** Fails the body of `req` with `err`: a reader waiting now, or one that starts later, gets the error. */
export function failBody (req: IncomingMessage, err: Error): void {
  if (failures.has(req)) return
  failures.set(req, err)
  readers.get(req)?.(err)
}

/**
 * A promise that rejects once the body of `req` fails (at once if it has), never resolving. Its rejection is handled
 * here, so a body that is never read leaves no unhandled rejection.
 */
export function bodyFailure (req: IncomingMessage): Promise<never> {
  const failed = new Promise<never>((resolve, reject) => {
    const known = failures.get(req)
    if (known !== undefined) reject(known)
    else readers.set(req, reject)
  })
  failed.catch(() => {})
  return failed
}
