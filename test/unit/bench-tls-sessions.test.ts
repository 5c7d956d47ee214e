// The load generator's resumed TLS connections keep their session through garbage collections: undici holds sessions
// by WeakRef, and a TLS 1.3 server issues tickets on full handshakes only.
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { TLSSocket } from 'node:tls'
import { Client, type buildConnector } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { holdingSessions } from '../../bench/lib/tls-sessions.ts'
import { createSimulationCa, issueCustomerKey } from '../../src/services/keys/material.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

let server: Server | undefined
afterEach(async () => { await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined)) })

/** Six requests, each on a connection of its own, a full garbage collection between them: how each handshake went. */
async function handshakes (connect: buildConnector.connector | { ca: string, servername: string }, url: string): Promise<string[]> {
  const client = new Client(url, { connect })
  const seen: string[] = []
  for (let i = 0; i < 6; i++) {
    const res = await client.request({ path: '/', method: 'GET', headers: { connection: 'close' } })
    seen.push(await res.body.text())
    await new Promise((resolve) => setTimeout(resolve, 20))
    gc()
  }
  await client.close()
  return seen
}

describe('holdingSessions', () => {
  it('resumes every connection after the first, where undici alone loses the session to a garbage collection', async () => {
    const ca = await createSimulationCa()
    const key = await issueCustomerKey(ca, 'tls.example')
    server = createServer({ key: key.privateKey.export({ type: 'pkcs8', format: 'pem' }), cert: key.certPem, minVersion: 'TLSv1.3' }, (req, res) => {
      res.end((req.socket as TLSSocket).isSessionReused() ? 'resumed' : 'full')
    })
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
    const tls = { ca: ca.certPem, servername: 'tls.example' }
    expect(await handshakes(holdingSessions(tls), url)).toEqual(['full', 'resumed', 'resumed', 'resumed', 'resumed', 'resumed'])
    // What it is for: the same client without it makes full handshakes after a collection.
    expect((await handshakes(tls, url)).slice(1)).toContain('full')
  })
})
