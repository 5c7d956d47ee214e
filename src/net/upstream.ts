// Keep-alive undici pools, one per upstream base URL (a PoP or an origin), with the forwarding policies composed
// around each as small named interceptors, the way undici's own interceptors are (lib/interceptor/*.js,
// Dispatcher.compose): modelled one-way delay before the request leaves, HMAC signing of the forwarding headers.
import { Pool, type Dispatcher } from 'undici'
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
        merged = [...headers as string[]]
        for (const [k, v] of Object.entries(extra)) merged.push(k, v)
      } else {
        merged = { ...(headers as Record<string, string> | undefined), ...extra }
      }
      return dispatch({ ...opts, headers: merged }, handler)
    }
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
        entry = { pool, composed: pool.compose(signInterceptor(opts.signer), delayInterceptor(opts.delay)) }
        pools.set(baseUrl, entry)
      }
      return entry.composed
    },
    async close () {
      const all = [...pools.values()]
      pools.clear()
      await Promise.all(all.map((e) => e.pool.close()))
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

/** `dispatcher.request` with the policies' per-request inputs. */
export function sendRequest (dispatcher: Dispatcher, opts: SimRequestOptions): Promise<Dispatcher.ResponseData> {
  return dispatcher.request(opts as Dispatcher.RequestOptions)
}
