// The key-locality module: key material only for PoPs inside the key policy, signatures only at authorised PoPs,
// keyless keys never in the network's custody, and every request and operation in the bounded audit log.
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { KeyAuditLog } from '../../src/services/keys/audit.ts'
import type { KeyAuditEntry } from '../../src/services/keys/audit.ts'
import { verifyTranscript } from '../../src/services/keys/material.ts'
import { HOSTS, customer, keysFixture, world } from './keys-fixture.ts'
import type { KeysFixture } from './keys-fixture.ts'

let f: KeysFixture
beforeAll(async () => { f = await keysFixture() })

describe('requestKey', () => {
  it('v2 policy with negation: CDG (France) is refused the key, FRA (Germany) gets it', () => {
    const refused = f.locality.requestKey('CDG', HOSTS.euNotFr)
    expect(refused).toMatchObject({ outcome: 'refused', code: 'SIM_ERR_KEY_REFUSED', status: 403 })
    expect(refused).not.toHaveProperty('privateKey')
    expect(refused.outcome === 'refused' && refused.reason).toBe('PoP CDG is outside the key policy of eu-shop.example: key material refused')
    const granted = f.locality.requestKey('FRA', HOSTS.euNotFr)
    expect(granted.outcome).toBe('allowed')
    if (granted.outcome !== 'allowed') return
    expect(granted.privateKey.type).toBe('private')
    expect(granted.privateKey.asymmetricKeyType).toBe('ec')
  })

  it('v1 "us": IAD gets the key, FRA and LHR do not', () => {
    expect(f.locality.requestKey('IAD', HOSTS.us).outcome).toBe('allowed')
    expect(f.locality.requestKey('FRA', HOSTS.us).outcome).toBe('refused')
    expect(f.locality.requestKey('LHR', HOSTS.us).outcome).toBe('refused')
  })

  it('keyless: no PoP ever gets the key, not even the key server\'s neighbour; the network does not hold it', () => {
    for (const id of ['FRA', 'AMS', 'IAD']) expect(f.locality.requestKey(id, HOSTS.keyless)).toMatchObject({ outcome: 'refused', code: 'SIM_ERR_KEY_REFUSED' })
    expect(f.custody.network.has(HOSTS.keyless)).toBe(false)
    expect(f.custody.keyServers.get('FRA')?.has(HOSTS.keyless)).toBe(true)
    expect(f.custody.certificates.get(HOSTS.keyless)).not.toHaveProperty('privateKey')
    expect(f.locality.publicMaterial(HOSTS.keyless)?.publicKey.type).toBe('public')
  })

  it('unknown PoPs and hosts are refused with their own codes; hosts are normalised', () => {
    expect(f.locality.requestKey('XXX', HOSTS.everywhere)).toMatchObject({ outcome: 'refused', code: 'SIM_ERR_POP_UNKNOWN', status: 404 })
    expect(f.locality.requestKey('FRA', 'nobody.example')).toMatchObject({ outcome: 'refused', code: 'SIM_ERR_HOST_UNKNOWN', status: 421 })
    expect(f.locality.requestKey('fra', 'Open.Example:443').outcome).toBe('allowed')
  })

  it('property: a PoP gets key material exactly when the compiled policy admits it (invariant 2)', () => {
    const pops = world.topology.pops
    const hosts = [...world.customers.keys()]
    fc.assert(fc.property(fc.integer({ min: 0, max: pops.length - 1 }), fc.constantFrom(...hosts), (i, host) => {
      const p = pops[i]
      if (p === undefined) return
      const r = f.locality.requestKey(p.id, host)
      const admitted = customer(host).keys.allowed[p.index] === 1
      expect(r.outcome).toBe(admitted ? 'allowed' : 'refused')
      if (!admitted) expect(Object.values(r).some((v) => typeof v === 'object')).toBe(false)
    }), { numRuns: 300 })
  })
})

describe('sign', () => {
  it('an authorised signer (FRA) signs for CDG; the signature verifies with the certificate', () => {
    const digest = randomBytes(32)
    const r = f.locality.sign('CDG', HOSTS.euNotFr, digest, 'FRA')
    expect(r.outcome).toBe('signed')
    if (r.outcome !== 'signed') return
    expect(r.signer).toBe('FRA')
    const pub = f.locality.publicMaterial(HOSTS.euNotFr)
    expect(pub && verifyTranscript(pub.publicKey, digest, r.signature)).toBe(true)
  })

  it('CDG cannot sign for itself, nor be named as a signer', () => {
    expect(f.locality.sign('CDG', HOSTS.euNotFr, randomBytes(32))).toMatchObject({ outcome: 'refused', code: 'SIM_ERR_KEY_REFUSED' })
    expect(f.locality.sign('FRA', HOSTS.euNotFr, randomBytes(32), 'CDG')).toMatchObject({ outcome: 'refused', code: 'SIM_ERR_KEY_REFUSED' })
  })

  it('refuses a digest that is not a SHA-256 hash', () => {
    expect(f.locality.sign('FRA', HOSTS.euNotFr, randomBytes(31))).toMatchObject({ outcome: 'refused', code: 'SIM_ERR_INPUT_INVALID' })
  })
})

describe('audit log', () => {
  it('records fetches and signatures, allowed and refused, with pop, signer and code', async () => {
    const g = await keysFixture()
    const seen: KeyAuditEntry[] = []
    g.audit.on('entry', (e) => seen.push(e))
    g.locality.requestKey('CDG', HOSTS.euNotFr)
    g.locality.requestKey('FRA', HOSTS.euNotFr)
    g.locality.sign('CDG', HOSTS.euNotFr, randomBytes(32), 'FRA')
    g.locality.sign('CDG', HOSTS.euNotFr, randomBytes(32))
    const entries = g.audit.entries()
    expect(entries).toEqual(seen)
    expect(entries.map(({ pop, host, operation, outcome, code, signer }) => ({ pop, host, operation, outcome, code, signer }))).toEqual([
      { pop: 'CDG', host: HOSTS.euNotFr, operation: 'fetch', outcome: 'refused', code: 'SIM_ERR_KEY_REFUSED', signer: undefined },
      { pop: 'FRA', host: HOSTS.euNotFr, operation: 'fetch', outcome: 'allowed', code: undefined, signer: 'FRA' },
      { pop: 'CDG', host: HOSTS.euNotFr, operation: 'sign', outcome: 'allowed', code: undefined, signer: 'FRA' },
      { pop: 'CDG', host: HOSTS.euNotFr, operation: 'sign', outcome: 'refused', code: 'SIM_ERR_KEY_REFUSED', signer: 'CDG' }
    ])
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4])
    expect(g.audit.entries({ outcome: 'refused' })).toHaveLength(2)
    expect(g.audit.entries({ pop: 'FRA' })).toHaveLength(2)
    expect(g.audit.entries({ operation: 'sign', limit: 1 })[0]?.seq).toBe(4)
  })

  it('is bounded: the oldest entries go first, the total keeps counting', () => {
    let t = 0
    const log = new KeyAuditLog({ capacity: 3, now: () => ++t })
    for (let i = 0; i < 5; i++) log.record({ pop: 'FRA', host: `h${i}.example`, operation: 'fetch', outcome: 'allowed' })
    expect(log.size).toBe(3)
    expect(log.total).toBe(5)
    expect(log.entries().map((e) => [e.seq, e.at, e.host])).toEqual([[3, 3, 'h2.example'], [4, 4, 'h3.example'], [5, 5, 'h4.example']])
    expect(() => new KeyAuditLog({ capacity: 0 })).toThrow(RangeError)
  })

  it('a throwing listener does not fail the audited operation', () => {
    const log = new KeyAuditLog()
    log.on('entry', () => { throw new Error('broken stream') })
    expect(() => log.record({ pop: 'FRA', host: 'a.example', operation: 'sign', outcome: 'allowed' })).not.toThrow()
    expect(log.size).toBe(1)
  })
})
