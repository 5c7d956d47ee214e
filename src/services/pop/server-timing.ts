// Server-Timing response header (https://www.w3.org/TR/server-timing/): one metric per hop, named by the hop kind,
// its description naming the two ends ("SYD->FRA") and its measured duration in ms.
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
