// Key locality in the live simulation: each new client connection costs a real handshake at the PoP that terminates
// TLS (signed there, by the nearest authorised PoP over a signed internal route, or by the keyless key server), while
// a request on the same connection or with a session ticket costs none; a key server that is down fails new
// connections only. Real sockets on 127.0.0.1, latency off.
import { Client } from 'undici'
import { describe, expect, it } from 'vitest'
import type { RequestRecord } from '../../src/services/records.ts'
import { buildControlApp } from '../../src/services/control/app.ts'
import type { StartedSimulation } from '../../src/runtime/start.ts'
import { NO_FR, customersWithNoFrenchKeys, get, liveRuntimePerTest } from './live-helpers.ts'

const live = liveRuntimePerTest()

async function start () {
  return live.start({ customers: await customersWithNoFrenchKeys() }, { controlApp: buildControlApp })
}

/** A client connection of its own: requests on it reuse one TCP (and simulated TLS) connection. */
function connection (base: string): Client {
  return live.track(new Client(base, { pipelining: 1 }))
}

async function send (c: Client, headers: Record<string, string>) {
  const res = await c.request({ path: '/', method: 'GET', headers })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text }
}

function timingKinds (h: string | string[] | undefined): string[] {
  return String(h ?? '').split(', ').map((e) => e.split(';')[0] as string)
}

function nextRecord (r: StartedSimulation): Promise<RequestRecord> {
  return new Promise((resolve) => r.events.once('request', resolve))
}

describe('key locality on the live data path', () => {
  it('signs a new connection at the nearest authorised PoP over the wire; the same connection and a ticket need no key hop', async () => {
    const r = await start()
    const c = connection(r.edgeUrl)
    const rec = nextRecord(r)
    // From Paris: the ingress CDG is in the EU, so it inspects, but it is French: outside the key policy.
    const first = await send(c, { host: NO_FR, 'x-sim-client': 'CDG' })
    expect(first.status).toBe(200)
    expect(first.headers['x-sim-inspected-at']).toBe('CDG')
    expect(first.headers['x-sim-tls-handshake']).toBe('remote')
    const signer = String(first.headers['x-sim-tls-signer'])
    expect(r.world.topology.byId.get(signer)?.country).not.toBe('FR')
    expect(timingKinds(first.headers['server-timing'])).toEqual(['access', 'key', 'origin'])
    const record = await rec
    expect(record.plan.outcome === 'served' && record.plan.tls).toEqual({ at: 'CDG', key: 'remote', signer })
    expect(record.hops.map((h) => h.kind)).toEqual(['access', 'key', 'origin'])
    expect(record.handshake).toEqual({ at: 'CDG', op: 'remote', signer })

    // The signature was made at the signer for CDG; CDG never asked for, nor held, the key.
    const audit = r.keys?.audit.entries({ host: NO_FR }) ?? []
    expect(audit.map((e) => [e.pop, e.operation, e.outcome, e.signer])).toEqual([['CDG', 'sign', 'allowed', signer]])
    expect(audit.some((e) => e.operation === 'fetch' && e.pop === 'CDG')).toBe(false)
    const control = await fetch(`${r.controlUrl}/api/keys/audit?host=${NO_FR}`).then(async (res) => await res.json() as { entries: unknown[] })
    expect(control.entries).toHaveLength(1)

    // The same connection: no handshake, no key hop, and the plan's modelled total drops the key round trip.
    const rec2 = nextRecord(r)
    const again = await send(c, { host: NO_FR, 'x-sim-client': 'CDG' })
    expect(again.status).toBe(200)
    expect(again.headers['x-sim-tls-handshake']).toBe('none')
    expect(timingKinds(again.headers['server-timing'])).toEqual(['access', 'origin'])
    const second = await rec2
    expect(second.plan.outcome === 'served' && second.plan.tls.key).toBe('none')
    expect(second.plan.outcome === 'served' && record.plan.outcome === 'served' && second.plan.modelledMs < record.plan.modelledMs).toBe(true)

    // A new connection with the ticket of the first: resumed, no key operation.
    const ticket = String(first.headers['x-sim-tls-ticket'])
    const resumed = await send(connection(r.edgeUrl), { host: NO_FR, 'x-sim-client': 'CDG', 'x-sim-tls-ticket': ticket })
    expect(resumed.headers['x-sim-tls-handshake']).toBe('resumed')
    expect(timingKinds(resumed.headers['server-timing'])).toEqual(['access', 'origin'])
    expect(r.keys?.audit.entries({ host: NO_FR })).toHaveLength(1)
    expect(r.keys?.audit.entries({ host: NO_FR, outcome: 'refused' })).toEqual([])
  })

  it('takes signing calls only from PoPs: a client\'s request to the internal path is its own traffic, forged signing headers are refused', async () => {
    const r = await start()
    const body = JSON.stringify({ host: NO_FR, digest: Buffer.alloc(32).toString('base64') })
    const url = `${r.popUrl('FRA') ?? ''}/_sim/keys/sign`
    // A customer's request whose path happens to be the internal one: forwarded to its origin like any other path.
    const asCustomer = await get(url, { host: NO_FR, 'x-sim-client': 'FRA', 'content-type': 'application/json' }, { method: 'POST', body })
    expect(asCustomer.status).toBe(200)
    expect(asCustomer.json()).toMatchObject({ method: 'POST', path: '/_sim/keys/sign', requestBytes: body.length })
    // A client posing as a PoP, with signing headers it cannot sign: refused before the key-locality module is asked.
    const audited = r.keys?.audit.total
    const forged = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-sim-fwd-pop': 'DUS', 'x-sim-fwd-ts': String(Date.now()), 'x-sim-fwd-sig': 'f'.repeat(64) }, body })
    expect(forged.status).toBe(403)
    expect(await forged.json()).toMatchObject({ error: { code: 'SIM_ERR_FORWARD_UNAUTHENTICATED' } })
    expect(r.keys?.audit.total).toBe(audited)
  })

  it('with the keyless key server down, new connections fail with 502 while established and resumed ones continue', async () => {
    const r = await start()
    const keys = r.keys
    if (keys === undefined) throw new Error('no key services')
    expect(keys.keyServerIds).toEqual(['IAD'])
    const headers = { host: 'us-bank.example', 'x-sim-client': 'IAD' }
    const kept = connection(r.edgeUrl)
    const first = await send(kept, headers)
    expect(first.status).toBe(200)
    expect(first.headers['x-sim-tls-handshake']).toBe('keyless')
    expect(first.headers['x-sim-tls-signer']).toBe('keyless:IAD')
    expect(timingKinds(first.headers['server-timing'])).toEqual(['access', 'key', 'origin'])
    const ticket = String(first.headers['x-sim-tls-ticket'])

    const down = await fetch(`${r.controlUrl}/api/keyservers/IAD/down`, { method: 'POST' })
    expect(await down.json()).toEqual({ keyServer: { id: 'IAD', up: false }, changed: true })
    const fresh = await send(connection(r.edgeUrl), headers)
    expect(fresh.status).toBe(502)
    expect(JSON.parse(fresh.text)).toMatchObject({ error: { code: 'SIM_ERR_KEY_SERVER_UNREACHABLE' } })
    expect((await send(kept, headers)).status).toBe(200)
    const resumed = await send(connection(r.edgeUrl), { ...headers, 'x-sim-tls-ticket': ticket })
    expect(resumed.status).toBe(200)
    expect(resumed.headers['x-sim-tls-handshake']).toBe('resumed')

    await fetch(`${r.controlUrl}/api/keyservers/IAD/up`, { method: 'POST' })
    const back = await send(connection(r.edgeUrl), headers)
    expect(back.status).toBe(200)
    expect(back.headers['x-sim-tls-handshake']).toBe('keyless')
    const unknown = await fetch(`${r.controlUrl}/api/keyservers/ZZZ/down`, { method: 'POST' })
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ error: { code: 'SIM_ERR_KEY_SERVER_UNKNOWN', message: 'unknown key server "ZZZ" (this scenario\'s key servers: IAD)' } })
  })
})
