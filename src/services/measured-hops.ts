// Measured hops against the planned ones. A request that went as planned measured exactly its plan's hops, in the
// plan's order: whoever knows the plan (the ingress reading its inspection PoP's report, the ledger writing a record
// out) needs only their measured times.
import type { Hop } from '../core/types.ts'
import type { MeasuredHop } from './records.ts'

/** Whether measured hops are exactly the planned ones (same order, ends, kind and modelled time). */
export function asPlanned (hops: readonly MeasuredHop[], planned: readonly Hop[]): boolean {
  if (hops.length !== planned.length) return false
  for (let i = 0; i < hops.length; i++) {
    const h = hops[i] as MeasuredHop
    const p = planned[i] as Hop
    if (h.kind !== p.kind || h.from !== p.from || h.to !== p.to || h.modelledMs !== p.rttMs) return false
  }
  return true
}
