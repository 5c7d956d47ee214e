// The key services of a run: the CA and each customer's key (written CA for `curl --cacert`), key custody split
// between the network and the customers' keyless key servers, one audit log, the key-locality module, the handshaker
// the PoPs share (each PoP has its own TLS state in it), and one keyless key server listener per configured server,
// which can be taken down and up like a PoP (docs/design.md, key locality).
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { World } from '../core/types.ts'
import { nowMs, overrun, type Delay } from '../net/delay.ts'
import type { ForwardSigner } from '../net/signing.ts'
import type { Upstreams } from '../net/upstream.ts'
import { KeyAuditLog } from '../services/keys/audit.ts'
import { createHandshaker, type Handshaker, type KeylessClient } from '../services/keys/handshake.ts'
import { buildKeylessApp } from '../services/keys/keyless-app.ts'
import { createKeylessHttpClient } from '../services/keys/keyless-client.ts'
import { createKeyLocality, keyCustody, type KeyLocality } from '../services/keys/locality.ts'
import { createKeyMaterial, type KeyMaterialSet } from '../services/keys/material.ts'
import { httpRemoteSigner } from '../services/keys/remote-sign.ts'

export interface RuntimeKeysOptions {
  readonly world: World
  readonly host: string
  /** Where the CA certificate is written; not written without. */
  readonly caPath?: string
  readonly signer: ForwardSigner
  readonly upstreams: Upstreams
  readonly delay: Delay
  readonly directory: (popId: string) => string | undefined
  readonly logger: Logger
  readonly timeoutMs: number
  /** Listens an app on host:port (0: ephemeral) and returns the port; the runtime's own helper. */
  readonly listen: (app: FastifyInstance, port: number) => Promise<number>
}

export interface RuntimeKeys {
  readonly material: KeyMaterialSet
  readonly audit: KeyAuditLog
  readonly locality: KeyLocality
  readonly handshaker: Handshaker
  /** Key server ids (a PoP id or `lat,lon`, as written in the customers' policies). */
  readonly keyServerIds: readonly string[]
  /** Base URL of a key server that is up. */
  keyServerUrl (id: string): string | undefined
  isKeyServerUp (id: string): boolean
  setKeyServerDown (id: string, down: boolean): Promise<void>
  close (): Promise<void>
}

interface KeyServerEntry {
  readonly app: FastifyInstance
  port: number
  up: boolean
}

export async function startKeys (opts: RuntimeKeysOptions): Promise<RuntimeKeys> {
  const { world, delay, logger } = opts
  const material = await createKeyMaterial(world.customers.keys(), opts.caPath === undefined ? {} : { caPath: opts.caPath })
  const custody = keyCustody(world.customers, material.byHost)
  const audit = new KeyAuditLog()
  const locality = createKeyLocality({ topology: world.topology, customers: world.customers, material: custody.network, certificates: custody.certificates, audit })

  const servers = new Map<string, KeyServerEntry>()
  for (const [id, keys] of custody.keyServers) {
    const app = buildKeylessApp({ id, topology: world.topology, customers: world.customers, keys, signer: opts.signer, logger, audit })
    servers.set(id, { app, port: await opts.listen(app, 0), up: true })
  }
  const url = (port: number): string => `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`
  const keyServerUrl = (id: string): string | undefined => {
    const e = servers.get(id)
    return e?.up === true ? url(e.port) : undefined
  }

  // Keyless SSL over the runtime's keep-alive pools, with the modelled round trip PoP <-> key server (half each way).
  const keyless: KeylessClient = async function askKeyServerDelayed (server, host, digest, requester) {
    const base = keyServerUrl(server.id)
    const pop = world.topology.byId.get(requester)
    const rtt = pop === undefined ? 0 : world.latency.rttMs(pop, server)
    const client = createKeylessHttpClient({
      urlOf: () => base,
      signer: opts.signer,
      timeoutMs: opts.timeoutMs,
      ...(base === undefined ? {} : { dispatcher: opts.upstreams.get(base) })
    })
    const outbound = delay.oneWayMs(rtt)
    const t = nowMs()
    await delay.wait(outbound)
    try {
      return await client(server, host, digest, requester)
    } finally {
      // Less what the exchange took beyond the outbound wait (the key server's signing, the sockets): the simulation's
      // own time, which the modelled round trip already covers.
      await delay.wait(delay.oneWayMs(rtt) - overrun(t, outbound))
    }
  }
  const handshaker = createHandshaker({
    world,
    locality,
    remoteSigner: httpRemoteSigner({ world, directory: opts.directory, upstreams: opts.upstreams, signer: opts.signer, delay }),
    keyless
  })

  async function setKeyServerDown (id: string, down: boolean): Promise<void> {
    const e = servers.get(id)
    if (e === undefined) throw new Error(`unknown key server ${id}`)
    if (down === !e.up) return
    const srv = e.app.server
    if (down) {
      e.up = false
      await new Promise<void>((resolve) => {
        srv.close(() => resolve())
        srv.closeAllConnections()
      })
      logger.warn({ keyServer: id }, 'key server down')
    } else {
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen({ host: opts.host, port: e.port }, () => { srv.off('error', reject); resolve() })
      })
      e.up = true
      logger.info({ keyServer: id }, 'key server up')
    }
  }

  return {
    material,
    audit,
    locality,
    handshaker,
    keyServerIds: [...servers.keys()],
    keyServerUrl,
    isKeyServerUp: (id) => servers.get(id)?.up === true,
    setKeyServerDown,
    async close () {
      await Promise.allSettled([...servers.values()].map((e) => e.app.close()))
    }
  }
}
