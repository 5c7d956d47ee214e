// Geo Key Manager over the wire: a PoP outside a customer's key policy asks the nearest authorised PoP to sign its
// handshake transcript hash. The signer side is an internal route of every PoP service that refuses unsigned calls
// (the run's HMAC, src/net/signing.ts) and signs only through the key-locality module, which checks the policy; the
// caller side goes through the runtime's keep-alive pools with the modelled delay on each direction.
// developers.cloudflare.com/ssl/edge-certificates/geokey-manager/
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import { SimError } from '../../core/errors.ts'
import type { Topology, World } from '../../core/types.ts'
import { nowMs, overrun, type Delay } from '../../net/delay.ts'
import type { ForwardSigner } from '../../net/signing.ts'
import { sendRequest, type Upstreams } from '../../net/upstream.ts'
import { sendError } from '../http-errors.ts'
import type { RemoteSigner } from './handshake.ts'
import { refusalError, type KeyLocality } from './locality.ts'

/** The internal route; clients that call it are refused (no valid signature). */
export const REMOTE_SIGN_PATH = '/_sim/keys/sign'
const MAX_BODY_BYTES = 4096
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

async function readBody (request: FastifyRequest): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let n = 0
  for await (const chunk of request.raw as AsyncIterable<Buffer>) {
    n += chunk.length
    if (n > MAX_BODY_BYTES) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** The signer side: `POST /_sim/keys/sign` on PoP `popId`, `{ host, digest }` signed by the requesting PoP. */
export function remoteSignRoute (popId: string, locality: KeyLocality, signer: ForwardSigner) {
  return async function signForPop (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const body = await readBody(request)
    if (body === undefined) return sendError(reply, new SimError('SIM_ERR_BODY_TOO_LARGE', [MAX_BODY_BYTES]), popId)
    const auth = signer.verifyBody(request.headers, body)
    if (!auth.ok) {
      request.log.warn({ pop: popId, code: 'SIM_ERR_FORWARD_UNAUTHENTICATED', reason: auth.reason }, 'unauthenticated signing call refused')
      return sendError(reply, new SimError('SIM_ERR_FORWARD_UNAUTHENTICATED', [auth.reason]), popId)
    }
    let host: unknown
    let digest: unknown
    try {
      ({ host, digest } = JSON.parse(body.toString('utf8')) as Record<string, unknown>)
    } catch {
      return sendError(reply, new SimError('SIM_ERR_INPUT_INVALID', ['body', 'not JSON']), popId)
    }
    if (typeof host !== 'string' || typeof digest !== 'string' || !BASE64.test(digest)) {
      return sendError(reply, new SimError('SIM_ERR_INPUT_INVALID', ['body', 'expected { host, digest (base64) }']), popId)
    }
    // The module audits the call and refuses unless this PoP (the signer) is inside the customer's key policy.
    const r = locality.sign(auth.pop, host, Buffer.from(digest, 'base64'), popId)
    if (r.outcome === 'refused') {
      request.log.warn({ pop: popId, requester: auth.pop, host, code: r.code }, 'key use refused')
      return sendError(reply, refusalError(r), popId)
    }
    return reply.send({ signature: r.signature.toString('base64'), signer: r.signer })
  }
}

export interface HttpRemoteSignerOptions {
  readonly world: Pick<World, 'topology' | 'latency'>
  readonly directory: (popId: string) => string | undefined
  readonly upstreams: Upstreams
  readonly signer: ForwardSigner
  readonly delay: Delay
}

function popIndex (topology: Topology, id: string): number {
  const p = topology.byId.get(id)
  if (p === undefined) throw new SimError('SIM_ERR_POP_UNKNOWN', [id])
  return p.index
}

/**
 * The caller side: a real request to the signer PoP, delayed by half the modelled round trip each way. Failures that
 * are not a policy refusal are plain errors, so the handshaker tries the next nearest authorised PoP.
 */
export function httpRemoteSigner (opts: HttpRemoteSignerOptions): RemoteSigner {
  const { world, delay } = opts
  return async function askSignerPop (signerPopId, host, digest, requester) {
    const rtt = world.latency.popRttMs(popIndex(world.topology, requester), popIndex(world.topology, signerPopId))
    const base = opts.directory(signerPopId)
    if (base === undefined) throw new Error(`signer PoP ${signerPopId} is not listening`)
    const body = JSON.stringify({ host, digest: Buffer.from(digest).toString('base64') })
    const outbound = delay.oneWayMs(rtt)
    const t = nowMs()
    const res: Dispatcher.ResponseData = await sendRequest(opts.upstreams.get(base), {
      path: REMOTE_SIGN_PATH,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...opts.signer.signBody(requester, body) },
      body,
      sim: { delayMs: outbound }
    })
    const payload = await res.body.json().catch(() => null) as { signature?: unknown, error?: { code?: string } } | null
    // The response direction of the key hop, less what the exchange took beyond its outbound wait: the signing PoP's
    // work and the sockets are the simulation's own time, which the modelled round trip already covers.
    await delay.wait(delay.oneWayMs(rtt) - overrun(t, outbound))
    if (res.statusCode === 200 && typeof payload?.signature === 'string') return Buffer.from(payload.signature, 'base64')
    const code = payload?.error?.code
    if (code === 'SIM_ERR_KEY_REFUSED') throw new SimError('SIM_ERR_KEY_REFUSED', [signerPopId, host])
    throw new Error(`signer PoP ${signerPopId} answered ${res.statusCode}${code === undefined ? '' : ` ${code}`}`)
  }
}
