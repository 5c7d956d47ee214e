// The scenario schema (TypeBox): what a configuration file may say, its defaults and units, plus small schemas the
// services reuse as Fastify route schemas. One source for validation, the editor JSON Schema and the docs.
import { Type } from '@sinclair/typebox'
import type { Static, TSchema } from '@sinclair/typebox'

/** The largest time scale (latency.timeScale, `rsim start --time-scale`): beyond it a modelled wait outgrows what a timer holds. */
export const MAX_TIME_SCALE = 1000

/** Every object is closed: a misspelt field is an error, never silently ignored (STYLE.md, "Configuration"). */
const closed = { additionalProperties: false } as const

// Upper bounds on sizes, counts and times: a value past them passes no useful scenario and fails at start-up
// (an array or string too long to allocate, a timer past 2^31 - 1 ms, which Node turns into 1 ms:
// https://nodejs.org/api/timers.html#settimeoutcallback-delay-args).
/** Modelled delays: a minute is far beyond any round trip on Earth. */
const MAX_DELAY_MS = 60_000
/** Timeouts and windows: an hour. */
const MAX_TIMEOUT_MS = 3_600_000
/** The origin builds each response body as one string. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024
const MAX_BODY_LIMIT_BYTES = 1024 * 1024 * 1024
const MAX_HEADER_LIMIT_BYTES = 1024 * 1024
/** Held in memory by the control plane; the log sinks keep ten times as many records. */
const MAX_LEDGER_SIZE = 100_000

// Human wording for the patterns below: TypeBox would otherwise print the raw regular expression.
const POP_ID_PATTERN = '^[A-Z]{3}$'
const REGION_ID_PATTERN = '^[a-z0-9][a-z0-9-]*$'
const COUNTRY_PATTERN = '^[A-Z]{2}$'
const HEADER_NAME_PATTERN = '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$'
// RFC 1123 labels, lowercase only: the Host header is matched case-insensitively, so configuration stores one spelling.
// (Length, 1..253, is minLength and maxLength.)
export const HOSTNAME_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$'

/** What a pattern means, for error messages. Keyed by the pattern string. */
export const PATTERN_HINTS: Readonly<Record<string, string>> = {
  [POP_ID_PATTERN]: 'a PoP IATA code: three capital letters such as FRA',
  [REGION_ID_PATTERN]: 'a region id: lowercase letters, digits and dashes such as eu or us-ca',
  [COUNTRY_PATTERN]: 'an ISO 3166-1 alpha-2 code: two capital letters such as DE',
  [HEADER_NAME_PATTERN]: 'an HTTP header name (RFC 9110 token characters)',
  [HOSTNAME_PATTERN]: 'a lowercase hostname: dot-separated labels of letters, digits and inner dashes such as eu-shop.example'
}

export const PopIdSchema = Type.String({
  pattern: POP_ID_PATTERN,
  description: 'PoP id: the IATA code of the data centre (see regions/pops.json).',
  examples: ['FRA', 'IAD']
})

export const RegionIdSchema = Type.String({
  pattern: REGION_ID_PATTERN,
  description: 'Region id from the catalogue in regions/regions.json or from `regions` in the scenario.',
  examples: ['eu', 'us', 'de']
})

export const CountryCodeSchema = Type.String({ pattern: COUNTRY_PATTERN, description: 'ISO 3166-1 alpha-2 country code.' })

export const HostnameSchema = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: HOSTNAME_PATTERN,
  description: 'Lowercase DNS hostname of a customer zone (what the Host header / SNI carries).',
  examples: ['eu-shop.example']
})

export const StrategySchema = Type.Union([
  Type.Literal('nearest'),
  Type.Literal('least-total'),
  Type.Literal('load-aware')
], { description: 'How the inspection PoP is chosen inside a region: nearest to the ingress, least total path via the origin, or load-aware.' })

export const LogRegionSchema = Type.Union([Type.Literal('eu'), Type.Literal('us')], {
  description: 'Customer Metadata Boundary: the core that stores request logs.'
})

/** `{ error: { code, message, ray? } }`: the one JSON shape of every HTTP error (STYLE.md, "Errors"). */
export const ErrorResponseSchema = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'Stable error code, SIM_ERR_<AREA>_<WHAT>; match on it, never on the message.' }),
    message: Type.String({ description: 'Human-readable explanation.' }),
    ray: Type.Optional(Type.String({ description: 'Ray id of the request, `<16 hex>-<INGRESS>`.' }))
  }, closed)
}, { ...closed, description: 'Error response body.' })

export const LatencySchema = Type.Object({
  enabled: Type.Boolean({ default: true, description: 'Model propagation delay. false: no modelled delay, to measure pure software overhead.' }),
  timeScale: Type.Number({ default: 1, exclusiveMinimum: 0, maximum: MAX_TIME_SCALE, description: `Multiplies every modelled delay (0.1 runs a demo ten times faster). Greater than 0, at most ${MAX_TIME_SCALE}.` }),
  accessMs: Type.Number({ default: 5, minimum: 0, maximum: MAX_DELAY_MS, description: 'Client last-mile round trip in milliseconds, added to the client -> ingress hop. At most 60000.' }),
  hopProcessingMs: Type.Number({ default: 0.25, minimum: 0, maximum: MAX_DELAY_MS, description: 'Processing time in milliseconds added once per PoP a request passes. At most 60000.' }),
  jitter: Type.Number({ default: 0, minimum: 0, maximum: 1, description: 'Random variation of each hop\'s round trip, uniform within plus or minus this fraction of it, 0..1 (seeded, reproducible).' }),
  seed: Type.Integer({ default: 1, minimum: 0, maximum: 4294967295, description: 'Seed of the jitter generator, a 32-bit unsigned integer.' })
}, { ...closed, default: {}, description: 'The latency model.' })

export const LogCoresSchema = Type.Object({
  eu: { ...PopIdSchema, default: 'FRA', description: 'Core data centre that stores logs of customers with an EU log boundary.' },
  us: { ...PopIdSchema, default: 'IAD', description: 'Core data centre that stores logs of customers with a US log boundary, and of customers without a boundary (global core).' }
}, { ...closed, default: {}, description: 'Core data centres storing shipped logs, per log region.' })

export const NetworkSchema = Type.Object({
  pops: Type.Union([
    Type.Literal('all'),
    Type.Array(PopIdSchema, { minItems: 1, uniqueItems: true })
  ], { default: 'all', description: '`all`, or the list of PoP ids to run (a smaller world: faster start, fewer sockets).' }),
  defaultClient: Type.String({
    default: 'LHR',
    minLength: 1,
    description: 'Where a request with no client location comes from: a PoP IATA code, a PoP\'s city, `lat,lon` or an IP address.'
  }),
  strategy: { ...StrategySchema, default: 'nearest', description: 'Default inspection PoP selection strategy; a customer may override it.' },
  logCores: LogCoresSchema
}, { ...closed, default: {}, description: 'The simulated network.' })

export const RegionDefinitionSchema = Type.Object({
  id: { ...RegionIdSchema, description: 'Id customers refer to; must not clash with a catalogue region.' },
  name: Type.String({ minLength: 1, description: 'Display name.' }),
  countries: Type.Optional(Type.Array(CountryCodeSchema, { uniqueItems: true, description: 'PoPs in these countries are inside.' })),
  usStates: Type.Optional(Type.Array(Type.String({ pattern: COUNTRY_PATTERN }), { uniqueItems: true, description: 'US PoPs in these two-letter states are inside.' })),
  excludeCountries: Type.Optional(Type.Array(CountryCodeSchema, { uniqueItems: true, description: 'PoPs in these countries are outside, whatever else says.' })),
  pops: Type.Optional(Type.Array(PopIdSchema, { uniqueItems: true, description: 'These PoPs are inside.' })),
  excludePops: Type.Optional(Type.Array(PopIdSchema, { uniqueItems: true, description: 'These PoPs are outside, whatever else says.' }))
}, { ...closed, description: 'A custom region, added to the catalogue of regions/regions.json.' })

export const KeysEverywhereSchema = Type.Object({
  mode: Type.Literal('everywhere', { description: 'The private key may be held at every PoP.' })
}, { ...closed, description: 'Keys everywhere (the default).' })

export const KeysGeoSchema = Type.Object({
  mode: Type.Literal('geo', { description: 'Geo Key Manager.' }),
  policy: Type.String({
    minLength: 1,
    description: 'v1 `us`, `eu` or `highest_security`, or a v2 policy expression such as `(region: EU) and (not country: FR)`.'
  })
}, { ...closed, description: 'Geo Key Manager: the key is held only at PoPs the policy admits.' })

export const KeysKeylessSchema = Type.Object({
  mode: Type.Literal('keyless', { description: 'Keyless SSL.' }),
  server: { ...PopIdSchema, description: 'Location (PoP id) of the customer\'s key server; the key never leaves it.' },
  allow: Type.Optional(Type.Array(PopIdSchema, { minItems: 1, uniqueItems: true, description: 'Only these PoPs may ask the key server to sign (default: any).' }))
}, { ...closed, description: 'Keyless SSL: a key server operated by the customer signs each handshake.' })

export const KeysSchema = Type.Union([KeysEverywhereSchema, KeysGeoSchema, KeysKeylessSchema], {
  default: { mode: 'everywhere' },
  description: 'Where the TLS private key may be used.'
})

export const OriginSchema = Type.Object({
  pop: { ...PopIdSchema, description: 'Location of the origin server, given as the PoP id of the nearest city.' },
  responseBytes: Type.Integer({ default: 1024, minimum: 0, maximum: MAX_RESPONSE_BYTES, description: 'Size of the origin\'s response body in bytes, at most 16777216 (16 MiB).' }),
  serviceTimeMs: Type.Number({ default: 1, minimum: 0, maximum: MAX_DELAY_MS, description: 'Time in milliseconds the origin takes to answer, at most 60000.' })
}, { ...closed, description: 'The simulated origin server.' })

export const InspectionSchema = Type.Object({
  header: Type.Object({
    name: Type.String({ pattern: HEADER_NAME_PATTERN, description: 'Header name.' }),
    value: Type.String({ description: 'Header value.' })
  }, { ...closed, description: 'A header the inspection PoP adds to requests it sends to the origin (lets the origin check where inspection happened).' })
}, { ...closed, description: 'What the inspection PoP does to requests.' })

export const CustomerSchema = Type.Object({
  host: HostnameSchema,
  region: Type.Union([RegionIdSchema, Type.Null()], { default: null, description: 'Processing region (Regional Services): where TLS is terminated and traffic inspected. null: none.' }),
  keys: KeysSchema,
  logRegion: Type.Union([LogRegionSchema, Type.Null()], { default: null, description: 'Customer Metadata Boundary: `eu` or `us`; null: no boundary (logs go to the global core).' }),
  failover: Type.Union([Type.Literal('closed'), Type.Literal('open')], {
    default: 'closed',
    description: 'With no healthy PoP in the region: `closed` refuses the request; `open` processes it elsewhere and records a residency violation.'
  }),
  strategy: Type.Optional({ ...StrategySchema, description: 'Overrides network.strategy for this customer.' }),
  chinaNetwork: Type.Boolean({ default: false, description: 'Whether mainland-China partner PoPs may serve this customer.' }),
  origin: OriginSchema,
  inspection: Type.Optional(InspectionSchema)
}, { ...closed, description: 'A customer zone.' })

export const ServerSchema = Type.Object({
  host: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Address every listener binds to.' }),
  edgePort: Type.Integer({ default: 8080, minimum: 0, maximum: 65535, description: 'Port of the anycast edge (client requests). 0: ephemeral.' }),
  controlPort: Type.Integer({ default: 8081, minimum: 0, maximum: 65535, description: 'Port of the control plane (API and web page). 0: ephemeral.' }),
  tlsPort: Type.Integer({ default: 8443, minimum: 0, maximum: 65535, description: 'Port of the real TLS edge that `rsim start` runs (SNI routing, TLS terminated in the region). 0: ephemeral.' }),
  popBasePort: Type.Integer({ default: 0, minimum: 0, maximum: 65535, description: '0: ephemeral ports for PoPs; else PoP number i listens on popBasePort + i.' }),
  bodyLimitBytes: Type.Integer({ default: 1048576, minimum: 0, maximum: MAX_BODY_LIMIT_BYTES, description: 'Largest accepted request body in bytes, at most 1073741824 (1 GiB).' }),
  headerLimitBytes: Type.Integer({ default: 16384, minimum: 1024, maximum: MAX_HEADER_LIMIT_BYTES, description: 'Largest accepted request header block in bytes, 1024..1048576.' }),
  upstreamTimeoutMs: Type.Integer({ default: 10000, minimum: 1, maximum: MAX_TIMEOUT_MS, description: 'How long a PoP waits for the next hop or the origin, in milliseconds, at most 3600000 (an hour).' }),
  keepAliveTimeoutMs: Type.Integer({ default: 10000, minimum: 1, maximum: MAX_TIMEOUT_MS, description: 'Idle time in milliseconds before a kept-alive connection is closed, at most 3600000 (an hour).' }),
  signatureWindowMs: Type.Integer({ default: 30000, minimum: 1, maximum: MAX_TIMEOUT_MS, description: 'Accepted age in milliseconds of a signed forwarding header (replay window), at most 3600000 (an hour).' }),
  ledgerSize: Type.Integer({ default: 1000, minimum: 1, maximum: MAX_LEDGER_SIZE, description: 'Number of recent requests the control plane keeps (the log sinks keep ten times as many), at most 100000.' })
}, { ...closed, default: {}, description: 'Listeners and limits.' })

export const LogLevelSchema = Type.Union([
  Type.Literal('fatal'),
  Type.Literal('error'),
  Type.Literal('warn'),
  Type.Literal('info'),
  Type.Literal('debug'),
  Type.Literal('trace'),
  Type.Literal('silent')
], { default: 'info', description: 'Lowest pino level written.' })

export const LoggingSchema = Type.Object({
  level: LogLevelSchema
}, { ...closed, default: {}, description: 'Process logs.' })

export const ScenarioSchema = Type.Object({
  $schema: Type.Optional(Type.String({ description: 'JSON Schema reference for editors; ignored.' })),
  latency: LatencySchema,
  network: NetworkSchema,
  regions: Type.Array(RegionDefinitionSchema, { default: [], description: 'Custom regions, added to the catalogue.' }),
  customers: Type.Array(CustomerSchema, { minItems: 1, description: 'The customer zones. At least one.' }),
  server: ServerSchema,
  logging: LoggingSchema
}, {
  ...closed,
  $id: 'https://residency-sim.example/config/schema.json',
  title: 'residency-sim scenario',
  description: 'A residency-sim scenario: network, latency model, customers and servers.'
})

export type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T

/** A loaded scenario: defaults applied, deep-frozen. */
export type Scenario = DeepReadonly<Static<typeof ScenarioSchema>>
export type CustomerConfig = Scenario['customers'][number]
export type KeysConfig = CustomerConfig['keys']
export type RegionConfig = Scenario['regions'][number]
export type LatencyConfig = Scenario['latency']
export type NetworkConfig = Scenario['network']
export type ServerConfig = Scenario['server']
export type LogLevel = Scenario['logging']['level']
export type ErrorResponse = Static<typeof ErrorResponseSchema>

/**
 * The JSON Schema published for editors (config/schema.json). Fields with a default are not required in a file, so
 * they are dropped from `required` (validation applies defaults before it checks, like ajv's `useDefaults`).
 */
export function editorJsonSchema (): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(ScenarioSchema)) as Record<string, unknown>
  const doc = relaxRequired(plain) as Record<string, unknown>
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...doc }
}

function relaxRequired (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(relaxRequired)
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) out[k] = relaxRequired(v)
  const props = out.properties as Record<string, TSchema> | undefined
  if (Array.isArray(out.required) && props) {
    const required = (out.required as string[]).filter((name) => props[name]?.default === undefined)
    if (required.length > 0) out.required = required
    else delete out.required
  }
  return out
}
