// The keyless key server over real sockets on 127.0.0.1: it signs for authenticated PoPs on its allow-list, refuses
// the others, never returns key material, and when it is down new handshakes fail while resumed ones continue.
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { request } from 'undici'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { isSimError } from '../../src/core/errors.ts'
import { createForwardSigner } from '../../src/net/signing.ts'
import type { ForwardSigner } from '../../src/net/signing.ts'
import { createHandshaker, inProcessRemoteSigner } from '../../src/services/keys/handshake.ts'
import { buildKeylessApp } from '../../src/services/keys/keyless-app.ts'
import { createKeylessHttpClient } from '../../src/services/keys/keyless-client.ts'
import { HOSTS, customer, keysFixture, world } from '../unit/keys-fixture.ts'
import type { KeysFixture } from '../unit/keys-fixture.ts'

let f: KeysFixture
let signer: ForwardSigner
let app: FastifyInstance | undefined
let url: string | undefined

beforeAll(async () => {
  f = await keysFixture()
  signer = createForwardSigner({ windowMs: 30_000 })
})

afterEach(async () => {
  await app?.close()
  app = undefined
  url = undefined
})

async function startKeyServer (): Promise<string> {
  const keys = f.custody.keyServers.get('FRA')
  if (keys === undefined) throw new Error('fixture has no key server at FRA')
  app = buildKeylessApp({ id: 'FRA', topology: world.topology, customers: world.customers, keys, signer, logger: pino({ level: 'silent' }), audit: f.audit })
  await app.listen({ port: 0, host: '127.0.0.1' })
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return url
}

function handshaker () {
  return createHandshaker({
    world,
    locality: f.locality,
    remoteSigner: inProcessRemoteSigner(f.locality),
    keyless: createKeylessHttpClient({ urlOf: (id) => id === 'FRA' ? url : undefined, signer, timeoutMs: 2000 })
  })
}

async function post (base: string, body: string, headers: Record<string, string>) {
  const res = await request(`${base}/sign`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  return { status: res.statusCode, body: await res.body.json() as Record<string, unknown> }
}

const digest = Buffer.alloc(32, 7).toString('base64')

describe('keyless key server', () => {
  it('signs for an allowed PoP; the PoP verifies the signature; only the signature crosses the wire', async () => {
    await startKeyServer()
    const before = f.audit.total
    const r = await handshaker().handshake({ pop: 'AMS', customer: customer(HOSTS.keyless) })
    expect(r).toMatchObject({ op: 'keyless', signer: 'keyless:FRA' })
    expect(f.audit.entries().filter((e) => e.seq > before).map((e) => [e.pop, e.operation, e.outcome, e.signer]))
      .toEqual([['AMS', 'sign', 'allowed', 'keyless:FRA']])
    const body = JSON.stringify({ host: HOSTS.keyless, digest })
    const res = await post(url as string, body, signer.signBody('FRA', body))
    expect(res.status).toBe(200)
    expect(Object.keys(res.body).sort()).toEqual(['algorithm', 'signMs', 'signature', 'signer'])
    expect(JSON.stringify(res.body)).not.toMatch(/PRIVATE KEY/)
  })

  it('refuses an authenticated PoP off its allow-list with SIM_ERR_KEY_REFUSED 403, and audits it', async () => {
    const base = await startKeyServer()
    const body = JSON.stringify({ host: HOSTS.keyless, digest })
    const res = await post(base, body, signer.signBody('LHR', body))
    expect(res.status).toBe(403)
    expect(res.body).toMatchObject({ error: { code: 'SIM_ERR_KEY_REFUSED' } })
    expect(f.audit.entries({ limit: 1 })[0]).toMatchObject({ pop: 'LHR', host: HOSTS.keyless, operation: 'sign', outcome: 'refused', code: 'SIM_ERR_KEY_REFUSED', signer: 'keyless:FRA' })
    // Through the client, the refusal keeps its code.
    const client = createKeylessHttpClient({ urlOf: () => base, signer })
    await expect(client({ id: 'FRA', lat: 0, lon: 0 }, HOSTS.keyless, Buffer.alloc(32), 'LHR')).rejects.toMatchObject({ code: 'SIM_ERR_KEY_REFUSED' })
  })

  it('refuses unauthenticated, forged and malformed calls', async () => {
    const base = await startKeyServer()
    const body = JSON.stringify({ host: HOSTS.keyless, digest })
    expect((await post(base, body, {})).body).toMatchObject({ error: { code: 'SIM_ERR_FORWARD_UNAUTHENTICATED' } })
    const other = createForwardSigner({ windowMs: 30_000 })
    expect((await post(base, body, other.signBody('FRA', body))).status).toBe(403)
    // A valid signature for another body.
    const headers = signer.signBody('FRA', body)
    expect((await post(base, body.replace('keyless', 'kEyless'), headers)).body).toMatchObject({ error: { code: 'SIM_ERR_FORWARD_UNAUTHENTICATED' } })
    const notJson = '{'
    expect((await post(base, notJson, signer.signBody('FRA', notJson))).body).toMatchObject({ error: { code: 'SIM_ERR_INPUT_INVALID' } })
    const short = JSON.stringify({ host: HOSTS.keyless, digest: 'AAAA' })
    expect((await post(base, short, signer.signBody('FRA', short))).body).toMatchObject({ error: { code: 'SIM_ERR_INPUT_INVALID' } })
    const unknown = JSON.stringify({ host: HOSTS.euNotFr, digest })
    const r = await post(base, unknown, signer.signBody('FRA', unknown))
    expect(r).toMatchObject({ status: 421, body: { error: { code: 'SIM_ERR_HOST_UNKNOWN' } } })
    // The signing path takes POST only; another path is no route at all.
    const get = await fetch(`${base}/sign`)
    expect(get.status).toBe(405)
    expect(get.headers.get('allow')).toBe('POST')
    expect(await get.json()).toMatchObject({ error: { code: 'SIM_ERR_METHOD_NOT_ALLOWED' } })
    expect((await fetch(`${base}/nothing`)).status).toBe(404)
  })

  it('down: new connections fail with SIM_ERR_KEY_SERVER_UNREACHABLE, resumed ones continue; up again: new ones succeed', async () => {
    await startKeyServer()
    const h = handshaker()
    const c = customer(HOSTS.keyless)
    const first = await h.handshake({ pop: 'FRA', customer: c })
    expect(first.op).toBe('keyless')
    const liveUrl = url
    await app?.close()
    app = undefined
    // Still known at its old address, which no longer answers: a real connection refusal.
    url = liveUrl
    try {
      await h.handshake({ pop: 'FRA', customer: c })
      expect.unreachable('the handshake should fail')
    } catch (err) {
      expect(isSimError(err) && [err.code, err.statusCode]).toEqual(['SIM_ERR_KEY_SERVER_UNREACHABLE', 502])
    }
    expect((await h.handshake({ pop: 'FRA', customer: c, sessionTicket: first.ticket as string })).op).toBe('resumed')
    await startKeyServer()
    expect((await h.handshake({ pop: 'FRA', customer: c })).op).toBe('keyless')
  })
})
