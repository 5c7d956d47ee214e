// `rsim matrix`: the latency data localisation adds, modelled, for each customer with a processing region from each
// of a set of client places: the benchmark's headline table from the planner alone (no sockets), for any scenario.
import { SimError } from '../../core/errors.ts'
import { plan } from '../../core/planner.ts'
import type { Plan } from '../../core/types.ts'
import { createGeoIpLocator } from '../../net/geoip-locator.ts'
import { HELP, parse } from '../args.ts'
import type { Command } from '../command.ts'
import { openInput, readCsv } from '../csv.ts'
import { loadModel } from '../model.ts'
import { checkDown, clientResolver, splitDown, withStrategy } from './plan.ts'
import { routeOf } from './plan-format.ts'

/** Client cities on every continent: the rows of the benchmark's headline table too (bench/scenarios/added.ts). */
export const HEADLINE_CITIES: readonly { readonly code: string, readonly city: string }[] = [
  { code: 'SYD', city: 'Sydney' }, { code: 'NRT', city: 'Tokyo' }, { code: 'SIN', city: 'Singapore' },
  { code: 'BOM', city: 'Mumbai' }, { code: 'JNB', city: 'Johannesburg' }, { code: 'GRU', city: 'Sao Paulo' },
  { code: 'EWR', city: 'New York' }, { code: 'SJC', city: 'San Francisco' }, { code: 'LHR', city: 'London' },
  { code: 'FRA', city: 'Frankfurt' }
]

const help = `Usage: rsim matrix [--host H ...] [--client X ... | --clients F | --all-pops] [--down FRA,AMS] [--resumed] [--strategy S]
                   [--config F] [--json]

The latency that data localisation adds, modelled: for each customer with a processing region (or each --host) and
each client place, the planned round trip minus the same request without data localisation (the origin where it
is, decrypted at the ingress, the key used there). Rows: client places; columns: customers; cells: added ms, or
"refused" (fail closed, no key holder). By default the clients are ten cities on every continent, the rows of the
benchmark's headline table (\`npm run bench\` measures them). A last row gives each column's mean over the clients
it serves, weighted by --clients' weights: what data localisation costs where one's users are.

Options:
  --host H       a customer host; repeat for several (default: every customer with a processing region)
  --client X     a client place: PoP IATA code, city, "lat,lon" or IP address; repeat for several
                 (default: ${HEADLINE_CITIES.map((c) => c.code).join(' ')})
  --clients F    the client places from a CSV file ("-": standard input) whose header names a client column
                 (as --client) and optionally a weight column (a share of the users, any non-negative number;
                 default 1); other columns are ignored
  --all-pops     a client at every PoP of the scenario instead (one row each)
  --down LIST    PoPs to treat as down, comma-separated (what if a country's PoPs fail?)
  --resumed      resumed TLS sessions: no key operation (default: a new connection, with its handshake)
  --strategy S   choose inspection PoPs with S for every customer: nearest | least-total | load-aware
  --config F     scenario file (default: the embedded config/default.yaml)
  --json         one object per cell: client, host, outcome, route, modelledMs, baselineMs, addedMs (or code), and
                 weight with --clients
  -h, --help     this help

Exit status: 0, or 2 on bad input.`

const options = {
  ...HELP,
  host: { type: 'string', multiple: true },
  client: { type: 'string', multiple: true },
  clients: { type: 'string' },
  'all-pops': { type: 'boolean' },
  down: { type: 'string' },
  resumed: { type: 'boolean' },
  strategy: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' }
} as const

interface Cell {
  readonly client: string
  readonly host: string
  readonly outcome: Plan['outcome']
  readonly route?: string
  readonly modelledMs?: number
  readonly baselineMs?: number
  readonly addedMs?: number
  readonly code?: string
  readonly weight?: number
}

interface Place {
  readonly input: string
  readonly label: string
  /** Where it was given, for errors: --client, or the file and line. */
  readonly where: string
  readonly weight?: number
}

/** The client places of a --clients file: a client column, and a weight column when the file has one. */
async function placesOf (name: string, io: Parameters<Command['run']>[1]): Promise<Place[]> {
  const places: Place[] = []
  for await (const rec of readCsv(openInput(name, io.stdin, io.cwd), ['client'], name)) {
    const where = `${name}:${rec.line}`
    const input = (rec.fields.client as string).trim()
    if (input === '') throw new SimError('SIM_ERR_INPUT_INVALID', [where, 'the client column is empty'])
    // No weight column, or an empty cell: 1.
    const text = rec.fields.weight?.trim() ?? ''
    const weight = text === '' ? 1 : Number(text)
    if (text !== '' && (!/^\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/.test(text) || !Number.isFinite(weight))) {
      throw new SimError('SIM_ERR_INPUT_INVALID', [where, `weight "${text}" is not a non-negative number`])
    }
    places.push({ input, label: input, where, weight })
  }
  if (places.length === 0) throw new SimError('SIM_ERR_INPUT_INVALID', [name, 'no client rows after the header'])
  if (places.every((p) => p.weight === 0)) throw new SimError('SIM_ERR_INPUT_INVALID', [name, 'every weight is 0'])
  return places
}

/** A column's mean added latency over the clients it serves, by weight, and the weight of those it refuses. */
export function columnMean (cells: readonly Cell[], weights: readonly number[]): { meanMs: number | undefined, refusedShare: number } {
  let served = 0
  let sum = 0
  let total = 0
  for (const [i, c] of cells.entries()) {
    const w = weights[i] as number
    total += w
    if (c.outcome !== 'served' || w === 0) continue
    served += w
    sum += w * (c.addedMs as number)
  }
  return { meanMs: served === 0 ? undefined : sum / served, refusedShare: total === 0 ? 0 : (total - served) / total }
}

/** Column headings: the hosts' first labels when they tell the hosts apart, else the hosts. */
function headings (hosts: readonly string[]): string[] {
  const first = hosts.map((h) => h.split('.')[0] as string)
  return new Set(first).size === hosts.length ? first : [...hosts]
}

function round1 (x: number): number {
  return Math.round(x * 10) / 10
}

export const matrixCommand: Command = {
  name: 'matrix',
  summary: 'the added latency of data localisation, modelled, for each regional customer from each client place',
  help,
  async run (args, io) {
    const { values } = parse(args, options, help)
    if (values.help) { io.stdout.write(help + '\n'); return 0 }
    const given = (['client', 'clients', 'all-pops'] as const).filter((o) => values[o] !== undefined)
    if (given.length > 1) throw new SimError('SIM_ERR_BAD_REQUEST', [`${given.map((o) => `--${o}`).join(' and ')} name the clients twice: give one\n\n${help}`])
    const model = await loadModel(values.config)
    const world = withStrategy(model.world, values.strategy)
    const hosts = [...new Set(values.host ?? [...world.customers.values()].filter((c) => c.region !== null).map((c) => c.host))]
    if (hosts.length === 0) throw new SimError('SIM_ERR_INPUT_INVALID', ['--host', 'the scenario has no customer with a processing region; name one with --host'])
    for (const h of hosts) {
      if (!world.customers.has(h.trim().toLowerCase())) throw new SimError('SIM_ERR_INPUT_INVALID', ['--host', `no customer is configured for host "${h}" (customers: ${[...world.customers.keys()].join(', ')})`])
    }
    const places: Place[] = values['all-pops'] === true
      ? world.topology.pops.map((p) => ({ input: p.id, label: `${p.city.split(',')[0] as string} (${p.id})`, where: '--all-pops' }))
      : values.client !== undefined
        ? values.client.map((c) => ({ input: c, label: c, where: '--client' }))
        : values.clients !== undefined
          ? await placesOf(values.clients, io)
          : HEADLINE_CITIES.filter((c) => world.topology.byId.has(c.code)).map((c) => ({ input: c.code, label: `${c.city} (${c.code})`, where: '--client' }))
    const resolve = clientResolver(world, createGeoIpLocator())
    const newConnection = values.resumed !== true
    const down = splitDown(values.down, /,/)
    checkDown(world, down, '--down')
    const rows = places.map((place) => {
      const client = resolve(place.input, place.where)
      const weight = place.weight === undefined ? {} : { weight: place.weight }
      return hosts.map((host): Cell => {
        const p = plan({ client, host, newConnection, down }, world)
        if (p.outcome !== 'served') return { client: place.input, host, outcome: p.outcome, code: p.code, ...weight }
        return { client: place.input, host, outcome: 'served', route: routeOf(p), modelledMs: p.modelledMs, baselineMs: p.baselineMs, addedMs: round1(p.addedMs), ...weight }
      })
    })
    if (values.json === true) {
      io.stdout.write(JSON.stringify(rows.flat(), null, 2) + '\n')
      return 0
    }
    const heads = headings(hosts)
    const weights = places.map((p) => p.weight ?? 1)
    const weighted = places.some((p) => p.weight !== undefined && p.weight !== 1)
    const meanLabel = weighted ? 'weighted mean' : 'mean'
    const labelWidth = Math.max(6, meanLabel.length, ...places.map((p) => p.label.length))
    const widths = heads.map((h) => Math.max(h.length, 7))
    const line = (label: string, cells: readonly string[]): string => `${label.padEnd(labelWidth)}  ${cells.map((c, i) => c.padStart(widths[i] as number)).join('  ')}`.trimEnd()
    const what = [newConnection ? 'new TLS connections' : 'resumed TLS sessions', ...(down.length === 0 ? [] : [`down: ${down.join(' ')}`])]
    io.stdout.write(`Added latency of data localisation, ms (modelled; ${what.join('; ')}; "refused": no plan serves it)\n`)
    io.stdout.write(line('client', heads) + '\n')
    for (const [i, row] of rows.entries()) {
      io.stdout.write(line((places[i] as { label: string }).label, row.map((c) => c.outcome === 'served' ? (c.addedMs as number).toFixed(1) : 'refused')) + '\n')
    }
    if (places.length > 1) {
      const means = hosts.map((_h, j) => columnMean(rows.map((r) => r[j] as Cell), weights))
      io.stdout.write(line(meanLabel, means.map((m) => m.meanMs === undefined ? 'refused' : m.meanMs.toFixed(1))) + '\n')
      const partly = means.flatMap((m, j) => m.refusedShare > 0 && m.meanMs !== undefined ? [`${heads[j] as string} refused for ${(m.refusedShare * 100).toFixed(0)}%`] : [])
      if (partly.length > 0) io.stdout.write(`(the mean is over the clients served; ${partly.join(', ')} of the ${weighted ? 'weight' : 'clients'})\n`)
    }
    return 0
  }
}
