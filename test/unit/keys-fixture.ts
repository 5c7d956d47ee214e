// Shared fixture of the key-locality tests: a world with Geo Key Manager v1/v2, keyless and keys-everywhere customers,
// and their real key material (made once per test file).
import { buildWorld } from '../../src/core/world.ts'
import type { Customer, Pop, World } from '../../src/core/types.ts'
import { KeyAuditLog } from '../../src/services/keys/audit.ts'
import { createKeyLocality, keyCustody } from '../../src/services/keys/locality.ts'
import type { KeyCustody, KeyLocality } from '../../src/services/keys/locality.ts'
import { createKeyMaterial } from '../../src/services/keys/material.ts'

export const HOSTS = {
  /** Geo Key Manager v2 with negation: EU PoPs except French ones. */
  euNotFr: 'eu-shop.example',
  /** Geo Key Manager v1 `us`. */
  us: 'us-keys.example',
  /** Keyless SSL: key server next to FRA, only FRA and AMS may call it. */
  keyless: 'keyless.example',
  everywhere: 'open.example'
} as const

export const world: World = buildWorld({
  customers: [
    { host: HOSTS.euNotFr, region: 'eu', keys: { mode: 'geo', policy: '(region: EU) and (not country: FR)' }, origin: { pop: 'FRA' } },
    { host: HOSTS.us, keys: { mode: 'geo', policy: 'us' }, origin: { pop: 'IAD' } },
    { host: HOSTS.keyless, keys: { mode: 'keyless', server: 'FRA', allow: ['FRA', 'AMS'] }, origin: { pop: 'FRA' } },
    { host: HOSTS.everywhere, origin: { pop: 'SJC' } }
  ]
}).world

export function customer (host: string): Customer {
  const c = world.customers.get(host)
  if (c === undefined) throw new Error(`no customer ${host}`)
  return c
}

export function pop (id: string): Pop {
  const p = world.topology.byId.get(id)
  if (p === undefined) throw new Error(`no PoP ${id}`)
  return p
}

export interface KeysFixture {
  readonly custody: KeyCustody
  readonly audit: KeyAuditLog
  readonly locality: KeyLocality
}

export async function keysFixture (opts: { auditCapacity?: number } = {}): Promise<KeysFixture> {
  const set = await createKeyMaterial(world.customers.keys())
  const custody = keyCustody(world.customers, set.byHost)
  const audit = new KeyAuditLog(opts.auditCapacity === undefined ? {} : { capacity: opts.auditCapacity })
  const locality = createKeyLocality({
    topology: world.topology,
    customers: world.customers,
    material: custody.network,
    certificates: custody.certificates,
    audit
  })
  return { custody, audit, locality }
}
