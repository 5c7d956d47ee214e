// Prometheus metrics of the live simulation, fed by the runtime's request records. Each control app owns its own
// Registry (not prom-client's global one) so that several simulations, or tests, in one process never share series.
import { Gauge, Registry } from 'prom-client'
import type { World } from '../../core/types.ts'
import type { RequestRecord } from '../records.ts'
import { CellCounter, type CounterCell } from './counter.ts'
import { CellHistogram, type HistogramCell } from './histogram.ts'

/** How a request ended, as a bounded label value. */
export type RequestOutcome = 'served' | 'rejected' | 'refused' | 'error' | 'abandoned'

export interface ControlMetrics {
  readonly registry: Registry
  /** Counts one completed (or refused) request. */
  observe(record: RequestRecord): void
  /** Prometheus text exposition format. */
  render(): Promise<string>
  readonly contentType: string
}

// Hop round trips run from well under a millisecond (latency off, same PoP) to a few hundred ms (antipodes), more
// with slow time scales. Seconds, the Prometheus base unit: https://prometheus.io/docs/practices/naming/#base-units
const HOP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5]
const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5, 10]
// From the 1 ms tolerance up to the seconds of a simulation that has fallen far behind.
const LATENESS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

export function outcomeOf (record: RequestRecord): RequestOutcome {
  // The client left before the answer: whatever the plan, nothing was answered.
  if (record.code === 'SIM_ERR_CLIENT_CLOSED') return 'abandoned'
  if (record.plan.outcome === 'refused') return 'refused'
  if (record.status >= 500) return 'error'
  // A served plan answered 4xx: the inspection PoP blocked it (WAF) or a limit rejected it.
  if (record.status >= 400) return 'rejected'
  return 'served'
}

/** `world` is read at scrape time: the runtime updates health in place or replaces the world. */
export function createControlMetrics (world: () => World): ControlMetrics {
  const registry = new Registry()

  // Counted and observed several times per request: counters and histograms whose cells are looked up once (counter.ts,
  // histogram.ts).
  const requests = new CellCounter({
    name: 'rsim_requests_total',
    help: 'Client requests seen by a PoP, by the role it played (ingress: anycast entry; inspection: TLS terminated and inspected) and outcome.',
    labelNames: ['pop', 'role', 'outcome'],
    registers: [registry]
  })
  const hops = new CellHistogram({
    name: 'rsim_hop_duration_seconds',
    help: 'Measured round trip of each hop of live requests (access: client to ingress; relay: ingress to inspection; origin; key: remote signer).',
    labelName: 'kind',
    buckets: HOP_BUCKETS,
    registers: [registry]
  })
  const duration = new CellHistogram({
    name: 'rsim_request_duration_seconds',
    help: 'Measured total time of client requests, by outcome.',
    labelName: 'outcome',
    buckets: REQUEST_BUCKETS,
    registers: [registry]
  })
  const violations = new CellCounter({
    name: 'rsim_residency_violations_total',
    help: 'Requests served in breach of the customer\'s residency policy (only customers with failover: open), by host.',
    labelNames: ['host'],
    registers: [registry]
  })
  const settled = new CellCounter({
    name: 'rsim_settled_responses_total',
    help: 'Responses held to their modelled time (latency on, served along the whole plan), by whether they left on time or late (more than 1 ms and 5% after it: the machine could not keep up).',
    labelNames: ['timing'],
    registers: [registry]
  })
  const lateness = new CellHistogram({
    name: 'rsim_response_lateness_seconds',
    help: 'How long after its modelled time each settled response left the ingress (0 when on time).',
    buckets: LATENESS_BUCKETS,
    registers: [registry]
  }).cell()
  new Gauge({
    name: 'rsim_pops_down',
    help: 'PoPs currently down (not answering).',
    registers: [registry],
    // Computed on scrape from the world's health, so it can never drift from what the planner sees.
    collect () {
      let n = 0
      for (const d of world().health.down) n += d
      this.set(n)
    }
  })
  new Gauge({
    name: 'rsim_pops',
    help: 'PoPs in the topology.',
    registers: [registry],
    collect () { this.set(world().topology.pops.length) }
  })

  // Request counts by role, PoP and outcome, the outcomes a handful of values each.
  const requestCells = { ingress: new Map<string, Partial<Record<RequestOutcome, CounterCell>>>(), inspection: new Map<string, Partial<Record<RequestOutcome, CounterCell>>>() }
  function countRequest (pop: string, role: 'ingress' | 'inspection', outcome: RequestOutcome): void {
    const byPop = requestCells[role]
    let cells = byPop.get(pop)
    if (cells === undefined) byPop.set(pop, cells = {})
    ;(cells[outcome] ??= requests.cell(pop, role, outcome)).inc()
  }
  const settledCells: Partial<Record<'late' | 'on_time', CounterCell>> = {}
  // Hop kinds and outcomes are a handful of values each.
  const hopCells: Partial<Record<string, HistogramCell>> = {}
  const durationCells: Partial<Record<RequestOutcome, HistogramCell>> = {}

  return {
    registry,
    contentType: registry.contentType,
    observe (record) {
      const outcome = outcomeOf(record)
      const plan = record.plan
      if (plan.ingress !== undefined) countRequest(plan.ingress, 'ingress', outcome)
      if (plan.outcome === 'served') {
        countRequest(plan.inspection, 'inspection', outcome)
        if (plan.violations.length > 0) violations.cell(record.host).inc()
      }
      for (const hop of record.hops) (hopCells[hop.kind] ??= hops.cell(hop.kind)).observe(hop.measuredMs / 1000)
      ;(durationCells[outcome] ??= duration.cell(outcome)).observe(record.measuredMs / 1000)
      const settle = record.settle
      if (settle !== undefined) {
        const timing = settle.late ? 'late' : 'on_time'
        ;(settledCells[timing] ??= settled.cell(timing)).inc()
        lateness.observe(settle.lateMs / 1000)
      }
    },
    render () {
      return registry.metrics()
    }
  }
}
