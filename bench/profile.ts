// `npm run bench:profile`: where the simulation's CPU goes per request. Starts the simulation of the default
// configuration in a servers process, loads one route with autocannon from a load-generator process, takes a
// sampling CPU profile of the servers' event loop while the load runs, and prints its self time per request by
// category and by function. The raw profile is written for Chrome DevTools or speedscope.
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseScenario } from '../src/config/load.ts'
import { checkRoute, invalid, parseOptions, positiveInteger, positiveNumber, refuse, writableDir } from './lib/args.ts'
import { breakdown, formatBreakdown, type CpuProfile } from './lib/profile-analysis.ts'
import type { JobResult, PacedResult, StreamResult } from './lib/loadgen.ts'
import { spawnChild } from './lib/rpc.ts'
import { defaultYaml } from './lib/scenario-yaml.ts'
import type { PeerUrls, SimInfo } from './lib/servers.ts'

const HELP = `Usage: node bench/profile.ts [--client LHR] [--host eu-shop.example] [--latency off|on] [--seconds 10]
                              [--connections N] [--rate RPS] [--interval 200] [--out bench/results/profile]
       node bench/profile.ts --peer plain|plain-buffered|http-proxy [--hops 1|2] [--seconds 10] [--connections N]
                              [--rate RPS]

Profiles the simulation (default configuration) under load on one route and prints its CPU time per request:
by category (socket writes, garbage collection, Node's HTTP, undici, fastify, each residency-sim source file)
and the functions with the most self time. Writes the raw profile as <out>/<client>-<host>-latency-<on|off>.cpuprofile.
With --peer, profiles a peer forwarder chain of the overhead scenario instead (its own origin in the same process),
for the same breakdown side by side; written as <out>/peer-<name>-<hops>.cpuprofile.

Options:
  --client X        client location: IATA code, IP address or lat,lon (default LHR: relayed from London to the EU)
  --host H          customer host (default eu-shop.example)
  --latency on|off  modelled delays (default off: software time only)
  --seconds S       profiled load, after a warm-up of a third as long (default 10)
  --connections N   autocannon connections, a closed loop as fast as it goes (default 32 with latency off, 256 with
                    it on); with --rate, the most connections the open loop opens
  --rate RPS        instead: an open loop at a fixed rate, the paced load of the fidelity scenario (where the cost
                    of a request at a given load matters more than the throughput at saturation)
  --interval US     sampling interval in microseconds (default 200; smaller costs the servers more)
  --out DIR         where the profile is written (default bench/results/profile)
  --peer NAME       profile a peer instead of the simulation: plain (undici + fastify), plain-buffered (the same
                    answering through residency-sim's buffered exchange) or http-proxy
  --hops N          the peer chain's length, 1 or 2 (default 2, as the simulation's LHR>CDG route)`

/** The warm-up before the profiled load: a third as long, at least a second. */
function warmUpSeconds (seconds: number): number {
  return Math.max(1, Math.round(seconds / 3))
}

let settings: { latency: 'on' | 'off', seconds: number, connections: number, rate: number | undefined, intervalUs: number, peer: string | undefined, hops: '1' | '2', client: string, host: string, out: string }
try {
  const values = parseOptions(process.argv.slice(2), {
    client: { type: 'string', default: 'LHR' },
    host: { type: 'string', default: 'eu-shop.example' },
    latency: { type: 'string', default: 'off' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string' },
    rate: { type: 'string' },
    interval: { type: 'string', default: '200' },
    out: { type: 'string', default: 'bench/results/profile' },
    peer: { type: 'string' },
    hops: { type: 'string', default: '2' },
    help: { type: 'boolean', short: 'h' }
  }, HELP)
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`)
    process.exit(0)
  }
  const latency = values.latency ?? 'off'
  if (latency !== 'on' && latency !== 'off') throw invalid('--latency', `must be on or off, got "${latency}"`)
  const seconds = positiveNumber(values.seconds ?? '', '--seconds')
  const connections = positiveInteger(values.connections ?? (latency === 'on' ? '256' : '32'), '--connections')
  const rate = values.rate === undefined ? undefined : positiveNumber(values.rate, '--rate')
  // The paced load sends round(rate x seconds) requests, in the warm-up as in the profile: none would profile nothing.
  const fewest = Math.min(seconds, warmUpSeconds(seconds))
  if (rate !== undefined && Math.round(rate * fewest) < 1) throw invalid('--rate', `${rate} requests/s for ${fewest} s rounds to no request at all; raise --rate or --seconds`)
  const intervalUs = positiveInteger(values.interval ?? '', '--interval')
  const peer = values.peer
  if (peer !== undefined && peer !== 'plain' && peer !== 'plain-buffered' && peer !== 'http-proxy') throw invalid('--peer', `must be plain, plain-buffered or http-proxy, got "${peer}"`)
  const hops = values.hops ?? '2'
  if (hops !== '1' && hops !== '2') throw invalid('--hops', `must be 1 or 2, got "${hops}"`)
  if (peer !== undefined && latency !== 'off') throw invalid('--latency', 'applies to the simulation, not to --peer')
  const client = values.client ?? 'LHR'
  const host = values.host ?? 'eu-shop.example'
  if (peer === undefined) checkRoute(client, host, parseScenario(await defaultYaml(), 'default.yaml'), 'profile')
  const out = resolve(values.out ?? 'bench/results/profile')
  await writableDir(out, '--out')
  settings = { latency, seconds, connections, rate, intervalUs, peer, hops, client, host, out }
} catch (err) {
  refuse('bench/profile', err)
}
const { latency, seconds, connections, rate, intervalUs, peer, hops, client, host } = settings
const progress = (line: string): void => { process.stderr.write(`[profile] ${line}\n`) }

/** What a load answered: 2xx responses and the others. */
interface Answered { readonly ok: number, readonly non2xx: number }

const servers = spawnChild(new URL('./lib/servers.ts', import.meta.url))
const loadgen = spawnChild(new URL('./lib/loadgen.ts', import.meta.url))
try {
  let url: string
  let headers: Record<string, string>
  let what: string
  if (peer === undefined) {
    progress(`starting the simulation (latency ${latency})`)
    const sim = await servers.call<SimInfo>('startSim', { yaml: await defaultYaml(), latency: latency === 'on', timeScale: 1 })
    url = `${sim.edgeUrl}/`
    headers = { host, 'x-sim-client': client }
    what = `${host} from ${client}, latency ${latency}`
  } else {
    progress(`starting the ${peer} peer (${hops} hop${hops === '1' ? '' : 's'}, its own origin)`)
    const urls = await servers.call<PeerUrls>('startPeers', {})
    const chain = peer === 'plain' ? urls.plain : peer === 'plain-buffered' ? urls.plainBuffered : urls.httpProxy
    url = `${chain[hops === '1' ? 0 : 1]}/`
    headers = { host: 'origin.example' }
    what = `${peer} peer, ${hops} hop${hops === '1' ? '' : 's'}`
  }
  const stream = { id: 'route', url, headers, connections }
  const load = async (durationS: number): Promise<Answered> => {
    if (rate !== undefined) {
      const res = await loadgen.call<JobResult<PacedResult>>('paced', {
        // A connection cap of the closed loop's size: an open loop opens a connection whenever every open one is
        // busy, and as its load starts it would open hundreds, each a modelled TLS handshake (a signature) where TLS
        // terminates, which would then be profiled as if every request paid a share of it.
        url, requests: [{ headers }], rate, durationS, warmupS: 0, connections
      })
      const p = res.results
      const answered = p.samplesMs.length
      if (answered === 0 && p.non2xx === 0) throw new Error(`no answer from ${what} (${p.errors} errors)`)
      return { ok: answered, non2xx: p.non2xx }
    }
    const res = await loadgen.call<JobResult<StreamResult[]>>('cannon', { streams: [stream], durationS })
    const r = res.results[0] as StreamResult
    if (r.responses === 0 && r.non2xx === 0) throw new Error(`no answer from ${what} (${r.errors} errors)`)
    return { ok: r.responses, non2xx: r.non2xx }
  }
  const warm = warmUpSeconds(seconds)
  const shape = rate === undefined ? `${connections} connections` : `${rate} requests/s (paced, on at most ${connections} connections)`
  progress(`warm-up: ${warm} s, ${shape}, ${what}`)
  const w = await load(warm)
  if (w.non2xx > 0) progress(`warning: ${w.non2xx} answers were not 2xx (a refused route?); they are profiled too`)
  progress(`profiling: ${seconds} s, sampling every ${intervalUs} µs`)
  await servers.call('profileStart', { intervalUs })
  const r = await load(seconds)
  const profile = await servers.call<CpuProfile>('profileStop')
  const answered = r.ok + r.non2xx
  const file = join(settings.out, peer === undefined
    ? `${client.replace(/[^\w.-]/g, '_')}-${host}-latency-${latency}.cpuprofile`
    : `peer-${peer}-${hops}.cpuprofile`)
  await writeFile(file, JSON.stringify(profile))
  process.stdout.write(`${what}, ${shape}: ${Math.round(answered / seconds)} requests/s\n`)
  process.stdout.write(`${formatBreakdown(breakdown(profile, answered))}\n\nprofile: ${file}\n`)
  await servers.call(peer === undefined ? 'stopSim' : 'stopPeers', peer === undefined ? { limitMs: 2000 } : {})
} catch (err) {
  process.stderr.write(`bench/profile: ${(err as Error).message}\n`)
  process.exitCode = 1
} finally {
  // Always: the children run servers and would otherwise outlive this process.
  await Promise.all([servers.stop(), loadgen.stop()])
}
