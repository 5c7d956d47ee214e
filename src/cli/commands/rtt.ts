// `rsim rtt`: the latency model from the command line: distance and modelled round trip between two places, or for
// every row of a CSV (streamed, so files of millions of rows work in constant memory).
import { createInterface } from 'node:readline'
import type { Writable } from 'node:stream'
import { isClientLocationError, parseClientLocation } from '../../core/client.ts'
import { SimError } from '../../core/errors.ts'
import { distanceKm, parseDegrees } from '../../core/geo.ts'
import { createLatencyModel } from '../../core/latency.ts'
import { loadTopology } from '../../core/topology.ts'
import type { ClientLocation, LatencyModel, LatencyParams, Topology } from '../../core/types.ts'
import { createGeoIpLocator } from '../../net/geoip-locator.ts'
import { HELP, parse } from '../args.ts'
import type { Command } from '../command.ts'
import { openInput, parseCsvLine } from '../csv.ts'

const help = `Usage:
  rsim rtt <a> <b> [--json]
  rsim rtt --input pairs.csv

Prints the great-circle distance and the modelled round-trip time between two places, each a PoP IATA code (FRA),
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

// Output is gathered into chunks of this size: one write per row would dominate the cost of a million-row file.
const CHUNK_CHARS = 64 * 1024

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
  if (c.source === 'iata') {
    const pop = topology.byId.get(c.input.trim().toUpperCase())
    return `${pop?.id ?? c.input} (${pop?.city ?? ''}, ${c.country ?? ''}) at ${at}`
  }
  if (c.source === 'ip') return `${c.input} (${c.country ?? 'unknown country'}) at ${at}`
  return at
}

async function write (out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
}

/** Streams the CSV: header plus rtt_ms, then each row as it was with its RTT appended. */
async function runBatch (name: string, model: LatencyModel, io: Parameters<Command['run']>[1]): Promise<number> {
  const rl = createInterface({ input: openInput(name, io.stdin, io.cwd), crlfDelay: Infinity })
  let line = 0
  let rows = 0
  let cols: number[] | undefined
  let width = 0
  let out = ''
  const bad = (reason: string): SimError => new SimError('SIM_ERR_INPUT_INVALID', [`${name}:${line}`, reason])
  try {
    for await (const raw of rl) {
      line++
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw
      if (text.trim() === '') continue
      const fields = parseCsvLine(text)
      if (typeof fields === 'string') throw bad(fields)
      if (!cols) {
        const header = fields.map((f) => f.trim())
        const missing = COLUMNS.filter((c) => !header.includes(c))
        if (missing.length > 0) throw bad(`the header must name the columns ${COLUMNS.join(', ')}; missing ${missing.join(', ')}`)
        if (header.includes('rtt_ms')) throw bad('the header already has an rtt_ms column')
        cols = COLUMNS.map((c) => header.indexOf(c))
        width = header.length
        out += text + ',rtt_ms\n'
        continue
      }
      if (fields.length !== width) throw bad(`expected ${width} fields, found ${fields.length}`)
      const v: number[] = []
      for (let k = 0; k < 4; k++) {
        const d = parseDegrees(fields[cols[k]!]!, k % 2 === 0 ? 'latitude' : 'longitude')
        if (typeof d === 'string') throw bad(`${COLUMNS[k]}: ${d}`)
        v.push(d)
      }
      const rtt = model.rttMs({ lat: v[0]!, lon: v[1]! }, { lat: v[2]!, lon: v[3]! })
      out += `${text},${rtt.toFixed(3)}\n`
      rows++
      if (out.length >= CHUNK_CHARS) {
        await write(io.stdout, out)
        out = ''
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new SimError('SIM_ERR_INPUT_INVALID', [name, 'no such file'])
    throw err
  } finally {
    rl.close()
    // Rows before a bad line are still delivered, like any stream filter.
    if (out !== '') await write(io.stdout, out)
  }
  if (!cols) throw new SimError('SIM_ERR_INPUT_INVALID', [name, 'empty input: a header line is required'])
  io.stderr.write(`rtt: ${rows} rows\n`)
  return 0
}

export const rttCommand: Command = {
  name: 'rtt',
  summary: 'distance and modelled round trip between two places (or every row of a CSV)',
  help,
  async run (args, io) {
    // A leading space keeps "-33.87,151.21" from being read as an option; the location parser trims it.
    const { values, positionals } = parse(args.map((a) => (/^-[\d.]/.test(a) ? ` ${a}` : a)), options, help)
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
    const [a, b] = positionals.map((p, i) => locate(p.trim(), topology, i === 0 ? 'argument <a>' : 'argument <b>')) as [ClientLocation, ClientLocation]
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
