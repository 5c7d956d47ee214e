// Server-Timing response header (https://www.w3.org/TR/server-timing/): one metric per hop, named by the hop kind,
// its description naming the two ends ("SYD->FRA") and its measured duration in ms. Also the inspection PoP's report
// to its ingress on a relay's answer (its own time, the jitter it drew, its error code and its hops), on one internal
// header that the ingress strips.
import type { MeasuredHop } from '../../runtime/types.ts'

function quoted (s: string): string {
  // A quoted-string (RFC 9110 section 5.6.4): escape backslash and double quote.
  return s.includes('"') || s.includes('\\') ? `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"` : `"${s}"`
}

export function serverTiming (hops: readonly MeasuredHop[]): string {
  return hops.map((h) => `${h.kind};desc=${quoted(`${h.from}->${h.to}`)};dur=${h.measuredMs.toFixed(2)}`).join(', ')
}

/** Hop timings sent from an inspection PoP back to its ingress on an internal header: compact, no request data. */
export function encodeHops (hops: readonly MeasuredHop[]): string {
  return JSON.stringify(hops.map((h) => [h.kind, h.from, h.to, h.modelledMs, Math.round(h.measuredMs * 1000) / 1000]))
}

export function decodeHops (text: string | string[] | undefined): MeasuredHop[] {
  if (typeof text !== 'string') return []
  try {
    const rows = JSON.parse(text) as [MeasuredHop['kind'], string, string, number, number][]
    return rows.map(([kind, from, to, modelledMs, measuredMs]) => ({ kind, from, to, modelledMs, measuredMs }))
  } catch {
    return []
  }
}

/** The inspection PoP's report on a relay's answer: `<inner ms>;<jitter ms>;<error code or empty>;<hops>`. */
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

export function encodeRelayResult (innerMs: number, jitterMs: number, code: string | undefined, hops: readonly MeasuredHop[]): string {
  return `${innerMs.toFixed(3)};${jitterMs === 0 ? '0' : jitterMs.toFixed(3)};${code ?? ''};${encodeHops(hops)}`
}

const NOTHING: RelayResult = { innerMs: 0, jitterMs: 0, hops: [] }

function finite (text: string): number {
  const n = Number(text)
  return text !== '' && Number.isFinite(n) ? n : 0
}

/** Reads the report; a missing or malformed one reads as nothing reported (no time, no jitter, no hops). */
export function decodeRelayResult (text: string | string[] | undefined): RelayResult {
  if (typeof text !== 'string') return NOTHING
  const a = text.indexOf(';')
  const b = text.indexOf(';', a + 1)
  const c = text.indexOf(';', b + 1)
  if (a < 0 || b < 0 || c < 0) return NOTHING
  const code = text.slice(b + 1, c)
  const hops = decodeHops(text.slice(c + 1))
  const result = { innerMs: finite(text.slice(0, a)), jitterMs: finite(text.slice(a + 1, b)), hops }
  return /^[A-Z][A-Z0-9_]*$/.test(code) ? { ...result, code } : result
}
