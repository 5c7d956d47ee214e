// The shapes of the model: PoPs, regions, customers, the world the planner reads and the plan it returns.
// Everything here is plain data so that plans serialise to JSON as they are.

export interface LatLon {
  readonly lat: number
  readonly lon: number
}

/** A data centre. `index` is its position in `Topology.pops`, used for dense per-PoP arrays. */
export interface Pop extends LatLon {
  readonly id: string
  readonly index: number
  readonly city: string
  /** ISO 3166-1 alpha-2 */
  readonly country: string
  /** Two-letter US state (or territory) for US PoPs. */
  readonly usState?: string
  readonly continent: string
  /** Load-balancer region code: WNAM, ENAM, WEU, EEU, NSAM, SSAM, OC, ME, NAF, SAF, SAS, SEAS, NEAS. */
  readonly lbRegion: string
  readonly highestSecurity: boolean
  /** `china`: a partner-network PoP in mainland China, used only by customers who opt in. */
  readonly network: 'global' | 'china'
}

export interface Topology {
  readonly pops: readonly Pop[]
  readonly byId: ReadonlyMap<string, Pop>
}

export type RegionKind = 'country' | 'us-state' | 'group' | 'exclusion' | 'certification' | 'non-geographic' | 'custom'

/** A definition as written in data or configuration, before it is resolved against a topology. */
export interface RegionDefinition {
  readonly id: string
  readonly name: string
  readonly kind: RegionKind
  readonly countries?: readonly string[]
  readonly usStates?: readonly string[]
  readonly excludeCountries?: readonly string[]
  readonly pops?: readonly string[]
  readonly excludePops?: readonly string[]
  /** Set when the membership is not public and the PoP list is an assumption. */
  readonly assumption?: string
}

/** A region resolved against a topology: `members[pop.index] === 1` when the PoP is inside. */
export interface Region {
  readonly id: string
  readonly name: string
  readonly kind: RegionKind
  readonly popIds: readonly string[]
  readonly members: Uint8Array
  readonly assumption?: string
}

export type LogRegion = 'eu' | 'us'

export type KeyPolicy =
  | { readonly mode: 'everywhere' }
  /** Geo Key Manager: v1 `us` | `eu` | `highest_security`, or a v2 policy expression. */
  | { readonly mode: 'geo', readonly policy: string }
  /** Keyless SSL: the key stays on the customer's key server at `server`; `allow` optionally limits which PoPs may call it. */
  | { readonly mode: 'keyless', readonly server: string, readonly allow?: readonly string[] }

/** A customer's key policy compiled against a topology. */
export interface CompiledKeyPolicy {
  readonly source: KeyPolicy
  /** `allowed[pop.index] === 1` when the private key may be held and used at that PoP. */
  readonly allowed: Uint8Array
  /** For keyless: where the key server is. */
  readonly keyServer?: LatLon & { readonly id: string }
  /** For keyless: `callers[pop.index] === 1` when the PoP may ask the key server to sign (all ones without an allow list). */
  readonly callers?: Uint8Array
}

export type StrategyName = 'nearest' | 'least-total' | 'load-aware'

export interface Customer {
  readonly host: string
  readonly origin: LatLon & { readonly pop: string, readonly responseBytes: number, readonly serviceTimeMs: number }
  readonly region: Region | null
  readonly keys: CompiledKeyPolicy
  /** Customer Metadata Boundary; null means no boundary (logs go to the global core). */
  readonly logRegion: LogRegion | null
  readonly failover: 'closed' | 'open'
  readonly strategy: StrategyName
  /** Whether mainland-China partner PoPs may serve this customer. */
  readonly chinaNetwork: boolean
  /** Response header the inspection PoP adds to requests it sends to the origin. */
  readonly inspectionHeader?: { readonly name: string, readonly value: string }
}

export interface LatencyParams {
  /** Client last-mile round trip added to the client -> ingress hop. */
  readonly accessMs: number
  /** Per-hop processing time, added once per PoP a request passes. */
  readonly hopProcessingMs: number
  /** Jitter as a fraction of the modelled round trip (0 = none). */
  readonly jitter: number
}

/** Pure latency model: round trip between two points, and the precomputed PoP-to-PoP matrix. */
export interface LatencyModel {
  readonly params: LatencyParams
  rttMs(a: LatLon, b: LatLon): number
  /** Round trip between two PoPs by index (precomputed). */
  popRttMs(a: number, b: number): number
}

export interface SelectionContext {
  readonly world: World
  readonly customer: Customer
  readonly ingress: Pop
  /** Candidate PoPs: healthy and inside the region (and allowed for the China network). Never empty. */
  readonly candidates: readonly Pop[]
}

/** Chooses the inspection PoP among `candidates`. Must return one of them. */
export type SelectionStrategy = (ctx: SelectionContext) => Pop

/** What the world knows about health and load at planning time. */
export interface Health {
  /** `down[pop.index] === 1` when the PoP does not answer. */
  readonly down: Uint8Array
  /** Utilisation 0..1 per PoP, for the load-aware strategy. */
  readonly load: Float64Array
}

export interface World {
  readonly topology: Topology
  readonly regions: ReadonlyMap<string, Region>
  readonly customers: ReadonlyMap<string, Customer>
  readonly latency: LatencyModel
  readonly health: Health
  readonly strategies: Readonly<Record<StrategyName, SelectionStrategy>>
  /** Core data centres where shipped logs are stored. `global` is used without a boundary. */
  readonly logCores: Readonly<Record<LogRegion, string>>
  /** Finds the nearest healthy PoP to a point (anycast), honouring a down mask and the China network opt-in. */
  readonly anycast: AnycastIndex
  /** The log region a PoP's country belongs to (EU-27 -> eu, US -> us), if any. */
  logRegionOf(pop: Pop): LogRegion | undefined
}

export interface AnycastIndex {
  /** Nearest PoP to `at` whose `down` entry is 0, admitting China-network PoPs only when `allowChina`. */
  nearest(at: LatLon, down: Uint8Array, allowChina: boolean): Pop | undefined
}

export interface ClientLocation extends LatLon {
  /** ISO country when known. */
  readonly country?: string
  /** How it was given: an IP address, an IATA code, a city (a PoP's or one of regions/cities.json), or coordinates. */
  readonly source: 'ip' | 'iata' | 'city' | 'latlon'
  readonly input: string
}

export interface PlanRequest {
  readonly client: ClientLocation
  readonly host: string
  /** Extra PoPs to treat as down for this plan (on top of world.health). */
  readonly down?: readonly string[]
  /**
   * The same by index (`unavailable[pop.index] === 1`), for a set computed once and planned with often: the PoPs
   * outside a customer's key policy, for every request on a real TLS connection.
   */
  readonly unavailable?: Uint8Array
  /** A new TLS connection needs a key operation; a resumed one does not. Default true. */
  readonly newConnection?: boolean
  /** Forces the ingress (a client that sent its request straight to a PoP's own port). */
  readonly ingress?: string
}

export type HopKind = 'access' | 'relay' | 'origin' | 'key'

export interface Hop {
  readonly from: string
  readonly to: string
  readonly kind: HopKind
  readonly rttMs: number
}

export type KeyOperation = 'local' | 'remote' | 'keyless' | 'none'

export type DataCategory = 'ciphertext' | 'plaintext' | 'key-operation' | 'logs' | 'security-telemetry'
/**
 * The network's role in a step (GDPR article 4): controller of its own security data, processor of the customer's;
 * none where the customer's own system does the step (a keyless key server signing), the network only asking for it.
 */
export type DataRole = 'controller' | 'processor' | 'none'

export interface LedgerEntry {
  readonly category: DataCategory
  /** What happened: relayed, inspected, signed, stored. */
  readonly action: 'relayed' | 'inspected' | 'signed' | 'stored' | 'observed'
  /** PoP id or log core id. */
  readonly at: string
  readonly country: string
  /** The network's role for this data (CNIL): processor for customer traffic, controller for its own telemetry, none for a step of the customer's own system. */
  readonly networkRole: DataRole
  /** Whether this step respected the customer's policy. */
  readonly compliant: boolean
}

export interface TlsPlan {
  /** Where TLS terminates (the inspection PoP). */
  readonly at: string
  readonly key: KeyOperation
  /** Who signs when the key is not local: a PoP id, or `keyless:<server>`. */
  readonly signer?: string
}

interface PlanBase {
  readonly host: string
  readonly client: { readonly lat: number, readonly lon: number, readonly country?: string, readonly input: string }
}

export interface ServedPlan extends PlanBase {
  readonly outcome: 'served'
  readonly ingress: string
  readonly inspection: string
  readonly tls: TlsPlan
  readonly origin: string
  readonly logRegion: LogRegion | 'global'
  readonly logSink: string
  readonly hops: readonly Hop[]
  /** Modelled total round trip seen by the client, including per-hop processing and origin service time. */
  readonly modelledMs: number
  /** The same request without data localisation (inspected at the ingress, key used locally, logs to the global core). */
  readonly baselineMs: number
  readonly addedMs: number
  readonly ledger: readonly LedgerEntry[]
  /** Policy breaks (only with failover: open). Empty when compliant. */
  readonly violations: readonly string[]
}

export interface RefusedPlan extends PlanBase {
  readonly outcome: 'refused'
  readonly code: string
  readonly status: number
  readonly reason: string
  readonly ingress?: string
  readonly ledger: readonly LedgerEntry[]
}

export type Plan = ServedPlan | RefusedPlan

/** Locates an IP address (implemented with geoip-lite outside the core). */
export interface IpLocator {
  lookup(ip: string): { readonly lat: number, readonly lon: number, readonly country: string } | undefined
}
