// Keep-alive undici pools, one per upstream base URL (a PoP or an origin), with the forwarding policies composed
// around each as small named interceptors, the way undici's own interceptors are (lib/interceptor/*.js,
// Dispatcher.compose): modelled one-way delay before the request leaves, HMAC signing of the forwarding headers.
import { Readable } from 'node:stream'
import { Dispatcher, Pool } from 'undici'
import type { Delay } from './delay.ts'
import type { ForwardFields, ForwardSigner } from './signing.ts'

/** Per-request inputs of the policies, carried on the dispatch options (undici hands them through unchanged). */
export interface SimDispatch {
  /** One-way delay before the request leaves, wall-clock ms. */
  readonly delayMs?: number
  /** Sign these forwarding fields into the request headers. */
  readonly forward?: ForwardFields
}

/**
 * Request options plus the policies' inputs. Bodies may also be async iterables: undici sends them as they are
 * pulled (docs/api/Dispatcher.md, `body`), which its type declarations for `request` leave out.
 */
export type SimRequestOptions = Omit<Dispatcher.RequestOptions, 'body'> & {
  readonly body?: Dispatcher.RequestOptions['body'] | AsyncIterable<Uint8Array>
  readonly sim?: SimDispatch
}

export interface UpstreamOptions {
  readonly delay: Delay
  readonly signer: ForwardSigner
  /** Time allowed for response headers and between body chunks (undici headersTimeout / bodyTimeout). */
  readonly timeoutMs: number
  readonly keepAliveTimeoutMs: number
  readonly connections?: number
}

export interface Upstreams {
  /** The composed dispatcher for a base URL (`http://127.0.0.1:port`), created on first use. */
  get (baseUrl: string): Dispatcher
  close (): Promise<void>
}

function simOf (opts: Dispatcher.DispatchOptions): SimDispatch | undefined {
  return (opts as { sim?: SimDispatch }).sim
}

/** Waits the modelled one-way delay, then lets the request go: the propagation time of the request direction. */
export function delayInterceptor (delay: Delay): Dispatcher.DispatcherComposeInterceptor {
  return function delayed (dispatch) {
    return function dispatchAfterDelay (opts, handler) {
      const ms = simOf(opts)?.delayMs ?? 0
      if (ms < 0.5) return dispatch(opts, handler)
      delay.wait(ms).then(() => dispatch(opts, handler), /* c8 ignore next */ () => dispatch(opts, handler))
      return true
    }
  }
}

/** Adds the signed forwarding headers: the request's only proof that a PoP, not a client, chose the route. */
export function signInterceptor (signer: ForwardSigner): Dispatcher.DispatcherComposeInterceptor {
  return function signed (dispatch) {
    return function dispatchSigned (opts, handler) {
      const fields = simOf(opts)?.forward
      if (!fields) return dispatch(opts, handler)
      // Signed when it leaves, after the delay: the timestamp window measures transit, not queueing.
      const extra = signer.sign(fields)
      const headers = opts.headers
      let merged: Dispatcher.DispatchOptions['headers']
      if (Array.isArray(headers)) {
        const list = (headers as string[]).slice()
        for (const k in extra) list.push(k, extra[k] as string)
        merged = list
      } else {
        merged = { ...(headers as Record<string, string> | undefined), ...extra }
      }
      return dispatch({ ...opts, headers: merged }, handler)
    }
  }
}

/**
 * A pool with the policies in front of its dispatch. Dispatcher.compose gives the same chain behind a Proxy of the
 * pool, whose trap runs on every property read, `dispatch` included; this is a plain object instead.
 */
class PolicyDispatcher extends Dispatcher {
  readonly #pool: Pool
  readonly #chain: Dispatcher['dispatch']

  constructor (pool: Pool, interceptors: Dispatcher.DispatcherComposeInterceptor[]) {
    super()
    this.#pool = pool
    // The composed chain's own dispatch, read once from compose's Proxy.
    this.#chain = pool.compose(interceptors).dispatch
  }

  override dispatch (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#chain(opts, handler)
  }

  override close (): Promise<void>
  override close (callback: () => void): void
  override close (callback?: () => void): Promise<void> | void {
    if (callback === undefined) return this.#pool.close()
    this.#pool.close(callback)
  }

  override destroy (): Promise<void>
  override destroy (err: Error | null): Promise<void>
  override destroy (callback: () => void): void
  override destroy (err: Error | null, callback: () => void): void
  override destroy (a?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    if (typeof a === 'function') return this.#pool.destroy(a)
    if (callback !== undefined) return this.#pool.destroy(a ?? null, callback)
    return this.#pool.destroy(a ?? null)
  }
}

export function createUpstreams (opts: UpstreamOptions): Upstreams {
  const pools = new Map<string, { pool: Pool, composed: Dispatcher }>()
  return {
    get (baseUrl) {
      let entry = pools.get(baseUrl)
      if (!entry) {
        const pool = new Pool(baseUrl, {
          // Modelled latency holds a connection for the whole downstream round trip: by Little's law 1,500 relayed
          // requests per second over a 300 ms path need 450 at once, so the cap is well above that.
          connections: opts.connections ?? 1024,
          keepAliveTimeout: opts.keepAliveTimeoutMs,
          headersTimeout: opts.timeoutMs,
          bodyTimeout: opts.timeoutMs,
          connect: { timeout: opts.timeoutMs }
        })
        // Order: delay runs first, then signing, so the signed timestamp is the departure time.
        entry = { pool, composed: new PolicyDispatcher(pool, [signInterceptor(opts.signer), delayInterceptor(opts.delay)]) }
        pools.set(baseUrl, entry)
      }
      return entry.composed
    },
    async close () {
      const all = [...pools.values()]
      pools.clear()
      // A pool already closed or destroyed through its dispatcher has nothing left to close (and would reject).
      await Promise.all(all.filter((e) => !e.pool.closed && !e.pool.destroyed).map((e) => e.pool.close()))
    }
  }
}

export type UpstreamFailure = 'refused' | 'timeout' | 'broken'

/** Classifies an undici error: connection refused (a PoP that is down), timeout (504), or a broken peer (502). */
export function classifyUpstreamError (err: unknown): UpstreamFailure {
  const code = (err as { code?: string }).code ?? ''
  if (code === 'ECONNREFUSED') return 'refused'
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout'
  return 'broken'
}

/** Short description of an upstream error for messages: the code only, never request data. */
export function describeUpstreamError (err: unknown): string {
  const e = err as { code?: string, message?: string }
  return e.code ?? e.message ?? 'unknown error'
}

/** An upstream answer: a complete body when it is small, a stream otherwise. */
export interface Exchange {
  readonly statusCode: number
  readonly headers: Record<string, string | string[] | undefined>
  /** The whole body (a Content-Length at most the buffering limit), or a stream of it. */
  readonly body: Buffer | Readable
}

/** Bodies up to this size are read whole before the answer is handed on (nginx's proxy_buffering does the same). */
export const BUFFER_LIMIT_BYTES = 64 * 1024

const EMPTY = Buffer.alloc(0)

/**
 * One request on the data path, through undici's dispatch API with a handler of its own: headers arrive parsed once,
 * a small body (declared Content-Length up to `bufferLimit`) is collected and handed on whole, so the response can
 * leave in one write without a stream between the two sockets; a larger or unsized body streams with backpressure
 * (the upstream socket pauses while the reader is behind) and aborts the upstream request when the reader goes away.
 * Rejects, like `request`, when the exchange fails before the answer is handed on.
 */
export function exchange (dispatcher: Dispatcher, opts: SimRequestOptions, bufferLimit = BUFFER_LIMIT_BYTES): Promise<Exchange> {
  return new Promise<Exchange>((resolve, reject) => {
    const signal = opts.signal as AbortSignal | undefined
    let controller: Dispatcher.DispatchController | undefined
    let settled = false
    let status = 0
    let headers: Record<string, string | string[] | undefined> = {}
    let chunks: Buffer[] | undefined
    let stream: Readable | undefined
    function onAbort (): void { controller?.abort(signal?.reason) }
    function done (): void { signal?.removeEventListener('abort', onAbort) }
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart (c) {
        controller = c
        if (signal?.aborted === true) c.abort(signal.reason)
      },
      onResponseStart (c, statusCode, h) {
        // Informational answers (1xx) come before the real one.
        if (statusCode < 200) return
        status = statusCode
        headers = h
        const cl = h['content-length']
        if (typeof cl === 'string' && cl !== '' && Number(cl) <= bufferLimit) {
          chunks = []
          return
        }
        stream = new Readable({
          read () { if (c.paused) c.resume() },
          destroy (err, cb) {
            // The reader went away (client gone, answer refused): stop the upstream request too.
            if (!c.aborted) c.abort(err ?? new Error('response body discarded'))
            cb(err)
          }
        })
        settled = true
        resolve({ statusCode: status, headers, body: stream })
      },
      onResponseData (c, chunk) {
        if (chunks !== undefined) chunks.push(chunk)
        else if (stream !== undefined && !stream.push(chunk)) c.pause()
      },
      onResponseEnd () {
        done()
        if (stream !== undefined) {
          stream.push(null)
          return
        }
        settled = true
        const list = chunks ?? []
        resolve({ statusCode: status, headers, body: list.length === 0 ? EMPTY : list.length === 1 ? list[0] as Buffer : Buffer.concat(list) })
      },
      onResponseError (_c, err) {
        done()
        if (!settled) {
          settled = true
          reject(err)
        } else {
          stream?.destroy(err)
        }
      }
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    dispatcher.dispatch(opts as Dispatcher.DispatchOptions, handler)
  })
}

/** `dispatcher.request` with the policies' per-request inputs. */
export function sendRequest (dispatcher: Dispatcher, opts: SimRequestOptions): Promise<Dispatcher.ResponseData> {
  return dispatcher.request(opts as Dispatcher.RequestOptions)
}
