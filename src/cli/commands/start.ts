// `rsim start`: runs the whole simulated network in this process until SIGINT/SIGTERM, then stops gracefully.
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import { pino } from 'pino'
import { loadScenario } from '../../config/load.ts'
import { MAX_TIME_SCALE, type Scenario } from '../../config/schema.ts'
import { SimError } from '../../core/errors.ts'
import { plan } from '../../core/planner.ts'
import type { Customer, World } from '../../core/types.ts'
import { createGeoIpLocator } from '../../net/geoip-locator.ts'
import { startSimulation, type StartedSimulation } from '../../runtime/start.ts'
import type { FidelitySnapshot } from '../../services/control/runtime.ts'
import { HELP, parse } from '../args.ts'
import type { Command } from '../command.ts'

const help = `Usage: rsim start [--config F] [--latency on|off] [--time-scale X] [--port 8080] [--control-port 8081] [--tls-port 8443] [--host 127.0.0.1] [--no-warm-up]

Starts every PoP of the scenario as its own HTTP service on 127.0.0.1, the anycast edge, the control plane, one
origin per customer and the log sinks, then prints where they listen and a few requests to try. Ctrl-C stops it:
requests in flight finish, then every socket closes.

Options:
  --config F         scenario file (default: the embedded config/default.yaml)
  --latency on|off   model propagation delay (off: measure the simulator's own overhead)
  --time-scale X     multiply every modelled delay by X (0.1: ten times faster), 0 < X <= 1000
  --port N           anycast edge port (default: server.edgePort, 8080)
  --control-port N   control plane port (default: server.controlPort, 8081)
  --tls-port N       real TLS edge port (default: server.tlsPort, 8443); the run's CA certificate is written to .rsim/ca.pem
  --host ADDR        address every service listens on (default: server.host, 127.0.0.1; 0.0.0.0 in a container)
  --no-warm-up       skip the warm-up: by default a few requests per customer first run through a small throwaway
                     copy of the scenario (latency off, nothing recorded in this run), so that the first requests
                     you send run on compiled code instead of tens of milliseconds over their model
  -h, --help         this help`

function port (text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!/^\d+$/.test(text) || n > 65535) throw new SimError('SIM_ERR_BAD_REQUEST', [`${name} must be a port number 0..65535, got "${text}"`])
  return n
}

function options (values: Record<string, string | boolean | undefined>) {
  const latency = values.latency
  if (latency !== undefined && latency !== 'on' && latency !== 'off') throw new SimError('SIM_ERR_BAD_REQUEST', [`--latency must be on or off, got "${String(latency)}"`])
  const ts = values['time-scale']
  let timeScale: number | undefined
  if (typeof ts === 'string') {
    timeScale = Number(ts)
    if (!(timeScale > 0) || timeScale > MAX_TIME_SCALE) throw new SimError('SIM_ERR_BAD_REQUEST', [`--time-scale must be a number greater than 0 and at most ${MAX_TIME_SCALE}, got "${ts}"`])
  }
  const edgePort = port(values.port as string | undefined, '--port')
  const controlPort = port(values['control-port'] as string | undefined, '--control-port')
  const tlsPort = port(values['tls-port'] as string | undefined, '--tls-port')
  const host = values.host as string | undefined
  // An address to bind, not a name to resolve: the services must not listen somewhere a typo sends them.
  if (host !== undefined && isIP(host) === 0) throw new SimError('SIM_ERR_BAD_REQUEST', [`--host must be an IP address to listen on (127.0.0.1, 0.0.0.0, ::1), got "${host}"`])
  return {
    ...(tlsPort !== undefined ? { tlsPort } : {}),
    ...(host !== undefined ? { host } : {}),
    ...(latency !== undefined ? { latency: latency === 'on' } : {}),
    ...(timeScale !== undefined ? { timeScale } : {}),
    ...(edgePort !== undefined ? { edgePort } : {}),
    ...(controlPort !== undefined ? { controlPort } : {})
  }
}

/** Where `rsim start` writes the run's CA certificate, under the working directory (git-ignored). */
export const CA_FILE = '.rsim/ca.pem'

/** A client far from most regions (Sydney), for the relayed example: its request enters far from where it is inspected. */
const FAR_CLIENT = { lat: -33.87, lon: 151.21, source: 'latlon', input: '-33.87,151.21' } as const

function popName (world: World, id: string): string {
  const pop = world.topology.byId.get(id)
  return pop === undefined ? id : `${pop.city} (${id})`
}

/** Three requests that show the model: one served where it lands, one relayed into its region, one refused. */
export function tryCommands (world: World, edgeUrl: string): string[] {
  const customers = [...world.customers.values()]
  const local = customers.find((c) => c.region === null) ?? customers[0] as Customer
  // The words come from the plan of the request the line sends, in this scenario: where it enters and is inspected.
  const regionals = customers.filter((c) => c.region !== null).map((c) => ({ c, p: plan({ client: FAR_CLIENT, host: c.host }, world) }))
  const relayed = regionals.find(({ p }) => p.outcome === 'served' && p.ingress !== p.inspection) ?? regionals[0]
  const out = [
    '# served where it lands: a client next to the origin, no data localisation',
    `curl -si -H 'Host: ${local.host}' -H 'x-sim-client: ${local.origin.pop}' ${edgeUrl}/`
  ]
  if (relayed) {
    const { c, p } = relayed
    const region = c.region?.id ?? ''
    out.push(p.outcome === 'refused'
      ? `# a client in Sydney, refused: ${p.code} (region ${region})`
      : p.ingress === p.inspection
        ? `# a client in Sydney, taken in and inspected at ${popName(world, p.inspection)} in region ${region} (see x-sim-inspected-at, Server-Timing)`
        : `# a client in Sydney, taken in at ${popName(world, p.ingress)}, relayed unread and inspected at ${popName(world, p.inspection)} in region ${region} (see x-sim-inspected-at, Server-Timing)`,
    `curl -si -H 'Host: ${c.host}' -H 'x-sim-client: ${FAR_CLIENT.input}' ${edgeUrl}/`)
  }
  out.push('# refused: a client cannot claim its request was already relayed (403 SIM_ERR_FORWARD_UNAUTHENTICATED)',
    `curl -si -H 'Host: ${(relayed?.c ?? local).host}' -H 'x-sim-fwd-inspection: SYD' ${edgeUrl}/`)
  return out
}

/** The address curl connects to for a listener on `host`: a wildcard address is reached on loopback; IPv6 in brackets. */
export function connectAddress (host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}

/** A request over the real TLS edge, verifying the chain with the run's CA. */
export function tlsTryCommand (world: World, host: string, port: number, caPath: string): string[] {
  const customers = [...world.customers.values()]
  const c = customers.find((x) => x.region !== null && x.keys.keyServer === undefined) ?? customers.find((x) => x.keys.keyServer === undefined)
  if (c === undefined) return []
  return ['# real TLS: the edge reads the SNI, relays the ciphertext, the in-region PoP terminates it (x-sim-tls-terminated-at)',
    `curl -si --cacert ${caPath} --resolve ${c.host}:${port}:${connectAddress(host)} https://${c.host}:${port}/`]
}

export function banner (rt: StartedSimulation, scenario: Scenario, latency: boolean, timeScale: number): string {
  const mb = (process.memoryUsage().rss / 1048576).toFixed(0)
  return [
    `residency-sim: ${rt.popCount} PoPs, ${rt.world.customers.size} customers, started in ${(rt.startupMs / 1000).toFixed(2)} s, ${mb} MB resident`,
    `  edge (send client requests here)  ${rt.edgeUrl}`,
    `  control plane and map             ${rt.controlUrl || '(none)'}`,
    ...(rt.tlsEdge === undefined ? [] : [`  TLS edge (real TLS, SNI routing)  ${rt.tlsEdge.host}:${rt.tlsEdge.port}`]),
    ...(rt.caPath === undefined ? [] : [`  CA certificate (curl --cacert)    ${rt.caPath}`]),
    ...(rt.warmUp === undefined
      ? []
      : [`  warmed up                         ${rt.warmUp.requests} requests through a ${rt.warmUp.pops}-PoP copy in ${(rt.warmUp.ms / 1000).toFixed(2)} s (--no-warm-up skips it)`]),
    `  latency ${latency ? `on, time scale ${timeScale}` : 'off'}; log level ${scenario.logging.level}`,
    '',
    ...tryCommands(rt.world, rt.edgeUrl),
    ...(rt.tlsEdge === undefined || rt.caPath === undefined ? [] : tlsTryCommand(rt.world, rt.tlsEdge.host, rt.tlsEdge.port, rt.caPath)),
    ...(rt.controlUrl === '' ? [] : ['# what happened to a request: its record in the ledger, by the x-sim-ray it was answered with', `curl -s ${rt.controlUrl}/api/ledger/<x-sim-ray>`]),
    '',
    ...(rt.controlUrl === '' ? [] : [`Or open ${rt.controlUrl}/ and send requests from the map ("Send through the edge").`]),
    'Ctrl-C stops gracefully.',
    ''
  ].join('\n')
}

/** The last line of a run: with latency on, how well its responses kept to the model (runtime/fidelity.ts). */
export function stoppedLine (f: Pick<FidelitySnapshot, 'settled' | 'late' | 'maxLateMs'> | undefined): string {
  if (f === undefined || f.settled === 0) return 'stopped'
  const share = (f.late / f.settled * 100).toFixed(1)
  const latest = f.maxLateMs < 0.05 ? '' : `; the furthest behind left ${f.maxLateMs.toFixed(1)} ms after it`
  return `stopped: ${f.settled} response${f.settled === 1 ? '' : 's'} held to the modelled time, ${f.late} of them late ` +
    `(${share}%, more than 1 ms and 5% after it)${latest}`
}

export const startCommand: Command = {
  name: 'start',
  summary: 'run the simulated network (PoPs, anycast edge, control plane) until Ctrl-C',
  help,
  async run (args, io) {
    const { values } = parse(args, {
      ...HELP,
      config: { type: 'string' },
      latency: { type: 'string' },
      'time-scale': { type: 'string' },
      port: { type: 'string' },
      'control-port': { type: 'string' },
      host: { type: 'string' },
      'tls-port': { type: 'string' },
      'no-warm-up': { type: 'boolean' }
    }, help)
    if (values.help) { io.stdout.write(help + '\n'); return 0 }
    const opts = options(values)
    const scenario = await loadScenario(values.config === undefined ? undefined : resolve(io.cwd, values.config), { ipLocator: createGeoIpLocator() })
    // Logs go to standard error, buffered (a synchronous write per request would cost more than the request), so
    // standard output keeps the banner alone.
    const dest = pino.destination({ dest: 2, sync: false })
    const logger = pino({ level: scenario.logging.level }, dest)
    // The TLS edge is `rsim start`'s: its port comes from --tls-port, else the configuration (server.tlsPort).
    const rt = await startSimulation(scenario, {
      tlsPort: scenario.server.tlsPort, ...opts, logger, caPath: resolve(io.cwd, CA_FILE), warmUp: values['no-warm-up'] !== true
    })
    io.stdout.write(banner(rt, scenario, opts.latency ?? scenario.latency.enabled, opts.timeScale ?? scenario.latency.timeScale))
    await new Promise<void>((done) => {
      const stop = (signal: NodeJS.Signals): void => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        rt.logger.info({ signal }, 'stopping: finishing requests in flight')
        done()
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    await rt.close()
    dest.flushSync()
    io.stdout.write(`${stoppedLine(rt.fidelity?.snapshot())}\n`)
    return 0
  }
}
