// W3C Trace Context (https://www.w3.org/TR/trace-context/): continue the caller's trace or start one, with a new
// parent-id (span) for each PoP that processes the request.
import { randomHex } from '../../net/ids.ts'

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export interface TraceContext {
  readonly traceId: string
  readonly flags: string
}

/** Parses a traceparent (section 3.2); version ff and all-zero ids are invalid and start a new trace. */
export function parseTraceparent (value: string | string[] | undefined): TraceContext | undefined {
  if (typeof value !== 'string') return undefined
  const m = TRACEPARENT.exec(value.trim().toLowerCase())
  if (!m) return undefined
  const [, version, traceId, parentId, flags] = m as unknown as [string, string, string, string, string]
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined
  return { traceId, flags }
}

export function newTrace (): TraceContext {
  // Sampled flag set: the simulator records every request.
  return { traceId: randomHex(16), flags: '01' }
}

/** The traceparent a PoP sends downstream (and returns): same trace, its own span id. */
export function childTraceparent (ctx: TraceContext): string {
  return `00-${ctx.traceId}-${randomHex(8)}-${ctx.flags}`
}
