// The key-locality module: the only way a PoP gets a customer's private key or has it used. It hands key material
// only to PoPs inside the customer's compiled key policy (Geo Key Manager) and signs only at PoPs inside it, and audits
// every request and operation, allowed or refused (docs/design.md invariant 2).
import type { KeyObject } from 'node:crypto'
import { ERRORS, SimError, formatMessage } from '../../core/errors.ts'
import { normaliseHost } from '../../core/planner.ts'
import type { Customer, Topology } from '../../core/types.ts'
import type { KeyAuditLog } from './audit.ts'
import { DIGEST_BYTES, signTranscript } from './material.ts'
import type { CustomerKeyMaterial } from './material.ts'

export type KeyRefusalCode = 'SIM_ERR_KEY_REFUSED' | 'SIM_ERR_HOST_UNKNOWN' | 'SIM_ERR_POP_UNKNOWN' | 'SIM_ERR_INPUT_INVALID'

/** An expected refusal, as data (STYLE.md): the caller decides whether it becomes an HTTP error. */
export interface KeyRefusal {
  readonly outcome: 'refused'
  readonly code: KeyRefusalCode
  readonly status: number
  readonly reason: string
}

export interface KeyGrant {
  readonly outcome: 'allowed'
  readonly host: string
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly certPem: string
}

export type KeySignResult =
  | { readonly outcome: 'signed', readonly signature: Buffer, readonly signer: string }
  | KeyRefusal

/** The public half of a customer's material: anyone may hold it (it is in the certificate). */
export interface PublicKeyMaterial {
  readonly host: string
  readonly publicKey: KeyObject
  readonly certPem: string
}

export function publicPart (m: CustomerKeyMaterial): PublicKeyMaterial {
  return Object.freeze({ host: m.host, publicKey: m.publicKey, certPem: m.certPem })
}

/** Who keeps which private key: the network (key-locality module) or each keyless customer's key server. */
export interface KeyCustody {
  /** Keys the key-locality module distributes (modes `everywhere` and `geo`). */
  readonly network: ReadonlyMap<string, CustomerKeyMaterial>
  /** Per key server id (`KeyServer.id`), the keys that stay on it (mode `keyless`). */
  readonly keyServers: ReadonlyMap<string, ReadonlyMap<string, CustomerKeyMaterial>>
  /** Every customer's public key and certificate. */
  readonly certificates: ReadonlyMap<string, PublicKeyMaterial>
}

/** Splits a run's material so that a keyless customer's private key is handed to its key server only. */
export function keyCustody (customers: ReadonlyMap<string, Customer>, material: ReadonlyMap<string, CustomerKeyMaterial>): KeyCustody {
  const network = new Map<string, CustomerKeyMaterial>()
  const keyServers = new Map<string, Map<string, CustomerKeyMaterial>>()
  const certificates = new Map<string, PublicKeyMaterial>()
  for (const [host, m] of material) {
    const customer = customers.get(host)
    if (customer === undefined) continue
    certificates.set(host, publicPart(m))
    const server = customer.keys.keyServer
    if (server === undefined) {
      network.set(host, m)
      continue
    }
    let held = keyServers.get(server.id)
    if (held === undefined) keyServers.set(server.id, held = new Map())
    held.set(host, m)
  }
  return { network, keyServers, certificates }
}

export interface KeyLocality {
  /** Key material for `popId`, if the customer's key policy admits that PoP. Audited as `fetch`. */
  requestKey (popId: string, host: string): KeyGrant | KeyRefusal
  /**
   * A CertificateVerify signature of `digest`, made at `signerId` (default: `popId` itself) for the PoP `popId` that
   * terminates TLS; refused unless the policy admits the signer. Audited as `sign`.
   */
  sign (popId: string, host: string, digest: Uint8Array, signerId?: string): KeySignResult
  publicMaterial (host: string): PublicKeyMaterial | undefined
  readonly audit: KeyAuditLog
}

export interface KeyLocalityDeps {
  readonly topology: Topology
  readonly customers: ReadonlyMap<string, Customer>
  /**
   * Material of the customers whose keys the network may hold. Keyless customers' keys belong on their key servers:
   * leave them out (their policy admits no PoP anyway).
   */
  readonly material: ReadonlyMap<string, CustomerKeyMaterial>
  /** Public keys and certificates of every customer, keyless ones included (for verification). */
  readonly certificates?: ReadonlyMap<string, PublicKeyMaterial>
  readonly audit: KeyAuditLog
}

/** A refusal as a thrown error, keeping its code, status and reason. */
export function refusalError (r: KeyRefusal): SimError {
  const err = new SimError(r.code, [])
  err.message = r.reason
  return err
}

function refusal (code: KeyRefusalCode, ...args: unknown[]): KeyRefusal {
  return Object.freeze({ outcome: 'refused', code, status: ERRORS[code].status, reason: formatMessage(code, args) })
}

export function createKeyLocality (deps: KeyLocalityDeps): KeyLocality {
  const { topology, customers, material, audit } = deps

  /** The customer and its material when `popId` may hold the key, else why not. */
  function check (popId: string, host: string): { customer: Customer, material: CustomerKeyMaterial, pop: string } | KeyRefusal {
    const pop = topology.byId.get(popId.trim().toUpperCase())
    if (pop === undefined) return refusal('SIM_ERR_POP_UNKNOWN', popId)
    const customer = customers.get(host)
    if (customer === undefined) return refusal('SIM_ERR_HOST_UNKNOWN', host)
    if (customer.keys.allowed[pop.index] !== 1) return refusal('SIM_ERR_KEY_REFUSED', pop.id, host)
    const m = material.get(host)
    // A customer admitted by its policy but without material: the runtime did not provision it, the key is not here.
    if (m === undefined) return refusal('SIM_ERR_KEY_REFUSED', pop.id, host)
    return { customer, material: m, pop: pop.id }
  }

  return {
    audit,

    requestKey (popId, hostIn) {
      const host = normaliseHost(hostIn)
      const c = check(popId, host)
      if ('outcome' in c) {
        audit.record({ pop: popId, host, operation: 'fetch', outcome: 'refused', code: c.code })
        return c
      }
      audit.record({ pop: c.pop, host, operation: 'fetch', outcome: 'allowed', signer: c.pop })
      const m = c.material
      return Object.freeze({ outcome: 'allowed', host, privateKey: m.privateKey, publicKey: m.publicKey, certPem: m.certPem })
    },

    sign (popId, hostIn, digest, signerId = popId) {
      const host = normaliseHost(hostIn)
      const requester = topology.byId.get(popId.trim().toUpperCase())
      let c: ReturnType<typeof check>
      if (requester === undefined) c = refusal('SIM_ERR_POP_UNKNOWN', popId)
      else if (digest.length !== DIGEST_BYTES) c = refusal('SIM_ERR_INPUT_INVALID', 'digest', `expected ${DIGEST_BYTES} bytes (SHA-256), got ${digest.length}`)
      else c = check(signerId, host)
      const pop = requester?.id ?? popId
      if ('outcome' in c) {
        audit.record({ pop, host, operation: 'sign', outcome: 'refused', code: c.code, signer: signerId })
        return c
      }
      const signature = signTranscript(c.material.privateKey, digest)
      audit.record({ pop, host, operation: 'sign', outcome: 'allowed', signer: c.pop })
      return { outcome: 'signed', signature, signer: c.pop }
    },

    publicMaterial (hostIn) {
      const host = normaliseHost(hostIn)
      const cert = deps.certificates?.get(host)
      if (cert !== undefined) return cert
      const m = material.get(host)
      return m === undefined ? undefined : publicPart(m)
    }
  }
}
