// The caller side of Geo Key Manager's remote signing with latency on (src/services/keys/remote-sign.ts): half the
// modelled round trip out, the signing PoP's answer, then the response direction less what the exchange took beyond
// its outbound wait, so a slow signer (the simulation's own time: its signing, the sockets) does not add to the hop.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDelay } from '../../src/net/delay.ts'
import { createForwardSigner } from '../../src/net/signing.ts'
import { createUpstreams } from '../../src/net/upstream.ts'
import { httpRemoteSigner } from '../../src/services/keys/remote-sign.ts'
import { world } from '../unit/keys-fixture.ts'

const SLOW_MS = 40

describe('remote signing with latency on', () => {
  let signerPop: Server
  let base = ''
  beforeAll(async () => {
    // A signing PoP that takes 40 ms to answer.
    signerPop = createServer((req, res) => {
      req.resume()
      req.on('end', () => setTimeout(() => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ signature: Buffer.from('sig').toString('base64') }))
      }, SLOW_MS))
    })
    await new Promise<void>((resolve) => signerPop.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(signerPop.address() as AddressInfo).port}`
  })
  afterAll(async () => { await new Promise((resolve) => signerPop.close(resolve)) })

  it('takes the modelled round trip in all, the signer\'s time included', async () => {
    const pops = [...world.topology.byId.values()]
    // Two PoPs of the fixture far enough apart that the response direction is longer than the signer's 40 ms.
    let pair: [string, string] | undefined
    let rtt = 0
    for (const a of pops) {
      for (const b of pops) {
        const r = world.latency.popRttMs(a.index, b.index)
        if (r > 2.5 * SLOW_MS && r < 400 && (pair === undefined || r < rtt)) { pair = [a.id, b.id]; rtt = r }
      }
    }
    expect(pair).toBeDefined()
    const [requester, signerId] = pair as [string, string]
    const delay = createDelay({ enabled: true, timeScale: 1, jitter: 0, seed: 1 })
    const signer = createForwardSigner({ windowMs: 60_000 })
    const upstreams = createUpstreams({ delay, signer, timeoutMs: 5000, keepAliveTimeoutMs: 5000 })
    try {
      const ask = httpRemoteSigner({ world, directory: (id) => id === signerId ? base : undefined, upstreams, signer, delay })
      // A first call opens the connection; the second is timed.
      await ask(signerId, 'eu-shop.example', new Uint8Array(32), requester)
      const t = performance.now()
      const signature = await ask(signerId, 'eu-shop.example', new Uint8Array(32), requester)
      const took = performance.now() - t
      expect(Buffer.from(signature).toString()).toBe('sig')
      // The modelled round trip, not the round trip plus the signer's 40 ms (timers may run a few ms late).
      expect(took).toBeGreaterThan(rtt - 3)
      expect(took).toBeLessThan(rtt + SLOW_MS / 2)
    } finally {
      await upstreams.close()
    }
  })
})
