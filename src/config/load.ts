// Loads a scenario once: parse YAML, apply defaults, validate (schema, then the checks that need PoP and region data),
// throw one error listing every problem with its file:line:col, deep-freeze. After fastify's
// lib/initial-config-validation.js.
import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Value } from '@sinclair/typebox/value'
import { ValueErrorType } from '@sinclair/typebox/errors'
import type { ValueError } from '@sinclair/typebox/errors'
import type { TSchema } from '@sinclair/typebox'
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml'
import type { Document, Node } from 'yaml'
import { SimError } from '../core/errors.ts'
import { citiesNear, cityLocation, isClientLocationError } from '../core/client.ts'
import { looksLikeLatLon, parseLatLon } from '../core/geo.ts'
import { parsePolicy } from '../core/key-policy-parser.ts'
import { REGION_CATALOGUE } from '../core/regions.ts'
import { createTopology, loadTopology } from '../core/topology.ts'
import type { IpLocator } from '../core/types.ts'
import { PATTERN_HINTS, ScenarioSchema } from './schema.ts'
import type { Scenario } from './schema.ts'

/** One problem in a configuration file. `path` is dotted (`customers[0].origin.pop`), `pointer` is RFC 6901. */
export interface ConfigProblem {
  readonly file: string
  readonly line: number
  readonly column: number
  readonly path: string
  readonly pointer: string
  readonly message: string
}

/** The embedded default scenario, resolved from this module so it is found from any working directory. */
export const defaultScenarioPath = fileURLToPath(new URL('../../config/default.yaml', import.meta.url))

/** Geo Key Manager v1 policies; anything else is read as a v2 expression. */
export const V1_KEY_POLICIES: readonly string[] = ['us', 'eu', 'highest_security']

export interface ScenarioOptions {
  /**
   * Locates an IP address given as network.defaultClient, as the data path will (the CLI passes GeoLite2's,
   * net/geoip-locator.ts): an address it cannot place is a problem of the file, reported with its line. Without it,
   * such an address is only checked to be one, and the runtime refuses it when it starts (runtime/start.ts).
   */
  readonly ipLocator?: IpLocator
}

/** Reads and loads a scenario file; without a path, the embedded default. */
export async function loadScenario (path: string = defaultScenarioPath, opts: ScenarioOptions = {}): Promise<Scenario> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new SimError('SIM_ERR_CONFIG_READ', [path, (err as Error).message])
  }
  return parseScenario(text, path, opts)
}

/** Parses, validates and freezes a scenario given as YAML text. Throws SIM_ERR_CONFIG_INVALID listing every problem. */
export function parseScenario (text: string, file = '<inline>', opts: ScenarioOptions = {}): Scenario {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const problems = new Problems(file, doc, lineCounter, text)
  if (doc.errors.length > 0) {
    // A broken document has no reliable values to validate: report the syntax errors alone.
    for (const err of doc.errors) {
      const { line, col } = lineCounter.linePos(err.pos[0])
      problems.addAt(line, col, '', err.message.split('\n')[0] ?? err.message)
    }
    problems.throwIfAny()
  }
  const value = toJs(doc, problems, lineCounter)
  Value.Default(ScenarioSchema, value)
  for (const err of Value.Errors(ScenarioSchema, value)) addSchemaError(problems, err)
  checkSemantics(value, problems, opts.ipLocator)
  problems.throwIfAny()
  return deepFreeze(value) as Scenario
}

/** Aliases one document may expand: enough for any scenario, few enough that a "billion laughs" document fails fast. */
const MAX_ALIAS_COUNT = 100

/**
 * The document's value. yaml throws a plain ReferenceError when aliases expand past the limit (a resource exhaustion
 * guard, https://eemeli.org/yaml/#tojs-options); that is a problem of the file, reported at its first alias.
 */
function toJs (doc: Document, problems: Problems, lines: LineCounter): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {}
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err
    let start = 0
    visit(doc, { Alias (_key, node) { start = node.range?.[0] ?? 0; return visit.BREAK } })
    const { line, col } = lines.linePos(start)
    problems.addAt(line, col, '', `aliases expand too much (yaml limit ${MAX_ALIAS_COUNT}, a guard against resource exhaustion): ${err.message}`)
    problems.throwIfAny()
    throw err
  }
}

class Problems {
  readonly list: ConfigProblem[] = []
  readonly #file: string
  readonly #doc: Document
  readonly #lines: LineCounter
  readonly #text: string
  readonly #seen = new Set<string>()

  constructor (file: string, doc: Document, lines: LineCounter, text: string) {
    this.#file = file
    this.#doc = doc
    this.#lines = lines
    this.#text = text
  }

  /** Whether the file itself gives the value at `pointer` (rather than a default). */
  given (pointer: string): boolean {
    return this.#doc.hasIn(splitPointer(pointer))
  }

  has (pointer: string): boolean {
    return this.list.some((p) => p.pointer === pointer || p.pointer.startsWith(pointer + '/'))
  }

  addAt (line: number, column: number, pointer: string, message: string): void {
    const key = `${line}:${column}:${pointer}:${message}`
    if (this.#seen.has(key)) return
    this.#seen.add(key)
    this.list.push({ file: this.#file, line, column, path: dotted(pointer), pointer, message })
  }

  /** Adds a problem at the node `pointer` names; `onKey` points at the key (unknown fields); `offset` moves into a scalar. */
  add (pointer: string, message: string, opts: { onKey?: boolean, offset?: number } = {}): void {
    const { node, key } = this.#find(pointer)
    const target = opts.onKey === true && key ? key : node
    let start = target?.range?.[0] ?? 0
    if (opts.offset !== undefined && isScalar(target) && target.range) {
      // Point at the offending character only when the source text is the value itself, optionally quoted.
      const src = this.#text.slice(target.range[0], target.range[1])
      const quoted = src.length > 1 && (src[0] === '"' || src[0] === "'")
      const inner = quoted ? src.slice(1, -1) : src
      if (inner === target.value) start += (quoted ? 1 : 0) + opts.offset
    }
    const { line, col } = this.#lines.linePos(start)
    this.addAt(line, col, pointer, message)
  }

  #find (pointer: string): { node: Node | undefined, key: Node | undefined } {
    let node: unknown = this.#doc.contents ?? undefined
    let key: Node | undefined
    for (const seg of splitPointer(pointer)) {
      let next: unknown
      let nextKey: Node | undefined
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg)
        next = pair?.value ?? undefined
        nextKey = pair && isScalar(pair.key) ? pair.key : undefined
        // A key with no value (`origin:`) still has a line: keep the key.
        if (pair && next === null) next = nextKey
      } else if (isSeq(node)) {
        next = node.items[Number(seg)]
      }
      if (next === undefined) return { node: node as Node | undefined, key: nextKey }
      node = next
      key = nextKey
    }
    return { node: node as Node | undefined, key }
  }

  throwIfAny (): void {
    if (this.list.length === 0) return
    this.list.sort((a, b) => a.line - b.line || a.column - b.column)
    const text = this.list.map((p) => `  ${p.file}:${p.line}:${p.column} ${p.path || '(document)'}: ${p.message}`).join('\n')
    throw new SimError('SIM_ERR_CONFIG_INVALID', [text], { problems: this.list })
  }
}

function splitPointer (pointer: string): string[] {
  if (pointer === '') return []
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/** `/customers/0/origin/pop` -> `customers[0].origin.pop` */
function dotted (pointer: string): string {
  let out = ''
  for (const seg of splitPointer(pointer)) out += /^\d+$/.test(seg) ? `[${seg}]` : (out === '' ? seg : `.${seg}`)
  return out
}

function describeValue (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return `"${v}"`
  // YAML's .inf and .nan are numbers to the parser, but no figure of a scenario.
  if (typeof v === 'number' && !Number.isFinite(v)) return `${String(v)}, which is not a finite number`
  return `${typeof v} ${String(v)}`
}

/** A short human name for what a schema accepts, for union errors. */
function describeSchema (s: TSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const)
  if (s.anyOf) {
    const parts = (s.anyOf as TSchema[]).filter((v) => v.type !== 'null').map(describeSchema)
    const orNull = parts.length < (s.anyOf as TSchema[]).length ? ', or null' : ''
    return parts.join(' or ') + orNull
  }
  if (s.type === 'object' && s.properties?.mode?.const !== undefined) return `{ mode: ${JSON.stringify(s.properties.mode.const)} ... }`
  if (s.type === 'string' && typeof s.pattern === 'string' && PATTERN_HINTS[s.pattern]) return PATTERN_HINTS[s.pattern] as string
  if (s.type === 'array') return 'a list'
  if (s.type === 'object') return 'a mapping'
  return String(s.type ?? 'a value')
}

const KIND_ERRORS = new Set([
  ValueErrorType.String, ValueErrorType.Number, ValueErrorType.Integer, ValueErrorType.Boolean, ValueErrorType.Null,
  ValueErrorType.Object, ValueErrorType.Array, ValueErrorType.Literal, ValueErrorType.Union
])
const KIND_NAMES: Partial<Record<ValueErrorType, string>> = {
  [ValueErrorType.String]: 'a string',
  [ValueErrorType.Number]: 'a number',
  [ValueErrorType.Integer]: 'an integer',
  [ValueErrorType.Boolean]: 'true or false',
  [ValueErrorType.Null]: 'null',
  [ValueErrorType.Object]: 'a mapping',
  [ValueErrorType.Array]: 'a list'
}

function addSchemaError (problems: Problems, err: ValueError): void {
  const { path, value, schema, type } = err
  switch (type) {
    case ValueErrorType.ObjectRequiredProperty:
      return problems.add(path, 'required field is missing')
    case ValueErrorType.ObjectAdditionalProperties: {
      const name = splitPointer(path).at(-1) ?? ''
      const known = Object.keys(schema.properties ?? {}).filter((k) => k !== '$schema')
      return problems.add(path, `unknown field "${name}" (expected one of: ${known.join(', ')})`, { onKey: true })
    }
    case ValueErrorType.Union: {
      // Report the alternative the user evidently meant (the one whose discriminant matched), else what was expected.
      const variants = err.errors.map((it) => [...it])
      const meant = variants.filter((errs) => !errs.some((e) => e.type === ValueErrorType.Literal || (e.path === path && KIND_ERRORS.has(e.type))))
      if (meant.length === 1) {
        for (const e of meant[0] as ValueError[]) addSchemaError(problems, e)
        return
      }
      const modes = (schema.anyOf as TSchema[]).map((s) => s.properties?.mode?.const as unknown)
      if (isObj(value) && value.mode !== undefined && modes.every((m) => m !== undefined)) {
        return problems.add(`${path}/mode`, `expected ${modes.map((m) => JSON.stringify(m)).join(' or ')}, found ${describeValue(value.mode)}`)
      }
      return problems.add(path, `expected ${describeSchema(schema)}, found ${describeValue(value)}`)
    }
    case ValueErrorType.ArrayMinItems:
      return problems.add(path, `expected at least ${String(schema.minItems)} item${schema.minItems === 1 ? '' : 's'}, found ${(value as unknown[]).length}`)
    case ValueErrorType.ArrayUniqueItems:
      return problems.add(path, 'items must be unique')
    case ValueErrorType.Literal:
      return problems.add(path, `expected ${JSON.stringify(schema.const)}, found ${describeValue(value)}`)
    case ValueErrorType.StringPattern: {
      const hint = PATTERN_HINTS[schema.pattern as string] ?? `a string matching ${String(schema.pattern)}`
      return problems.add(path, `expected ${hint}, found ${describeValue(value)}`)
    }
    default: {
      const kind = KIND_NAMES[type]
      // A missing field also fails its type check: one message is enough.
      if (kind !== undefined && value === undefined) return
      const expected = kind !== undefined ? `expected ${kind}` : lowerFirst(err.message)
      return problems.add(path, `${expected}, found ${describeValue(value)}`)
    }
  }
}

function lowerFirst (s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1)
}

// --- Checks that need the PoP and region data. The value may still be partly invalid: every access is guarded. ---

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)
const list = (v: unknown): unknown[] => Array.isArray(v) ? v : []

function checkSemantics (value: unknown, problems: Problems, ipLocator: IpLocator | undefined): void {
  if (!isObj(value)) return
  const pops = loadTopology().byId
  const catalogue = new Set(REGION_CATALOGUE.map((r) => r.id))

  const pop = (pointer: string, v: unknown): void => {
    if (typeof v !== 'string' || problems.has(pointer)) return
    if (!pops.has(v)) problems.add(pointer, `unknown PoP "${v}" (not in regions/pops.json)`)
  }
  const pops_ = (pointer: string, v: unknown): void => list(v).forEach((id, i) => pop(`${pointer}/${i}`, id))

  const network = isObj(value.network) ? value.network : {}
  if (Array.isArray(network.pops)) pops_('/network/pops', network.pops)
  if (isObj(network.logCores)) for (const r of ['eu', 'us']) pop(`/network/logCores/${r}`, network.logCores[r])
  const scenarioPops = Array.isArray(network.pops) ? new Set(network.pops.filter((p) => typeof p === 'string')) : undefined
  checkDefaultClient('/network/defaultClient', network.defaultClient, pops, scenarioPops, problems, ipLocator)

  checkPorts(value.server, Array.isArray(network.pops) ? network.pops.length : pops.size, problems)

  const custom = new Set<string>()
  list(value.regions).forEach((r, i) => {
    if (!isObj(r)) return
    const at = `/regions/${i}`
    if (typeof r.id === 'string' && !problems.has(`${at}/id`)) {
      if (catalogue.has(r.id)) problems.add(`${at}/id`, `region "${r.id}" already exists in the catalogue (regions/regions.json); choose another id`)
      else if (custom.has(r.id)) problems.add(`${at}/id`, `region "${r.id}" is defined twice`)
      custom.add(r.id)
    }
    pops_(`${at}/pops`, r.pops)
    pops_(`${at}/excludePops`, r.excludePops)
    if (!['countries', 'usStates', 'excludeCountries', 'pops', 'excludePops'].some((k) => list(r[k]).length > 0)) {
      problems.add(at, 'a region needs at least one of countries, usStates, excludeCountries, pops or excludePops')
    }
  })

  const hosts = new Map<string, number>()
  list(value.customers).forEach((c, i) => {
    if (!isObj(c)) return
    const at = `/customers/${i}`
    if (typeof c.host === 'string' && !problems.has(`${at}/host`)) {
      const first = hosts.get(c.host)
      // Its syntax is the schema's (HOSTNAME_PATTERN), reported before this runs.
      if (first !== undefined) problems.add(`${at}/host`, `duplicate host "${c.host}" (already customers[${first}])`)
      else hosts.set(c.host, i)
    }
    if (typeof c.region === 'string' && !problems.has(`${at}/region`) && !catalogue.has(c.region) && !custom.has(c.region)) {
      problems.add(`${at}/region`, `unknown region "${c.region}" (neither in regions/regions.json nor in regions)`)
    }
    if (isObj(c.keys)) checkKeys(`${at}/keys`, c.keys, problems, pop, pops_)
    if (isObj(c.origin)) pop(`${at}/origin/pop`, c.origin.pop)
    if (isObj(c.inspection) && isObj(c.inspection.header)) checkInspectionHeader(`${at}/inspection/header`, c.inspection.header, problems)
  })
}

function checkKeys (at: string, keys: Obj, problems: Problems, pop: (p: string, v: unknown) => void, pops: (p: string, v: unknown) => void): void {
  if (keys.mode === 'keyless') {
    pop(`${at}/server`, keys.server)
    pops(`${at}/allow`, keys.allow)
  }
  if (keys.mode !== 'geo' || typeof keys.policy !== 'string' || problems.has(`${at}/policy`)) return
  if (V1_KEY_POLICIES.includes(keys.policy)) return
  const parsed = parsePolicy(keys.policy)
  if (parsed.ok) return
  const { column, expected, found } = parsed.error
  problems.add(`${at}/policy`,
    `key policy syntax error at column ${column}: expected ${expected}, found ${found} (v1 policies are ${V1_KEY_POLICIES.join(', ')})`,
    { offset: column - 1 })
}

/**
 * Listeners need distinct ports: the edge, control plane and TLS edge, and PoP number i on popBasePort + i, which must
 * stay within 65535. Port 0 (ephemeral) may repeat: the system gives each listener its own.
 */
function checkPorts (server: unknown, popCount: number, problems: Problems): void {
  if (!isObj(server)) return
  const named = (['edgePort', 'controlPort', 'tlsPort'] as const)
    .map((name) => ({ name, port: server[name] }))
    .filter((x): x is { name: typeof x.name, port: number } => Number.isInteger(x.port) && x.port !== 0 && !problems.has(`/server/${x.name}`))
  for (let i = 1; i < named.length; i++) {
    const { name, port } = named[i] as { name: string, port: number }
    const same = named.slice(0, i).find((x) => x.port === port)
    if (same) problems.add(`/server/${name}`, `port ${port} is already server.${same.name}'s; each listener needs its own port (0: ephemeral)`)
  }
  const base = server.popBasePort
  if (typeof base !== 'number' || !Number.isInteger(base) || base === 0 || problems.has('/server/popBasePort')) return
  const last = base + popCount - 1
  if (last > 65535) {
    problems.add('/server/popBasePort', `${popCount} PoPs from port ${base} would need ports up to ${last}, past 65535; use at most ${65536 - popCount}, or 0 for ephemeral ports`)
    return
  }
  for (const { name, port } of named) {
    if (port >= base && port <= last) problems.add('/server/popBasePort', `the PoP ports ${base}..${last} include server.${name} (${port})`)
  }
}

/**
 * Fields the data path sets, frames or strips on the way to the origin, which an inspection header must not name:
 * hop-by-hop fields (RFC 9110 section 7.6.1, https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1), the framing and
 * routing fields the HTTP client owns (undici refuses `expect`, `transfer-encoding`, `keep-alive`, `upgrade` outright),
 * the trace context PoPs propagate, and the `x-sim-*` fields the simulator itself reads or sets (services/client-location.ts,
 * net/signing.ts, services/pop, services/origin); other `x-sim-*` names, such as the default's x-sim-inspected, are free.
 */
const RESERVED_HEADERS = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization',
  'proxy-authenticate', 'host', 'content-length', 'expect', 'traceparent',
  'x-sim-pop', 'x-sim-ray', 'x-sim-ingress', 'x-sim-inspected-at'
])
/** Families of `x-sim-*` fields the data path reads or sets (client location, signed forwarding, TLS, origin timing). */
const RESERVED_HEADER_PREFIXES = ['x-sim-client', 'x-sim-fwd', 'x-sim-tls-', 'x-sim-origin-']

// A field value is visible characters, spaces, tabs and obs-text; no CR, LF or NUL (RFC 9110 section 5.5,
// https://www.rfc-editor.org/rfc/rfc9110#section-5.5); leading or trailing whitespace would be stripped in transit.
const FIELD_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/

function checkInspectionHeader (at: string, header: Obj, problems: Problems): void {
  const { name, value } = header
  if (typeof name === 'string' && !problems.has(`${at}/name`)) {
    const lower = name.toLowerCase()
    if (RESERVED_HEADERS.has(lower) || RESERVED_HEADER_PREFIXES.some((p) => lower.startsWith(p))) {
      problems.add(`${at}/name`, `"${name}" is set, framed or removed by the data path; an inspection header must use another name`)
    }
  }
  if (typeof value === 'string' && !problems.has(`${at}/value`) && !FIELD_VALUE.test(value)) {
    const bad = [...value].findIndex((ch, i) => /[^\t\x20-\x7e\x80-\xff]/.test(ch) || ((i === 0 || i === value.length - 1) && /[\t ]/.test(ch)))
    problems.add(`${at}/value`,
      `not a valid HTTP field value at character ${bad + 1}: control characters (CR, LF, NUL...), characters past U+00FF and leading or trailing whitespace are not allowed`)
  }
}

/**
 * network.defaultClient must locate as the data path would locate it, in the scenario's own PoPs: a PoP left out of
 * network.pops, or an address GeoLite2 cannot place (a private one), would fail every request that names no client.
 */
function checkDefaultClient (at: string, v: unknown, pops: ReadonlyMap<string, unknown>, scenarioPops: ReadonlySet<unknown> | undefined, problems: Problems, ipLocator: IpLocator | undefined): void {
  if (typeof v !== 'string' || problems.has(at)) return
  if (isIP(v) !== 0) {
    if (ipLocator !== undefined && ipLocator.lookup(v) === undefined) {
      problems.add(at, `IP address "${v}" has no known location (private, reserved or not in the GeoLite2 data); give a public address, a PoP IATA code or city, or "lat,lon"`)
    }
    return
  }
  const code = /^[A-Za-z]{3}$/.test(v)
  if (code && pops.has(v.toUpperCase())) {
    const id = v.toUpperCase()
    if (scenarioPops !== undefined && !scenarioPops.has(id)) {
      const given = problems.given(at) ? '' : ` (the default; set network.defaultClient to one of network.pops, "lat,lon" or an IP address)`
      problems.add(at, `PoP "${id}" is not a PoP of this scenario (not in network.pops)${given}`)
    }
    return
  }
  if (looksLikeLatLon(v)) {
    const parsed = parseLatLon(v)
    if (!parsed.ok) problems.add(at, `invalid coordinates: ${parsed.reason}`)
    return
  }
  // A city is located as the data path locates it: a PoP's city among the scenario's PoPs, else anywhere, else the
  // world's cities.
  const topology = scenarioPops === undefined ? loadTopology() : createTopology(loadTopology().pops, [...scenarioPops] as string[])
  const city = cityLocation(v, v, topology)
  if (city === undefined && code) {
    problems.add(at, `unknown PoP "${v}" (not in regions/pops.json, and no city has that name)`)
  } else if (city === undefined) {
    const near = citiesNear(v, topology)
    problems.add(at, `"${v}" is neither a PoP IATA code, a city, "lat,lon" nor an IP address${near.length === 0 ? '' : ` (did you mean ${near.join(' or ')}?)`}`)
  } else if (isClientLocationError(city)) {
    problems.add(at, city.args[1] as string)
  }
}

function deepFreeze<T> (v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const child of Object.values(v)) deepFreeze(child)
  }
  return v
}
