// Key material: the run's CA and the customers' certificates form a chain that node:tls accepts for the host, and
// TLS 1.3 CertificateVerify signatures made with the keys verify (and fail when tampered with).
import { randomBytes } from 'node:crypto'
import { readFile, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  certificateVerifyInput, createKeyMaterial, signTranscript, verifyTranscript
} from '../../src/services/keys/material.ts'
import type { KeyMaterialSet } from '../../src/services/keys/material.ts'

const dir = join(tmpdir(), `rsim-material-${process.pid}-${Date.now()}`)
let set: KeyMaterialSet

beforeAll(async () => {
  set = await createKeyMaterial(['eu-shop.example', 'rsa.example'], {
    caPath: join(dir, 'ca.pem'),
    algorithmOf: (host) => host === 'rsa.example' ? 'rsa-2048' : undefined
  })
})

afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

function material (host: string) {
  const m = set.byHost.get(host)
  if (m === undefined) throw new Error(`no material for ${host}`)
  return m
}

/** A real TLS handshake against a server using the customer's key and certificate; resolves with the peer's view. */
async function tlsHandshake (host: string, servername: string): Promise<{ authorized: boolean, error?: string, subject?: string }> {
  const m = material(host)
  // node:tls takes PEM or DER, not a KeyObject.
  const key = m.privateKey.export({ type: 'pkcs8', format: 'pem' })
  const server = tls.createServer({ key, cert: m.certPem }, (s) => s.end())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  try {
    return await new Promise<{ authorized: boolean, error?: string, subject?: string }>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: set.ca.certPem, rejectUnauthorized: false }, () => {
        const out = socket.authorized
          ? { authorized: true, subject: String(socket.getPeerCertificate().subject.CN) }
          : { authorized: false, error: String(socket.authorizationError) }
        socket.end()
        resolve(out)
      })
      socket.on('error', (err) => resolve({ authorized: false, error: err.message }))
    })
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

describe('key material', () => {
  it('issues ECDSA P-256 by default and RSA-2048 on request', () => {
    const ec = material('eu-shop.example')
    expect(ec.algorithm).toBe('ecdsa-p256')
    expect(ec.privateKey.asymmetricKeyType).toBe('ec')
    expect(ec.privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
    const rsa = material('rsa.example')
    expect(rsa.privateKey.asymmetricKeyType).toBe('rsa')
    expect(rsa.privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048)
  })

  it('certificates name the host, are issued by the CA and verify with its key', () => {
    for (const host of ['eu-shop.example', 'rsa.example']) {
      const m = material(host)
      expect(m.cert.subjectAltName).toBe(`DNS:${host}`)
      expect(m.cert.checkHost(host)).toBe(host)
      expect(m.cert.ca).toBe(false)
      expect(m.cert.checkIssued(set.ca.cert)).toBe(true)
      expect(m.cert.verify(set.ca.cert.publicKey)).toBe(true)
      expect(m.cert.publicKey.equals(m.publicKey)).toBe(true)
    }
    expect(set.ca.cert.ca).toBe(true)
  })

  it('writes the CA certificate to the given path', async () => {
    expect(set.caPath).toBe(join(dir, 'ca.pem'))
    expect(await readFile(join(dir, 'ca.pem'), 'utf8')).toBe(set.ca.certPem)
    expect(set.ca.certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/)
  })

  it.each(['eu-shop.example', 'rsa.example'])('node:tls completes a verified handshake for %s with the run CA', async (host) => {
    expect(await tlsHandshake(host, host)).toEqual({ authorized: true, subject: host })
  })

  it('node:tls rejects the certificate for another host name', async () => {
    const r = await tlsHandshake('eu-shop.example', 'other.example')
    expect(r.authorized).toBe(false)
  })

  it.each(['eu-shop.example', 'rsa.example'])('CertificateVerify signatures of %s verify, and fail on another digest or key', (host) => {
    const m = material(host)
    const digest = randomBytes(32)
    const sig = signTranscript(m.privateKey, digest)
    expect(verifyTranscript(m.publicKey, digest, sig)).toBe(true)
    expect(verifyTranscript(m.publicKey, randomBytes(32), sig)).toBe(false)
    const other = material(host === 'rsa.example' ? 'eu-shop.example' : 'rsa.example')
    expect(verifyTranscript(other.publicKey, digest, sig)).toBe(false)
    expect(verifyTranscript(m.publicKey, digest, randomBytes(sig.length))).toBe(false)
    expect(verifyTranscript(m.publicKey, digest, new Uint8Array(0))).toBe(false)
  })

  it('signs the RFC 8446 section 4.4.3 CertificateVerify content', () => {
    const input = certificateVerifyInput(Buffer.alloc(32, 0xab))
    expect(input.length).toBe(64 + 33 + 1 + 32)
    expect(input.subarray(0, 64).every((b) => b === 0x20)).toBe(true)
    expect(input.subarray(64, 97).toString('latin1')).toBe('TLS 1.3, server CertificateVerify')
    expect(input[97]).toBe(0)
  })
})
