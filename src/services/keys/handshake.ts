// A simulated TLS 1.3 handshake at the PoP that terminates TLS: a fresh random transcript hash is signed (the server's
// CertificateVerify, RFC 8446 section 4.4.3) locally, by the nearest PoP the key policy authorises (Geo Key Manager) or
// by the customer's key server (Keyless SSL), then verified with the certificate's public key. Session tickets
// (RFC 8446 section 4.6.1) let resumed connections skip the key operation.
import type { KeyObject } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { SimError, isSimError } from '../../core/errors.ts'
import { keyDecision } from '../../core/key-policy.ts'
import type { KeyServer, KeyWorld } from '../../core/key-policy.ts'
import type { Customer } from '../../core/types.ts'
import { randomBytesPooled } from '../../net/ids.ts'
import { refusalError } from './locality.ts'
import type { KeyLocality } from './locality.ts'
import { DIGEST_BYTES, verifyTranscript } from './material.ts'

/** Asks the authorised PoP `signerPopId` to sign `digest` for `requester` (a real HTTP hop in the live simulation). */
export type RemoteSigner = (signerPopId: string, host: string, digest: Uint8Array, requester: string) => Promise<Uint8Array>

/** Asks the customer's key server to sign `digest` for the PoP `requester`. */
export type KeylessClient = (server: KeyServer, host: string, digest: Uint8Array, requester: string) => Promise<Uint8Array>

export type HandshakeOp = 'local' | 'remote' | 'keyless' | 'resumed' | 'none'

export interface HandshakeInput {
  /** The PoP terminating TLS. */
  readonly pop: string
  readonly customer: Customer
  /** false: a request on an already established connection; no handshake at all. Default true. */
  readonly newConnection?: boolean
  /** A ticket from an earlier handshake at this PoP: resumption without a key operation while it is valid. */
  readonly sessionTicket?: string
  /** PoPs to treat as down on top of the world's health (indexes, as the planner's masks). */
  readonly down?: Uint8Array
}

export interface HandshakeResult {
  readonly op: HandshakeOp
  /** Who made the signature: the PoP itself, another PoP id, or `keyless:<server>`. */
  readonly signer?: string
  /** Measured duration of the handshake's key work (signature, remote call, verification). */
  readonly ms: number
  /** Modelled round trip of the extra hop to the signer (remote and keyless only). */
  readonly modelledRttMs?: number
  /** The ticket to present on the next connection (full handshakes issue one; resumption keeps it). */
  readonly ticket?: string
}

export interface HandshakeDeps {
  readonly world: KeyWorld
  readonly locality: KeyLocality
  readonly remoteSigner: RemoteSigner
  readonly keyless: KeylessClient
  /** Session ticket lifetime; RFC 8446 section 4.6.1 caps it at 7 days. Default 2 hours. */
  readonly ticketLifetimeMs?: number
  /** Tickets kept per PoP; the oldest are forgotten first. Default 10,000. */
  readonly ticketCapacity?: number
  /** Authorised PoPs tried in turn when a remote signer does not answer. Default 2. */
  readonly signerAttempts?: number
  /** Epoch ms, for ticket expiry. */
  readonly now?: () => number
  /** Monotonic ms, for durations. */
  readonly clock?: () => number
  /** Source of transcript hashes (a seeded one makes tests reproducible). */
  readonly random?: (bytes: number) => Uint8Array
}

const MAX_TICKET_LIFETIME_MS = 604_800_000

interface Ticket { readonly host: string, readonly expiresAt: number }

/** What one PoP holds for TLS: the private keys it was granted and the session tickets it issued. */
export class PopTlsState {
  readonly pop: string
  readonly #keys = new Map<string, KeyObject>()
  readonly #tickets = new Map<string, Ticket>()
  readonly #capacity: number

  constructor (pop: string, ticketCapacity: number) {
    this.pop = pop
    this.#capacity = ticketCapacity
  }

  /** Hosts whose private key this PoP holds. */
  heldKeys (): string[] { return [...this.#keys.keys()] }

  holdsKey (host: string): boolean { return this.#keys.has(host) }

  get ticketCount (): number { return this.#tickets.size }

  keep (host: string, key: KeyObject): void { this.#keys.set(host, key) }

  issueTicket (host: string, expiresAt: number): string {
    const id = randomBytesPooled(16).toString('base64url')
    if (this.#tickets.size >= this.#capacity) {
      const oldest = this.#tickets.keys().next()
      if (oldest.done !== true) this.#tickets.delete(oldest.value)
    }
    this.#tickets.set(id, { host, expiresAt })
    return id
  }

  /** Whether `ticket` resumes a session for `host` at `now`; an expired ticket is forgotten. */
  resumes (ticket: string, host: string, now: number): boolean {
    const t = this.#tickets.get(ticket)
    if (t === undefined) return false
    if (t.expiresAt <= now) {
      this.#tickets.delete(ticket)
      return false
    }
    // A ticket is bound to the server name it was issued for (RFC 8446 section 4.6.1, RFC 6066 section 3).
    return t.host === host
  }
}

export interface Handshaker {
  handshake (input: HandshakeInput): Promise<HandshakeResult>
  /** The TLS state of a PoP (created on first use). */
  state (popId: string): PopTlsState
}

export function createHandshaker (deps: HandshakeDeps): Handshaker {
  const { world, locality } = deps
  const lifetime = Math.min(deps.ticketLifetimeMs ?? 7_200_000, MAX_TICKET_LIFETIME_MS)
  const capacity = deps.ticketCapacity ?? 10_000
  const attempts = Math.max(1, deps.signerAttempts ?? 2)
  const now = deps.now ?? Date.now
  const clock = deps.clock ?? (() => performance.now())
  const random = deps.random ?? randomBytesPooled
  const states = new Map<string, PopTlsState>()

  function state (popId: string): PopTlsState {
    let s = states.get(popId)
    if (s === undefined) states.set(popId, s = new PopTlsState(popId, capacity))
    return s
  }

  async function signLocally (s: PopTlsState, host: string, digest: Uint8Array): Promise<Uint8Array> {
    // Key distribution: the PoP fetches the key once; a refusal leaves it holding nothing.
    if (!s.holdsKey(host)) {
      const grant = locality.requestKey(s.pop, host)
      if (grant.outcome === 'refused') throw refusalError(grant)
      s.keep(host, grant.privateKey)
    }
    const r = locality.sign(s.pop, host, digest)
    if (r.outcome === 'refused') throw refusalError(r)
    return r.signature
  }

  async function signRemotely (popIndex: number, pop: string, customer: Customer, digest: Uint8Array, down: Uint8Array | undefined): Promise<{ signature: Uint8Array, signer: string, rttMs: number }> {
    let mask = down
    for (let attempt = 0; ; attempt++) {
      const d = keyDecision(popIndex, customer.keys, world, mask)
      if (d.op === 'refused') throw new SimError(d.code, d.code === 'SIM_ERR_KEY_REFUSED' ? [pop, customer.host] : [customer.host])
      if (d.op !== 'remote') throw new SimError('SIM_ERR_INTERNAL', [`key decision changed to ${d.op} during a handshake`])
      try {
        return { signature: await deps.remoteSigner(d.signer.id, customer.host, digest, pop), signer: d.signer.id, rttMs: d.rttMs }
      } catch (err) {
        // A policy refusal stays a refusal; a signer that did not answer is skipped for the next nearest one.
        if (isSimError(err) && err.code === 'SIM_ERR_KEY_REFUSED') throw err
        if (attempt + 1 >= attempts) throw new SimError('SIM_ERR_KEY_UNAVAILABLE', [customer.host], { signer: d.signer.id, cause: String(err) })
        mask = mask === undefined ? new Uint8Array(world.topology.pops.length) : Uint8Array.from(mask)
        mask[d.signer.index] = 1
      }
    }
  }

  return {
    state,

    async handshake (input) {
      const { customer } = input
      const host = customer.host
      const popObj = world.topology.byId.get(input.pop)
      if (popObj === undefined) throw new SimError('SIM_ERR_POP_UNKNOWN', [input.pop])
      const s = state(popObj.id)
      const start = clock()
      if (input.newConnection === false) return { op: 'none', ms: 0 }
      if (input.sessionTicket !== undefined && s.resumes(input.sessionTicket, host, now())) {
        return { op: 'resumed', ms: clock() - start, ticket: input.sessionTicket }
      }

      const digest = random(DIGEST_BYTES)
      const decision = keyDecision(popObj.index, customer.keys, world, input.down)
      let signature: Uint8Array
      let signer: string
      let modelledRttMs: number | undefined
      switch (decision.op) {
        case 'refused':
          throw new SimError(decision.code, decision.code === 'SIM_ERR_KEY_REFUSED' ? [popObj.id, host] : [host])
        case 'local':
          signature = await signLocally(s, host, digest)
          signer = popObj.id
          break
        case 'remote': {
          const r = await signRemotely(popObj.index, popObj.id, customer, digest, input.down)
          signature = r.signature
          signer = r.signer
          modelledRttMs = r.rttMs
          break
        }
        case 'keyless':
          signer = `keyless:${decision.server.id}`
          modelledRttMs = decision.rttMs
          try {
            signature = await deps.keyless(decision.server, host, digest, popObj.id)
          } catch (err) {
            if (isSimError(err)) throw err
            throw new SimError('SIM_ERR_KEY_SERVER_UNREACHABLE', [host, err instanceof Error ? err.message : String(err)])
          }
          break
      }

      // The terminating PoP checks the signature as the client will: a signer that returns garbage fails the handshake.
      const pub = locality.publicMaterial(host)
      if (pub === undefined || !verifyTranscript(pub.publicKey, digest, signature)) {
        throw new SimError('SIM_ERR_KEY_SIGNATURE_INVALID', [host, signer])
      }
      const ticket = s.issueTicket(host, now() + lifetime)
      const ms = clock() - start
      return modelledRttMs === undefined ? { op: decision.op, signer, ms, ticket } : { op: decision.op, signer, ms, modelledRttMs, ticket }
    }
  }
}

/** A remote signer for one process: the signer PoP signs through the key-locality module, which checks the policy. */
export function inProcessRemoteSigner (locality: KeyLocality): RemoteSigner {
  return async function signAtAuthorisedPop (signerPopId, host, digest, requester) {
    const r = locality.sign(requester, host, digest, signerPopId)
    if (r.outcome === 'refused') throw refusalError(r)
    return r.signature
  }
}
