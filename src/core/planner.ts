// The planner: plan(request, world) -> the whole route of one request, or a refusal with its reason. Pure and
// allocation-light: the what-if commands run it millions of times, the live simulation once per request.
import { ERRORS, formatMessage, type ErrorCode } from './errors.ts'
import { keyDecision } from './key-policy.ts'
import { originRttFrom } from './strategies.ts'
import type {
  Customer, Hop, LedgerEntry, LogRegion, Plan, PlanRequest, Pop, RefusedPlan, Region, ServedPlan, TlsPlan, World
} from './types.ts'

/** Host header value -> customer key: lowercase, without port or trailing dot (RFC 9110 section 7.2). */
export function normaliseHost (host: string): string {
  let h = host.trim().toLowerCase()
  if (h.startsWith('[')) return h // IPv6 literal: no customer is configured on one
  const colon = h.indexOf(':')
  if (colon !== -1) h = h.slice(0, colon)
  if (h.endsWith('.')) h = h.slice(0, -1)
  return h
}

function clientOf (req: PlanRequest): Plan['client'] {
  const c = req.client
  return c.country === undefined
    ? { lat: c.lat, lon: c.lon, input: c.input }
    : { lat: c.lat, lon: c.lon, country: c.country, input: c.input }
}

function refuse (req: PlanRequest, host: string, code: ErrorCode, args: unknown[], ingress?: Pop, ledger: LedgerEntry[] = []): RefusedPlan {
  const plan: RefusedPlan = {
    outcome: 'refused',
    host,
    client: clientOf(req),
    code,
    status: ERRORS[code].status,
    reason: formatMessage(code, args),
    ledger,
    ...(ingress ? { ingress: ingress.id } : {})
  }
  return plan
}

/** The down mask for this plan: the world's, plus the request's own extra failures. */
function downMask (req: PlanRequest, world: World): Uint8Array | string {
  const base = world.health.down
  const extra = req.unavailable
  if ((!req.down || req.down.length === 0) && extra === undefined) return base
  const mask = base.slice()
  if (extra !== undefined) for (let i = 0; i < mask.length; i++) if (extra[i] === 1) mask[i] = 1
  for (const id of req.down ?? []) {
    const pop = world.topology.byId.get(id)
    if (!pop) return id
    mask[pop.index] = 1
  }
  return mask
}

function telemetry (ingress: Pop): LedgerEntry {
  // L3/L4 DDoS mitigation at the ingress is the network's own security processing ("security of the cloud"): the
  // network is controller of that telemetry (CNIL, cloud computing guidance), and it sees no plaintext.
  return { category: 'security-telemetry', action: 'observed', at: ingress.id, country: ingress.country, networkRole: 'controller', compliant: true }
}

/** Log core PoP for a customer's log region; without a boundary logs go to the global core (in the US). */
function logTarget (world: World, customer: Customer): { region: LogRegion | 'global', sink: string } {
  if (customer.logRegion) return { region: customer.logRegion, sink: world.logCores[customer.logRegion] }
  return { region: 'global', sink: world.logCores.us }
}

function inRegion (customer: Customer, pop: Pop): boolean {
  return customer.region === null || customer.region.members[pop.index] === 1
}

// A region's member PoPs as objects, resolved once per region (the hot path must not look ids up per plan).
const regionPops = new WeakMap<Region, readonly Pop[]>()

function membersOf (world: World, region: Region): readonly Pop[] {
  let pops = regionPops.get(region)
  if (!pops) {
    pops = region.popIds.map((id) => world.topology.byId.get(id) as Pop)
    regionPops.set(region, pops)
  }
  return pops
}

/** Picks the inspection PoP, or undefined when no healthy PoP of the region can take the request. */
function chooseInspection (world: World, customer: Customer, ingress: Pop, down: Uint8Array): Pop | undefined {
  const region = customer.region
  if (region === null || region.members[ingress.index] === 1) return ingress
  const candidates: Pop[] = []
  for (const pop of membersOf(world, region)) {
    if (down[pop.index] === 1) continue
    if (pop.network === 'china' && !customer.chinaNetwork) continue
    candidates.push(pop)
  }
  if (candidates.length === 0) return undefined
  return world.strategies[customer.strategy]({ world, customer, ingress, candidates })
}

/**
 * A host no customer has is still traffic to the network's addresses: it reaches the anycast ingress nearest the
 * client (on the global network), which observes it for DDoS protection (the network's own security telemetry) and
 * refuses it there. Without a usable down list or ingress, it is refused with no ingress.
 */
function unknownHost (req: PlanRequest, host: string, world: World): RefusedPlan {
  const down = downMask(req, world)
  const ingress = typeof down === 'string'
    ? undefined
    : req.ingress !== undefined ? world.topology.byId.get(req.ingress) : world.anycast.nearest(req.client, down, false)
  return refuse(req, host, 'SIM_ERR_HOST_UNKNOWN', [host], ingress, ingress === undefined ? [] : [telemetry(ingress)])
}

export function plan (req: PlanRequest, world: World): Plan {
  const host = normaliseHost(req.host)
  const customer = world.customers.get(host)
  if (!customer) return unknownHost(req, host, world)
  const down = downMask(req, world)
  if (typeof down === 'string') return refuse(req, host, 'SIM_ERR_POP_UNKNOWN', [down])
  const { latency, topology } = world

  let ingress: Pop | undefined
  if (req.ingress !== undefined) {
    ingress = topology.byId.get(req.ingress)
    if (!ingress) return refuse(req, host, 'SIM_ERR_POP_UNKNOWN', [req.ingress])
  } else {
    ingress = world.anycast.nearest(req.client, down, customer.chinaNetwork)
    if (!ingress) return refuse(req, host, 'SIM_ERR_NO_HEALTHY_POP', [])
  }

  const ledger: LedgerEntry[] = [telemetry(ingress)]
  const violations: string[] = []
  let inspection = chooseInspection(world, customer, ingress, down)
  if (!inspection) {
    const regionId = customer.region?.id ?? ''
    if (customer.failover === 'closed') {
      return refuse(req, host, 'SIM_ERR_REGION_UNAVAILABLE', [regionId, host], ingress, ledger)
    }
    // failover: open. Processed at the ingress, outside the region, and recorded as a violation.
    inspection = ingress
    violations.push(`plaintext inspected at ${ingress.id} (${ingress.country}), outside region ${regionId}: no healthy in-region PoP (failover open)`)
  }

  const hops: Hop[] = [{ from: 'client', to: ingress.id, kind: 'access', rttMs: round3(latency.rttMs(req.client, ingress) + latency.params.accessMs) }]
  if (inspection !== ingress) {
    hops.push({ from: ingress.id, to: inspection.id, kind: 'relay', rttMs: round3(latency.popRttMs(ingress.index, inspection.index)) })
    ledger.push({ category: 'ciphertext', action: 'relayed', at: ingress.id, country: ingress.country, networkRole: 'processor', compliant: true })
  }
  const inspectedInRegion = inRegion(customer, inspection)
  ledger.push({ category: 'plaintext', action: 'inspected', at: inspection.id, country: inspection.country, networkRole: 'processor', compliant: inspectedInRegion })

  let tls: TlsPlan
  if (req.newConnection === false) {
    // Session resumption: no private-key operation (RFC 8446 section 2.2).
    tls = { at: inspection.id, key: 'none' }
  } else {
    const d = keyDecision(inspection.index, customer.keys, world, down)
    if (d.op === 'refused') return refuse(req, host, d.code, [host], ingress, ledger)
    if (d.op === 'local') {
      tls = { at: inspection.id, key: 'local' }
      ledger.push({ category: 'key-operation', action: 'signed', at: inspection.id, country: inspection.country, networkRole: 'processor', compliant: true })
    } else if (d.op === 'remote') {
      tls = { at: inspection.id, key: 'remote', signer: d.signer.id }
      hops.push({ from: inspection.id, to: d.signer.id, kind: 'key', rttMs: round3(d.rttMs) })
      ledger.push({ category: 'key-operation', action: 'signed', at: d.signer.id, country: d.signer.country, networkRole: 'processor', compliant: true })
    } else {
      const signer = `keyless:${d.server.id}`
      tls = { at: inspection.id, key: 'keyless', signer }
      hops.push({ from: inspection.id, to: signer, kind: 'key', rttMs: round3(d.rttMs) })
      // The key server is the customer's own: the customer signs, as controller of its key; the network only asks.
      ledger.push({ category: 'key-operation', action: 'signed', at: signer, country: topology.byId.get(d.server.id)?.country ?? 'unknown', networkRole: 'none', compliant: true })
    }
  }

  const originRtt = originRttFrom(world, customer, inspection.index)
  hops.push({ from: inspection.id, to: `origin:${customer.host}`, kind: 'origin', rttMs: round3(originRtt) })

  const logs = logTarget(world, customer)
  const sinkPop = topology.byId.get(logs.sink) as Pop
  const logsCompliant = customer.logRegion === null || world.logRegionOf(sinkPop) === customer.logRegion
  ledger.push({ category: 'logs', action: 'stored', at: logs.sink, country: sinkPop.country, networkRole: 'processor', compliant: logsCompliant })
  if (!logsCompliant) violations.push(`logs stored at ${logs.sink}, outside log region ${customer.logRegion ?? ''}`)

  const proc = latency.params.hopProcessingMs
  const service = customer.origin.serviceTimeMs
  let modelled = service + proc * (inspection === ingress ? 1 : 2)
  for (const h of hops) modelled += h.rttMs
  // Without data localisation: inspected at the ingress with a local key, no relay.
  const access = hops[0] as Hop
  const baseline = access.rttMs + round3(originRttFrom(world, customer, ingress.index)) + proc + service

  const served: ServedPlan = {
    outcome: 'served',
    host,
    client: clientOf(req),
    ingress: ingress.id,
    inspection: inspection.id,
    tls,
    origin: customer.origin.pop,
    logRegion: logs.region,
    logSink: logs.sink,
    hops,
    modelledMs: round3(modelled),
    baselineMs: round3(baseline),
    addedMs: round3(modelled - baseline) + 0, // + 0 turns -0 into 0
    ledger,
    violations
  }
  return served
}

function round3 (x: number): number {
  return Math.round(x * 1000) / 1000
}
