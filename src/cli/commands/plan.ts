// `rsim plan`: the planner from the command line, for one request (readable or JSON) or a CSV batch (JSON lines).
import { parseClientLocation } from '../../core/client.ts'
import { SimError } from '../../core/errors.ts'
import { plan } from '../../core/planner.ts'
import { STRATEGY_NAMES } from '../../core/strategies.ts'
import { loadTopology } from '../../core/topology.ts'
import type { ClientLocation, IpLocator, Plan, PlanRequest, StrategyName, World } from '../../core/types.ts'
import { createGeoIpLocator } from '../../net/geoip-locator.ts'
import { HELP, parse } from '../args.ts'
import type { Command } from '../command.ts'
import { ChunkedWriter, openInput, readCsv } from '../csv.ts'
import { loadModel } from '../model.ts'
import { formatPlan } from './plan-format.ts'

const help = `Usage:
  rsim plan --client <ip|IATA|city|lat,lon> --host <host> [--down FRA,AMS] [--resumed] [--strategy S] [--config F] [--json]
  rsim plan --input requests.csv [--strategy S] [--config F]

Plans a request with the model alone (no sockets): where it enters (anycast), where it is decrypted and inspected,
where TLS gets its key, where logs go, each hop's modelled round trip, and the latency data localisation adds.

Options:
  --client X     the client: an IP address (located with GeoLite2), a PoP IATA code, a city ("Sao Paulo",
                 "New York", "Portland, ME"), or "lat,lon" (negative values need no "=": --client -33.87,151.21)
  --host H       the customer host (Host header), e.g. eu-shop.example
  --down LIST    PoPs to treat as down, comma-separated
  --resumed      a resumed TLS session (no private-key operation)
  --strategy S   choose inspection PoPs with S for every customer: nearest | least-total | load-aware
  --config F     scenario file (default: the embedded config/default.yaml)
  --json         print the plan as JSON
  --input F      plan every row of a CSV file (columns client,host,down; down is a space-separated PoP list,
                 possibly empty; "-" reads standard input) and print one JSON plan per line. Each row names its
                 own client, host and down PoPs, and the output is always JSON: --client, --host, --down,
                 --resumed and --json are refused with --input
  -h, --help     this help

Exit status: 0 when served (or a batch completed), 3 when the single request is refused, 2 on bad input.`

const options = {
  ...HELP,
  client: { type: 'string' },
  host: { type: 'string' },
  down: { type: 'string' },
  resumed: { type: 'boolean' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  input: { type: 'string' },
  strategy: { type: 'string' }
} as const

/** Options that describe the one request of a single plan; a batch takes all of that from its rows. */
const SINGLE_REQUEST_OPTIONS = ['client', 'host', 'down', 'resumed', 'json'] as const

/** The world with every customer using `strategy` (what-if comparisons of selection strategies). */
export function withStrategy (world: World, strategy: string | undefined): World {
  if (strategy === undefined) return world
  if (!(STRATEGY_NAMES as string[]).includes(strategy)) {
    throw new SimError('SIM_ERR_BAD_REQUEST', [`--strategy must be one of ${STRATEGY_NAMES.join(', ')}, got "${strategy}"`])
  }
  const customers = new Map([...world.customers].map(([host, c]) => [host, { ...c, strategy: strategy as StrategyName }]))
  return { ...world, customers }
}


/** A request's Host as given: one with nothing in it is a mistake in the input, not a host no customer has. */
function hostOf (input: string, where: string): string {
  if (input.trim() === '') throw new SimError('SIM_ERR_INPUT_INVALID', [where, 'the host is empty; give a customer host, e.g. eu-shop.example'])
  return input
}
/** Resolves a client string, caching results (batches repeat clients) and turning bad input into a SimError. */
export function clientResolver (world: World, ip: IpLocator): (input: string, where: string) => ClientLocation {
  const cache = new Map<string, ClientLocation>()
  return function resolveClient (input, where) {
    let c = cache.get(input)
    if (c) return c
    const r = parseClientLocation(input, world.topology, ip)
    if ('error' in r) {
      // A real PoP that the scenario leaves out (network.pops) is not the same mistake as a code that is no PoP at all.
      const id = input.trim().toUpperCase()
      const known = /^[A-Z]{3}$/.test(id) ? loadTopology().byId.get(id) : undefined
      if (known !== undefined) {
        throw new SimError('SIM_ERR_INPUT_INVALID', [where, `${id} (${known.city}) is a PoP, but not a PoP of this scenario (network.pops); give "${known.lat},${known.lon}" for a client there`])
      }
      const err = new SimError(r.error, r.args)
      throw new SimError('SIM_ERR_INPUT_INVALID', [where, `${err.code}: ${err.message}`])
    }
    c = r
    if (cache.size > 100_000) cache.clear()
    cache.set(input, c)
    return c
  }
}

export function splitDown (s: string | undefined, sep: RegExp): string[] {
  if (!s) return []
  return s.split(sep).map((x) => x.trim().toUpperCase()).filter((x) => x !== '')
}

export function checkDown (world: World, down: readonly string[], where: string): void {
  for (const id of down) {
    if (!world.topology.byId.has(id)) throw new SimError('SIM_ERR_INPUT_INVALID', [where, `unknown PoP "${id}" in the down list`])
  }
}

export const planCommand: Command = {
  name: 'plan',
  summary: 'plan a request (or a CSV batch) with the model: route, key use, logs, added latency',
  help,
  async run (args, io) {
    const { values } = parse(args, options, help)
    if (values.help) { io.stdout.write(help + '\n'); return 0 }
    const world = withStrategy((await loadModel(values.config)).world, values.strategy)
    const resolveClient = clientResolver(world, createGeoIpLocator())

    if (values.input !== undefined) {
      const conflicting = SINGLE_REQUEST_OPTIONS.filter((o) => values[o] !== undefined)
      if (conflicting.length > 0) {
        throw new SimError('SIM_ERR_BAD_REQUEST', [`--input plans the rows of a file, each with its own client, host and down list, as JSON: it cannot be combined with ${conflicting.map((o) => `--${o}`).join(', ')}\n\n${help}`])
      }
      const name = values.input
      let n = 0
      const out = new ChunkedWriter(io.stdout)
      try {
        for await (const rec of readCsv(openInput(name, io.stdin, io.cwd), ['client', 'host', 'down'], name)) {
          const where = `${name}:${rec.line}`
          const down = splitDown(rec.fields.down, /\s+/)
          checkDown(world, down, where)
          const req: PlanRequest = { client: resolveClient((rec.fields.client ?? '').trim(), where), host: hostOf(rec.fields.host ?? '', where), down }
          await out.line(JSON.stringify(plan(req, world)))
          n++
        }
      } finally {
        // Rows before a bad line are still written.
        await out.flush()
      }
      io.stderr.write(`planned ${n} requests\n`)
      return 0
    }

    if (values.client === undefined || values.host === undefined) {
      throw new SimError('SIM_ERR_BAD_REQUEST', [`--client and --host are required (or --input)\n\n${help}`])
    }
    const down = splitDown(values.down, /,/)
    checkDown(world, down, '--down')
    const req: PlanRequest = { client: resolveClient(values.client, '--client'), host: hostOf(values.host, '--host'), down, newConnection: values.resumed !== true }
    const result: Plan = plan(req, world)
    io.stdout.write(values.json ? JSON.stringify(result, null, 2) + '\n' : formatPlan(result, world) + '\n')
    return result.outcome === 'served' ? 0 : 3
  }
}
