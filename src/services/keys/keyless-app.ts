// A customer's keyless key server (Keyless SSL) as a service of its own: it signs TLS 1.3 CertificateVerify transcript
// hashes for PoPs that authenticate themselves and are on its allow-list; the private key never leaves it.
// Cloudflare's key servers speak a binary protocol over mutually authenticated TLS on TCP 2407
// (developers.cloudflare.com/ssl/keyless-ssl/); here the caller is authenticated by the run's HMAC (src/net/signing.ts).
import Fastify, { LogController } from 'fastify'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { SimError } from '../../core/errors.ts'
import { normaliseHost } from '../../core/planner.ts'
import type { Customer, Topology } from '../../core/types.ts'
import type { ForwardSigner } from '../../net/signing.ts'
import { installErrorHandling, sendError, serverOptions } from '../http-errors.ts'
import type { KeyAuditLog } from './audit.ts'
import { DIGEST_BYTES, signTranscript } from './material.ts'
import type { CustomerKeyMaterial } from './material.ts'

export const KEYLESS_SIGN_PATH = '/sign'

/** The body of `POST /sign`: the host whose key signs and the transcript hash, base64. */
export interface KeylessSignRequest {
  readonly host: string
  readonly digest: string
}

export interface KeylessSignResponse {
  readonly signature: string
  readonly signer: string
  readonly algorithm: string
  /** Time the signature itself took on this server. */
  readonly signMs: number
}

export interface KeylessDeps {
  /** Key server id: its location as written in the customers' policies (`KeyServer.id`, a PoP id or `lat,lon`). */
  readonly id: string
  readonly topology: Topology
  readonly customers: ReadonlyMap<string, Customer>
  /** The private keys this server keeps (KeyCustody.keyServers.get(id)). */
  readonly keys: ReadonlyMap<string, CustomerKeyMaterial>
  /** Verifies the calling PoP's HMAC over the request body (the run's secret). */
  readonly signer: ForwardSigner
  readonly logger: Logger
  /** Where key operations are audited, if anywhere (the run's key audit log). */
  readonly audit?: KeyAuditLog
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

function parseRequest (body: Buffer): KeylessSignRequest | string {
  let v: unknown
  try {
    v = JSON.parse(body.toString('utf8'))
  } catch {
    return 'body is not JSON'
  }
  if (typeof v !== 'object' || v === null) return 'body is not a JSON object'
  const { host, digest } = v as Record<string, unknown>
  if (typeof host !== 'string' || host.length === 0 || host.length > 253) return 'host must be a host name'
  if (typeof digest !== 'string' || !BASE64.test(digest)) return 'digest must be base64'
  return { host, digest }
}

export function buildKeylessApp (deps: KeylessDeps): FastifyInstance {
  const label = `KEYLESS-${deps.id}`
  const signerName = `keyless:${deps.id}`
  const app = Fastify({
    loggerInstance: deps.logger.child({ service: 'keyless', server: deps.id }) as FastifyBaseLogger,
    // One log line per refused or failed call is enough; a line per signature would drown the run's log.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 4096,
    ...serverOptions(label)
  })
  installErrorHandling(app, label)

  // The HMAC covers the exact bytes sent, so the body is kept as bytes and parsed after verification.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, function keepBytes (_req, body, done) {
    done(null, body)
  })

  app.post(KEYLESS_SIGN_PATH, async function signForPop (request, reply) {
    const body = request.body
    if (!Buffer.isBuffer(body)) return sendError(reply, new SimError('SIM_ERR_BAD_REQUEST', ['expected application/json']), label)
    const auth = deps.signer.verifyBody(request.headers, body)
    if (!auth.ok) {
      request.log.warn({ server: deps.id, reason: auth.reason }, 'unauthenticated key server call refused')
      return sendError(reply, new SimError('SIM_ERR_FORWARD_UNAUTHENTICATED', [auth.reason]), label)
    }
    const parsed = parseRequest(body)
    if (typeof parsed === 'string') return sendError(reply, new SimError('SIM_ERR_INPUT_INVALID', ['body', parsed]), label)
    const host = normaliseHost(parsed.host)
    const material = deps.keys.get(host)
    const customer = deps.customers.get(host)
    if (material === undefined || customer === undefined) return sendError(reply, new SimError('SIM_ERR_HOST_UNKNOWN', [host]), label)
    const pop = deps.topology.byId.get(auth.pop)
    // The allow-list is the customer's (keys.allow): an authenticated PoP that is not on it is still refused.
    if (pop === undefined || customer.keys.callers === undefined || customer.keys.callers[pop.index] !== 1) {
      deps.audit?.record({ pop: auth.pop, host, operation: 'sign', outcome: 'refused', code: 'SIM_ERR_KEY_REFUSED', signer: signerName })
      request.log.warn({ server: deps.id, pop: auth.pop, host, code: 'SIM_ERR_KEY_REFUSED' }, 'key use refused')
      return sendError(reply, new SimError('SIM_ERR_KEY_REFUSED', [auth.pop, host]), label)
    }
    const digest = Buffer.from(parsed.digest, 'base64')
    if (digest.length !== DIGEST_BYTES) {
      return sendError(reply, new SimError('SIM_ERR_INPUT_INVALID', ['digest', `expected ${DIGEST_BYTES} bytes (SHA-256), got ${digest.length}`]), label)
    }
    // Real work: the published cost is ~22.5 µs per ECDSA P-256 and ~1.29 ms per RSA-2048 signature per core.
    const start = performance.now()
    const signature = signTranscript(material.privateKey, digest)
    const signMs = performance.now() - start
    deps.audit?.record({ pop: pop.id, host, operation: 'sign', outcome: 'allowed', signer: signerName })
    const out: KeylessSignResponse = { signature: signature.toString('base64'), signer: signerName, algorithm: material.algorithm, signMs }
    return out
  })

  return app
}
