// Simulated TLS handshakes: local, remote (Geo Key Manager) and keyless signatures, each verified with the public key;
// session tickets that skip the key operation; coded failures when no signer or key server can sign.
import { randomBytes } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { isSimError } from '../../src/core/errors.ts'
import { createHandshaker, inProcessRemoteSigner } from '../../src/services/keys/handshake.ts'
import type { HandshakeDeps, KeylessClient, RemoteSigner } from '../../src/services/keys/handshake.ts'
import { signTranscript } from '../../src/services/keys/material.ts'
import { HOSTS, customer, keysFixture, pop, world } from './keys-fixture.ts'
import type { KeysFixture } from './keys-fixture.ts'

let f: KeysFixture
beforeAll(async () => { f = await keysFixture() })

/** The key server's own signing, in process (the HTTP service is tested in test/integration/keyless.test.ts). */
function keylessInProcess (): KeylessClient {
  return async function sign (server, host, digest) {
    const m = f.custody.keyServers.get(server.id)?.get(host)
    if (m === undefined) throw new Error('no key')
    return signTranscript(m.privateKey, digest)
  }
}

function handshaker (over: Partial<HandshakeDeps> = {}) {
  return createHandshaker({
    world,
    locality: f.locality,
    remoteSigner: inProcessRemoteSigner(f.locality),
    keyless: keylessInProcess(),
    ...over
  })
}

async function codeOf (p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (isSimError(err)) return `${err.code} ${err.statusCode}`
    throw err
  }
  throw new Error('expected a coded error')
}

describe('full handshakes', () => {
  it('FRA holds the key of eu-shop and signs locally', async () => {
    const h = handshaker()
    const r = await h.handshake({ pop: 'FRA', customer: customer(HOSTS.euNotFr) })
    expect(r).toMatchObject({ op: 'local', signer: 'FRA' })
    expect(r.ms).toBeGreaterThanOrEqual(0)
    expect(r.ticket).toMatch(/^[\w-]{22}$/)
    expect(h.state('FRA').heldKeys()).toEqual([HOSTS.euNotFr])
  })

  it('CDG, outside "(region: EU) and (not country: FR)", gets its signature from the nearest authorised PoP and never holds the key', async () => {
    const h = handshaker()
    const before = f.audit.total
    const r = await h.handshake({ pop: 'CDG', customer: customer(HOSTS.euNotFr) })
    expect(r.op).toBe('remote')
    const signer = pop(r.signer as string)
    expect(signer.country).not.toBe('FR')
    expect(customer(HOSTS.euNotFr).keys.allowed[signer.index]).toBe(1)
    expect(r.modelledRttMs).toBeGreaterThan(0)
    // Asking for the key outright is refused, and audited as such.
    expect(f.locality.requestKey('CDG', HOSTS.euNotFr).outcome).toBe('refused')
    const audit = f.audit.entries().filter((e) => e.seq > before)
    expect(audit.map((e) => [e.pop, e.operation, e.outcome, e.signer])).toEqual([
      ['CDG', 'sign', 'allowed', signer.id],
      ['CDG', 'fetch', 'refused', undefined]
    ])
    expect(h.state('CDG').heldKeys()).toEqual([])
    expect(h.state('CDG').holdsKey(HOSTS.euNotFr)).toBe(false)
  })

  it('a remote signature that does not verify fails the handshake', async () => {
    const garbage: RemoteSigner = async () => randomBytes(72)
    expect(await codeOf(handshaker({ remoteSigner: garbage }).handshake({ pop: 'CDG', customer: customer(HOSTS.euNotFr) })))
      .toBe('SIM_ERR_KEY_SIGNATURE_INVALID 502')
    // Signed, but with another customer's key.
    const other = f.custody.network.get(HOSTS.everywhere)
    if (other === undefined) throw new Error('fixture')
    const wrongKey: RemoteSigner = async (_s, _h, digest) => signTranscript(other.privateKey, digest)
    expect(await codeOf(handshaker({ remoteSigner: wrongKey }).handshake({ pop: 'CDG', customer: customer(HOSTS.euNotFr) })))
      .toBe('SIM_ERR_KEY_SIGNATURE_INVALID 502')
  })

  it('a signer that does not answer is skipped for the next nearest one; when none answers: SIM_ERR_KEY_UNAVAILABLE', async () => {
    const asked: string[] = []
    const inner = inProcessRemoteSigner(f.locality)
    const firstFails: RemoteSigner = async (signer, host, digest, requester) => {
      asked.push(signer)
      if (asked.length === 1) throw new Error('ECONNREFUSED')
      return await inner(signer, host, digest, requester)
    }
    const r = await handshaker({ remoteSigner: firstFails }).handshake({ pop: 'CDG', customer: customer(HOSTS.euNotFr) })
    expect(asked).toHaveLength(2)
    expect(asked[0]).not.toBe(asked[1])
    expect(r).toMatchObject({ op: 'remote', signer: asked[1] })
    const dead: RemoteSigner = async () => { throw new Error('ECONNREFUSED') }
    expect(await codeOf(handshaker({ remoteSigner: dead }).handshake({ pop: 'CDG', customer: customer(HOSTS.euNotFr) })))
      .toBe('SIM_ERR_KEY_UNAVAILABLE 503')
  })

  it('with every authorised PoP down the handshake is refused (fail closed), never signed elsewhere', async () => {
    const down = Uint8Array.from(customer(HOSTS.euNotFr).keys.allowed)
    expect(await codeOf(handshaker().handshake({ pop: 'CDG', customer: customer(HOSTS.euNotFr), down })))
      .toBe('SIM_ERR_KEY_UNAVAILABLE 503')
  })

  it('keyless: an allowed caller gets a verified signature from the key server', async () => {
    const r = await handshaker().handshake({ pop: 'AMS', customer: customer(HOSTS.keyless) })
    expect(r).toMatchObject({ op: 'keyless', signer: 'keyless:FRA' })
    expect(r.modelledRttMs).toBeGreaterThan(0)
  })

  it('keyless: a PoP off the key server\'s allow-list is refused before any call', async () => {
    let called = false
    const h = handshaker({ keyless: async () => { called = true; return Buffer.alloc(0) } })
    expect(await codeOf(h.handshake({ pop: 'LHR', customer: customer(HOSTS.keyless) }))).toBe('SIM_ERR_KEY_REFUSED 403')
    expect(called).toBe(false)
  })

  it('unknown PoPs are a coded error', async () => {
    expect(await codeOf(handshaker().handshake({ pop: 'XXX', customer: customer(HOSTS.everywhere) }))).toBe('SIM_ERR_POP_UNKNOWN 404')
  })
})

describe('resumption', () => {
  it('key server down: new connections fail with SIM_ERR_KEY_SERVER_UNREACHABLE, resumed ones continue without a key operation', async () => {
    let up = true
    const inner = keylessInProcess()
    const flaky: KeylessClient = async (...args) => {
      if (!up) throw new Error('connect ECONNREFUSED 127.0.0.1:2407')
      return await inner(...args)
    }
    const h = handshaker({ keyless: flaky })
    const c = customer(HOSTS.keyless)
    const first = await h.handshake({ pop: 'FRA', customer: c })
    up = false
    expect(await codeOf(h.handshake({ pop: 'FRA', customer: c }))).toBe('SIM_ERR_KEY_SERVER_UNREACHABLE 502')
    const resumed = await h.handshake({ pop: 'FRA', customer: c, sessionTicket: first.ticket as string })
    expect(resumed).toMatchObject({ op: 'resumed', ticket: first.ticket })
    expect(resumed.signer).toBeUndefined()
    up = true
    expect((await h.handshake({ pop: 'FRA', customer: c })).op).toBe('keyless')
  })

  it('a resumed session and a request on an open connection audit no key operation', async () => {
    const h = handshaker()
    const c = customer(HOSTS.everywhere)
    const first = await h.handshake({ pop: 'SJC', customer: c })
    const before = f.audit.total
    expect((await h.handshake({ pop: 'SJC', customer: c, sessionTicket: first.ticket as string })).op).toBe('resumed')
    expect(await h.handshake({ pop: 'SJC', customer: c, newConnection: false })).toEqual({ op: 'none', ms: 0 })
    expect(f.audit.total).toBe(before)
  })

  it('tickets expire, are bound to their PoP and host, and the oldest are forgotten past the capacity', async () => {
    let now = 1_000_000
    const h = handshaker({ now: () => now, ticketLifetimeMs: 60_000, ticketCapacity: 2 })
    const c = customer(HOSTS.everywhere)
    const t = (await h.handshake({ pop: 'SJC', customer: c })).ticket as string
    now += 59_999
    expect((await h.handshake({ pop: 'SJC', customer: c, sessionTicket: t })).op).toBe('resumed')
    expect((await h.handshake({ pop: 'LAX', customer: c, sessionTicket: t })).op).toBe('local')
    expect((await h.handshake({ pop: 'SJC', customer: customer(HOSTS.us), sessionTicket: t })).op).toBe('local')
    now += 1
    expect((await h.handshake({ pop: 'SJC', customer: c, sessionTicket: t })).op).toBe('local')

    const a = (await h.handshake({ pop: 'IAD', customer: c })).ticket as string
    const b = (await h.handshake({ pop: 'IAD', customer: c })).ticket as string
    await h.handshake({ pop: 'IAD', customer: c })
    expect(h.state('IAD').ticketCount).toBe(2)
    expect((await h.handshake({ pop: 'IAD', customer: c, sessionTicket: b })).op).toBe('resumed')
    expect((await h.handshake({ pop: 'IAD', customer: c, sessionTicket: a })).op).toBe('local')
  })
})
