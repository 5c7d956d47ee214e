// Server-Timing response header (https://www.w3.org/TR/server-timing/): one metric per hop, named by the hop kind,
// its description naming the two ends ("SYD->FRA") and its measured duration in ms. Also the inspection PoP's report
// to its ingress on a relay's answer (its own time, the jitter it drew, its error code and its hops), on one internal
// header that the ingress strips.
import type { Hop } from '../../core/types.ts'
import type { MeasuredHop } from '../records.ts'
import { asPlanned } from '../measured-hops.ts'

function quoted (s: string): string {
  // A quoted-string (RFC 9110 section 5.6.4): escape backslash and double quote.
  return s.includes('"') || s.includes('\\') ? `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"` : `"${s}"`
}

export function serverTiming (hops: readonly MeasuredHop[]): string {
  let text = ''
  for (let i = 0; i < hops.length; i++) {
    const h = hops[i] as MeasuredHop
    text += `${i === 0 ? '' : ', '}${h.kind};desc=${quoted(`${h.from}->${h.to}`)};dur=${h.measuredMs.toFixed(2)}`
  }
  return text
}

/**
 * Measured ms as reported: in whole microseconds. An integer is written and read back several times faster than a
 * fraction of a millisecond (no shortest-decimal conversion of a double).
 */
function reported (ms: number): number {
  return Math.round(ms * 1000)
}

/** A reported time back in ms; an empty or non-finite one is malformed. */
function fromReported (text: string): number | undefined {
  if (text === '') return undefined
  const us = Number(text)
  return Number.isFinite(us) ? us / 1000 : undefined
}

/**
 * Hop timings sent from an inspection PoP back to its ingress on an internal header: compact, no request data. When
 * the hops are the planned downstream ones, which both ends know from the signed plan, only their measured times are
 * sent (`=<µs>,<µs>`, whole microseconds); otherwise (a remote signer other than the planned one) every hop in full,
 * as JSON (`[kind, from, to, modelled ms, measured µs]`).
 */
export function encodeHops (hops: readonly MeasuredHop[], planned?: readonly Hop[]): string {
  if (planned !== undefined && asPlanned(hops, planned)) {
    let text = '='
    for (let i = 0; i < hops.length; i++) text += `${i === 0 ? '' : ','}${reported((hops[i] as MeasuredHop).measuredMs)}`
    return text
  }
  return JSON.stringify(hops.map((h) => [h.kind, h.from, h.to, h.modelledMs, reported(h.measuredMs)]))
}

/** Reads encodeHops' text (`planned`: the same planned hops); anything malformed reads as no hops. */
export function decodeHops (text: string | string[] | undefined, planned?: readonly Hop[]): MeasuredHop[] {
  if (typeof text !== 'string') return []
  if (text.startsWith('=')) {
    if (planned === undefined) return []
    const times = text.length === 1 ? [] : text.slice(1).split(',')
    if (times.length !== planned.length) return []
    const hops: MeasuredHop[] = []
    for (let i = 0; i < times.length; i++) {
      const measuredMs = fromReported(times[i] as string)
      if (measuredMs === undefined) return []
      const p = planned[i] as Hop
      hops.push({ from: p.from, to: p.to, kind: p.kind as MeasuredHop['kind'], modelledMs: p.rttMs, measuredMs })
    }
    return hops
  }
  try {
    const rows = JSON.parse(text) as [MeasuredHop['kind'], string, string, number, number][]
    return rows.map(([kind, from, to, modelledMs, measuredUs]) => ({ kind, from, to, modelledMs, measuredMs: measuredUs / 1000 }))
  } catch {
    return []
  }
}

/** The inspection PoP's report on a relay's answer: `<inner µs>;<jitter µs>;<error code or empty>;<hops>`. */
export const RELAY_RESULT_HEADER = 'x-sim-fwd-result'

export interface RelayResult {
  /** Time from the relay reaching the inspection PoP to its answer leaving, ms. */
  readonly innerMs: number
  /** Jitter drawn by the inspection PoP's waits (added to the request's deadline when it settles), ms. */
  readonly jitterMs: number
  /** The stable error code when the inspection PoP refused or failed the request. */
  readonly code?: string
  readonly hops: MeasuredHop[]
}

/** `planned`: the downstream hops of the signed plan, which the ingress knows too (see encodeHops). */
export function encodeRelayResult (innerMs: number, jitterMs: number, code: string | undefined, hops: readonly MeasuredHop[], planned?: readonly Hop[]): string {
  return `${reported(innerMs)};${jitterMs === 0 ? '0' : reported(jitterMs)};${code ?? ''};${encodeHops(hops, planned)}`
}

const NOTHING: RelayResult = { innerMs: 0, jitterMs: 0, hops: [] }

function finite (text: string): number {
  return fromReported(text) ?? 0
}

/**
 * Reads the report (`planned`: the downstream hops of the plan the relay was signed with); a missing or malformed one
 * reads as nothing reported (no time, no jitter, no hops).
 */
export function decodeRelayResult (text: string | string[] | undefined, planned?: readonly Hop[]): RelayResult {
  if (typeof text !== 'string') return NOTHING
  const a = text.indexOf(';')
  const b = text.indexOf(';', a + 1)
  const c = text.indexOf(';', b + 1)
  if (a < 0 || b < 0 || c < 0) return NOTHING
  const code = text.slice(b + 1, c)
  const hops = decodeHops(text.slice(c + 1), planned)
  const result = { innerMs: finite(text.slice(0, a)), jitterMs: finite(text.slice(a + 1, b)), hops }
  return code !== '' && /^[A-Z][A-Z0-9_]*$/.test(code) ? { ...result, code } : result
}
