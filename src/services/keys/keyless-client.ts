// The PoP side of Keyless SSL: asks a customer's key server to sign a transcript hash over HTTP, authenticated with
// the run's HMAC, and turns every failure into a coded error (refused, or key server unreachable).
import { request } from 'undici'
import type { Dispatcher } from 'undici'
import { SimError } from '../../core/errors.ts'
import type { ErrorCode } from '../../core/errors.ts'
import type { ForwardSigner } from '../../net/signing.ts'
import type { KeylessClient } from './handshake.ts'
import { KEYLESS_SIGN_PATH } from './keyless-app.ts'
import type { KeylessSignResponse } from './keyless-app.ts'

export interface KeylessHttpClientOptions {
  /** Base URL of the key server with that id, or undefined when it does not run (down). */
  readonly urlOf: (serverId: string) => string | undefined
  readonly signer: ForwardSigner
  /** Time allowed for the whole exchange. Default 5 s. */
  readonly timeoutMs?: number
  /** A keep-alive pool (the runtime's); undici's global dispatcher otherwise. */
  readonly dispatcher?: Dispatcher
}

const PASSED_THROUGH = new Set<string>(['SIM_ERR_KEY_REFUSED'])

export function createKeylessHttpClient (opts: KeylessHttpClientOptions): KeylessClient {
  const timeoutMs = opts.timeoutMs ?? 5000
  return async function askKeyServer (server, host, digest, requester) {
    const base = opts.urlOf(server.id)
    if (base === undefined) throw new SimError('SIM_ERR_KEY_SERVER_UNREACHABLE', [host, `key server ${server.id} is not running`])
    const body = JSON.stringify({ host, digest: Buffer.from(digest).toString('base64') })
    let res: Dispatcher.ResponseData
    try {
      res = await request(new URL(KEYLESS_SIGN_PATH, base), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...opts.signer.signBody(requester, body) },
        body,
        signal: AbortSignal.timeout(timeoutMs),
        ...(opts.dispatcher === undefined ? {} : { dispatcher: opts.dispatcher })
      })
    } catch (err) {
      throw new SimError('SIM_ERR_KEY_SERVER_UNREACHABLE', [host, (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message])
    }
    let payload: unknown
    try {
      payload = await res.body.json()
    } catch (err) {
      throw new SimError('SIM_ERR_KEY_SERVER_UNREACHABLE', [host, `unreadable answer (${(err as Error).message})`])
    }
    if (res.statusCode !== 200) {
      const code = (payload as { error?: { code?: string } } | null)?.error?.code
      // The key server's refusal of this PoP is a policy decision and keeps its code; anything else is a failed server.
      if (code !== undefined && PASSED_THROUGH.has(code)) throw new SimError(code as ErrorCode, [requester, host])
      throw new SimError('SIM_ERR_KEY_SERVER_UNREACHABLE', [host, `answered ${res.statusCode}${code === undefined ? '' : ` ${code}`}`])
    }
    const signature = (payload as Partial<KeylessSignResponse> | null)?.signature
    if (typeof signature !== 'string') throw new SimError('SIM_ERR_KEY_SERVER_UNREACHABLE', [host, 'answer without a signature'])
    return Buffer.from(signature, 'base64')
  }
}
