// `rsim rtt`: the latency model from the command line: distance and modelled round trip between two places, or for
// every row of a CSV (streamed, so files of millions of rows work in constant memory).
import { isClientLocationError, parseClientLocation, popsInCity } from '../../core/client.ts'
import { SimError } from '../../core/errors.ts'
import { distanceKm, parseDegrees } from '../../core/geo.ts'
import { createLatencyModel } from '../../core/latency.ts'
import { loadTopology } from '../../core/topology.ts'
import type { ClientLocation, LatencyModel, LatencyParams, Topology } from '../../core/types.ts'
import { createGeoIpLocator } from '../../net/geoip-locator.ts'
import { HELP, parse } from '../args.ts'
import type { Command } from '../command.ts'
import { ChunkedWriter, openInput, readCsv } from '../csv.ts'

const help = `Usage:
  rsim rtt <a> <b> [--json]
  rsim rtt --input pairs.csv

Prints the great-circle distance and the modelled round-trip time between two places, each a PoP IATA code (FRA),
a city ("Sao Paulo", "New York", "Portland, ME"; case and accents do not matter; a PoP's city is that PoP's place),
"lat,lon" in decimal degrees (48.85,2.35; negative values need no quoting: -33.87,151.21) or an IPv4/IPv6 address
(located with GeoLite2). The RTT is the pure path round trip of the latency model (docs/latency-model.md): no
client access time, per-hop processing or jitter.

Options:
  --json         print the result as JSON
  --input F      read a CSV with a header naming the columns a_lat, a_lon, b_lat, b_lon (any order, other columns
                 kept as they are) and write it to standard output with an rtt_ms column added (3 decimals);
                 "-" reads standard input
  -h, --help     this help

Exit status: 0 on success, 2 on bad input (SIM_ERR_INPUT_INVALID names the CSV line).`

const options = { ...HELP, json: { type: 'boolean' }, input: { type: 'string' } } as const

/** Pure path RTT: `rtt` leaves out the client's last mile and per-hop processing on purpose. */
export const RTT_LATENCY_PARAMS: LatencyParams = Object.freeze({ accessMs: 0, hopProcessingMs: 0, jitter: 0 })

const COLUMNS = ['a_lat', 'a_lon', 'b_lat', 'b_lon'] as const

function round (v: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

function locate (input: string, topology: Topology, where: string): ClientLocation {
  const r = parseClientLocation(input, topology, createGeoIpLocator())
  if (isClientLocationError(r)) {
    const err = new SimError(r.error, r.args)
    throw new SimError('SIM_ERR_INPUT_INVALID', [where, `${err.code}: ${err.message}`])
  }
  return r
}

function describe (c: ClientLocation, topology: Topology): string {
  const at = `${c.lat},${c.lon}`
  if (c.source === 'iata' || c.source === 'city') {
    const pop = c.source === 'iata' ? topology.byId.get(c.input.trim().toUpperCase()) : popsInCity(c.input, topology)[0]
    // A city with no PoP is one of the world's cities (regions/cities.json).
    if (pop === undefined) return `${c.input.trim()} (${c.country ?? 'unknown country'}) at ${at}`
    return `${pop.id} (${pop.city}, ${pop.country}) at ${at}`
  }
  if (c.source === 'ip') return `${c.input} (${c.country ?? 'unknown country'}) at ${at}`
  return at
}


/** Streams the CSV: header plus rtt_ms, then each row as it was with its RTT appended. */
async function runBatch (name: string, model: LatencyModel, io: Parameters<Command['run']>[1]): Promise<number> {
  const out = new ChunkedWriter(io.stdout)
  let rows = 0
  try {
    const records = readCsv(openInput(name, io.stdin, io.cwd), COLUMNS, name, function checkHeader (header, text, line) {
      if (header.includes('rtt_ms')) throw new SimError('SIM_ERR_INPUT_INVALID', [`${name}:${line}`, 'the header already has an rtt_ms column'])
      void out.line(text + ',rtt_ms')
    })
    for await (const rec of records) {
      const v: number[] = []
      for (let k = 0; k < 4; k++) {
        const column = COLUMNS[k] as string
        const d = parseDegrees(rec.fields[column] as string, k % 2 === 0 ? 'latitude' : 'longitude')
        if (typeof d === 'string') throw new SimError('SIM_ERR_INPUT_INVALID', [`${name}:${rec.line}`, `${column}: ${d}`])
        v.push(d)
      }
      const rtt = model.rttMs({ lat: v[0]!, lon: v[1]! }, { lat: v[2]!, lon: v[3]! })
      await out.line(`${rec.text},${rtt.toFixed(3)}`)
      rows++
    }
  } finally {
    // Rows before a bad line are still delivered, like any stream filter.
    await out.flush()
  }
  io.stderr.write(`rtt: ${rows} rows\n`)
  return 0
}

export const rttCommand: Command = {
  name: 'rtt',
  summary: 'distance and modelled round trip between two places (or every row of a CSV)',
  help,
  async run (args, io) {
    const { values, positionals } = parse(args, options, help, { positionals: true })
    if (values.help) {
      io.stdout.write(help + '\n')
      return 0
    }
    const topology = loadTopology()
    const model = createLatencyModel(topology, RTT_LATENCY_PARAMS)
    if (values.input !== undefined) {
      if (positionals.length > 0) throw new SimError('SIM_ERR_BAD_REQUEST', [`--input takes no places as arguments\n\n${help}`])
      return await runBatch(values.input, model, io)
    }
    if (positionals.length !== 2) throw new SimError('SIM_ERR_BAD_REQUEST', [`expected two places, got ${positionals.length}\n\n${help}`])
    const [a, b] = positionals.map((p, i) => locate(p, topology, i === 0 ? 'argument <a>' : 'argument <b>')) as [ClientLocation, ClientLocation]
    const km = distanceKm(a, b)
    const rtt = model.rttMs(a, b)
    if (values.json) {
      io.stdout.write(JSON.stringify({ a, b, distanceKm: round(km, 3), rttMs: round(rtt, 3) }, null, 2) + '\n')
    } else {
      io.stdout.write([
        `from      ${describe(a, topology)}`,
        `to        ${describe(b, topology)}`,
        `distance  ${km.toFixed(1)} km`,
        `rtt       ${rtt.toFixed(3)} ms (modelled path round trip: no access time, processing or jitter)`
      ].join('\n') + '\n')
    }
    return 0
  }
}
