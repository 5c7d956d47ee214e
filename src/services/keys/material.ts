// Key material of a simulation run: a per-run certificate authority and, per customer, a real private key (ECDSA P-256
// by default, RSA-2048 as an option) with a certificate for its host signed by that CA, plus the TLS 1.3
// CertificateVerify signing and verification every simulated handshake performs with them.
// The polyfill must load before @peculiar/x509: its dependency injection (tsyringe) reads Reflect metadata at import.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { X509Certificate, constants, generateKeyPair, randomBytes, sign, verify, webcrypto } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { promisify } from 'node:util'

export const KEY_ALGORITHMS = ['ecdsa-p256', 'rsa-2048'] as const
export type KeyAlgorithm = typeof KEY_ALGORITHMS[number]

/** The simulation's own CA: clients trust it with `curl --cacert <file>`. Its private key never leaves this object. */
export interface SimulationCa {
  readonly certPem: string
  readonly cert: X509Certificate
  readonly algorithm: KeyAlgorithm
  /** The subject as encoded in the certificate (RFC 4514 text): issuers must match it byte for byte. */
  readonly subject: string
  /** WebCrypto key: @peculiar/x509 signs certificates through WebCrypto. */
  readonly signingKey: webcrypto.CryptoKey
}

/** A customer's key pair and certificate. Whoever holds this object holds the private key. */
export interface CustomerKeyMaterial {
  readonly host: string
  readonly algorithm: KeyAlgorithm
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly certPem: string
  readonly cert: X509Certificate
}

export interface CertificateOptions {
  /** Start of validity; defaults to now. Backdated by an hour so that small clock skews do not reject it. */
  readonly now?: Date
  readonly validityDays?: number
}

const generateKeyPairAsync = promisify(generateKeyPair)
// Passed explicitly to every @peculiar/x509 call rather than set globally, so no other module's provider is touched.
type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>
type X509SelfSigned = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]
type X509Create = Extract<Parameters<typeof x509.X509CertificateGenerator.create>[0], { signingKey: unknown }>
const crypto = webcrypto as unknown as X509Crypto
const SKEW_MS = 3_600_000
const DAY_MS = 86_400_000

const WEBCRYPTO_ALG: Readonly<Record<KeyAlgorithm, webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams>> = {
  'ecdsa-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
}
const SIGNING_ALG: Readonly<Record<KeyAlgorithm, webcrypto.Algorithm | webcrypto.EcdsaParams>> = {
  'ecdsa-p256': { name: 'ECDSA', hash: 'SHA-256' },
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5' }
}

async function newKeyPair (algorithm: KeyAlgorithm): Promise<{ privateKey: KeyObject, publicKey: KeyObject }> {
  return algorithm === 'ecdsa-p256'
    ? await generateKeyPairAsync('ec', { namedCurve: 'P-256' })
    : await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
}

function spki (key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' })
}

/** 16 random bytes, top bit cleared: a positive serial number (RFC 5280 section 4.1.2.2: at most 20 octets). */
function serialNumber (): string {
  const b = randomBytes(16)
  b[0] = (b[0] as number) & 0x7f | 0x01
  return b.toString('hex')
}

function validity (opts: CertificateOptions, defaultDays: number): { notBefore: Date, notAfter: Date } {
  const now = (opts.now ?? new Date()).getTime()
  return { notBefore: new Date(now - SKEW_MS), notAfter: new Date(now + (opts.validityDays ?? defaultDays) * DAY_MS) }
}

/**
 * A fresh CA for this run. Extensions follow RFC 5280 (basicConstraints CA with pathLen 0, keyCertSign, a subject key
 * identifier): strict verifiers (OpenSSL's X509_STRICT, Python 3.13) reject CA certificates without them.
 */
export async function createSimulationCa (opts: CertificateOptions & { readonly algorithm?: KeyAlgorithm, readonly commonName?: string } = {}): Promise<SimulationCa> {
  const algorithm = opts.algorithm ?? 'ecdsa-p256'
  const pair = await newKeyPair(algorithm)
  const alg = WEBCRYPTO_ALG[algorithm]
  const keys: webcrypto.CryptoKeyPair = {
    privateKey: pair.privateKey.toCryptoKey(alg, false, ['sign']),
    publicKey: pair.publicKey.toCryptoKey(alg, true, ['verify'])
  }
  const name = `CN=${opts.commonName ?? 'residency-sim run CA'}, O=residency-sim`
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name,
    ...validity(opts, 30),
    keys: keys as X509SelfSigned['keys'],
    signingAlgorithm: SIGNING_ALG[algorithm],
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(spki(pair.publicKey), false, crypto)
    ]
  }, crypto)
  const certPem = cert.toString('pem') + '\n'
  return { certPem, cert: new X509Certificate(certPem), algorithm, subject: cert.subject, signingKey: keys.privateKey }
}

/**
 * A key pair for `host` and its certificate issued by `ca`: a server certificate (RFC 5280: subjectAltName dNSName,
 * serverAuth extended key usage, digitalSignature) that node:tls and curl accept for that host name.
 */
export async function issueCustomerKey (ca: SimulationCa, host: string, opts: CertificateOptions & { readonly algorithm?: KeyAlgorithm } = {}): Promise<CustomerKeyMaterial> {
  const algorithm = opts.algorithm ?? 'ecdsa-p256'
  const pair = await newKeyPair(algorithm)
  const publicKeyDer = spki(pair.publicKey)
  // RSA keys may also be used for RSA key exchange in TLS 1.2 (keyEncipherment); ECDSA keys only sign.
  const usage = algorithm === 'rsa-2048'
    ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
    : x509.KeyUsageFlags.digitalSignature
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${host}`,
    issuer: ca.subject,
    ...validity(opts, 30),
    publicKey: publicKeyDer,
    signingKey: ca.signingKey as X509Create['signingKey'],
    signingAlgorithm: SIGNING_ALG[ca.algorithm],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: host }]),
      await x509.SubjectKeyIdentifierExtension.create(publicKeyDer, false, crypto),
      await x509.AuthorityKeyIdentifierExtension.create(spki(ca.cert.publicKey), false, crypto)
    ]
  }, crypto)
  const certPem = cert.toString('pem') + '\n'
  return { host, algorithm, privateKey: pair.privateKey, publicKey: pair.publicKey, certPem, cert: new X509Certificate(certPem) }
}

export interface KeyMaterialSet {
  readonly ca: SimulationCa
  /** Where the CA certificate was written, when a path was given. */
  readonly caPath?: string
  readonly byHost: ReadonlyMap<string, CustomerKeyMaterial>
}

export interface KeyMaterialOptions extends CertificateOptions {
  /** Per-host key algorithm; ECDSA P-256 when it returns undefined. */
  readonly algorithmOf?: (host: string) => KeyAlgorithm | undefined
  /** Writes the CA certificate (PEM) there, creating the folder. */
  readonly caPath?: string
}

/** Everything a run needs at start-up: the CA (written to `caPath`) and one key and certificate per host. */
export async function createKeyMaterial (hosts: Iterable<string>, opts: KeyMaterialOptions = {}): Promise<KeyMaterialSet> {
  const ca = await createSimulationCa(opts)
  const list = [...new Set(hosts)]
  // Key generation runs on libuv's thread pool: issuing in parallel keeps start-up short with many customers.
  const issued = await Promise.all(list.map((host) => {
    const algorithm = opts.algorithmOf?.(host) ?? 'ecdsa-p256'
    return issueCustomerKey(ca, host, { ...opts, algorithm })
  }))
  const byHost = new Map(issued.map((m) => [m.host, m]))
  if (opts.caPath === undefined) return { ca, byHost }
  return { ca, caPath: await writeCaCertificate(ca, opts.caPath), byHost }
}

/** Writes the CA certificate (public: readable by anyone) and returns the path. */
export async function writeCaCertificate (ca: SimulationCa, path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, ca.certPem, { mode: 0o644 })
  return path
}

// RFC 8446 section 4.4.3: the server signs 64 spaces, the context string, a zero byte and the transcript hash, so a
// signature made for a TLS 1.3 CertificateVerify can be reused in no other protocol.
const CV_PREFIX = Buffer.concat([Buffer.alloc(64, 0x20), Buffer.from('TLS 1.3, server CertificateVerify', 'latin1'), Buffer.from([0])])

/** The exact bytes a TLS 1.3 server signs for a transcript hash. */
export function certificateVerifyInput (transcriptHash: Uint8Array): Buffer {
  return Buffer.concat([CV_PREFIX, transcriptHash])
}

// RFC 8446 section 4.2.3: TLS 1.3 signs with ecdsa_secp256r1_sha256 or, for RSA keys, rsa_pss_rsae_sha256
// (PSS with a salt as long as the hash); PKCS#1 v1.5 is not allowed in CertificateVerify.
function signOptions (key: KeyObject): Parameters<typeof sign>[2] {
  if (key.asymmetricKeyType === 'rsa') return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
  return { key, dsaEncoding: 'der' }
}

/** A CertificateVerify signature of `transcriptHash` with the customer's private key. */
export function signTranscript (privateKey: KeyObject, transcriptHash: Uint8Array): Buffer {
  return sign('sha256', certificateVerifyInput(transcriptHash), signOptions(privateKey))
}

/** Whether `signature` is a valid CertificateVerify signature of `transcriptHash` for `publicKey`. Never throws. */
export function verifyTranscript (publicKey: KeyObject, transcriptHash: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify('sha256', certificateVerifyInput(transcriptHash), signOptions(publicKey) as Parameters<typeof verify>[2], signature)
  } catch {
    // A malformed DER signature from a misbehaving signer is an invalid signature, not a crash.
    return false
  }
}

/** The SHA-256 transcript hash length: what `sign` accepts as a digest. */
export const DIGEST_BYTES = 32
