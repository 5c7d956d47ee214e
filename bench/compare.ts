// `npm run bench:compare -- --base REF`: does a change cost or save CPU per request? The working tree and another
// build (REF, checked out into a temporary git worktree that uses this tree's node_modules) each run the simulation of
// the default configuration in a servers process of their own, both pinned to one CPU with the load generator on the
// other, and are loaded at the same time at the same fixed rate, the requests alternating between them. Per round,
// each process's CPU time per answered request; the result is the median of the per-round ratios (working tree / REF)
// with its bootstrap 95% interval. The interleaved trials of the overhead scenario cannot resolve a change of a few
// per cent on a shared machine; two builds loaded at once share its drift. With `--peer NAME` instead of `--base`, the
// same pairs set the working tree's simulation against a peer forwarder chain of the overhead scenario, per hop; with
// `--calibrate US`, the working tree against itself with a known amount of work added to one side: the method's check.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseScenario } from '../src/config/load.ts'
import { checkRoute, invalid, parseOptions, positiveInteger, positiveNumber, refuse } from './lib/args.ts'
import type { AlternatingResult, JobResult, PacedResult } from './lib/loadgen.ts'
import { pinProcesses } from './lib/machine.ts'
import { spawnChild, type Child } from './lib/rpc.ts'
import { defaultYaml, peerStartFor } from './lib/scenario-yaml.ts'
import type { PeerStartParams, PeerUrls, SimInfo } from './lib/servers.ts'
import { fellBehind, groupedMedianCi, median, MIN_ROUNDS, summarise } from './lib/stats.ts'

const HELP = `Usage: node bench/compare.ts --base REF [--measure cpu|latency] [--pairs 3] [--rounds 6] [--rate auto]
                              [--seconds 3] [--client LHR] [--host eu-shop.example] [--latency off|on]
       node bench/compare.ts --peer plain|plain-buffered|http-proxy [--pairs 3] [--rounds 6] [--rate auto]
                              [--seconds 3] [--client LHR] [--host eu-shop.example]
       node bench/compare.ts --calibrate US [--pairs 3] [--rounds 6] [--rate auto] [--seconds 3] [--client LHR]
                              [--host eu-shop.example] [--latency off|on]

Compares the working tree's simulation with another build's (REF: a commit, branch or tag, checked out into a
temporary git worktree that uses this tree's node_modules). Both run the default configuration in processes of their
own, pinned to one CPU (the load generator on the other), on one route.
  --measure cpu (the default): both are loaded at the same time at the same fixed rate, and each round takes each
    process's CPU time per answered request.
  --measure latency: one request at a time, to each build in turn (each on its own kept-alive connection, the build a
    cycle starts with changing every cycle), and each round takes each build's p50 response time: a request that finds
    its servers idle since their last one, as sporadic traffic does; --rate does not apply.
Two processes of the same code can differ by a few per cent for as long as they live, so the rounds run in several
fresh pairs of processes, each after two warm-up rounds. Prints every round and the median of the per-round ratios
(working tree / REF) with its 95% interval, bootstrapped over the pairs and their rounds: below 1 the working tree is
cheaper (or faster).

With --peer, the other process runs a peer forwarder chain of the overhead scenario instead (plain undici + fastify,
the same answering through residency-sim's buffered exchange, or @fastify/http-proxy) with its own origin (the
simulator's origin app, set up as the route's), latency off. Each round loads the two origins directly, then the
route and the peer's chain of as many hops, each pair at once at the same rate, and takes each side's CPU per hop: the
chain's CPU per request less its direct path's, divided by the hops. The ratio is residency-sim's hop / the peer's.

With --calibrate, both processes run the working tree, and one of them does US µs of fixed CPU work (a loop of
integer arithmetic, timed in that process) more for every HTTP request one of its servers takes in: the edge, the
inspection PoP, the origin, the log sinks. Each round sets the difference read in CPU per request against the one
given (the requests that did the work, times its median time per call in the round): a read / given ratio near 1
says the pairs read a difference of that size at that rate as it is on this machine; away from 1, by how much they
misread it.

Options:
  --base REF        the build to compare with (this, --peer or --calibrate is required)
  --peer NAME       compare with a peer forwarder instead, per hop: plain, plain-buffered or http-proxy (CPU only)
  --calibrate US    check the method instead: the working tree against itself with US µs of work added per server
                    request in one of the two (CPU only; 1 to 10000)
  --measure M       cpu (CPU time per request under load, the default) or latency (p50 at one request in flight)
  --pairs N         fresh pairs of processes (default 3)
  --rounds N        rounds counted in each pair (default 6; an interval needs at least ${MIN_ROUNDS} in all)
  --rate RPS|auto   requests per second to each process (default auto: after the first pair's warm-up at 200, the
                    rate at which the two keep their CPU about 60% busy, found in a few rounds; a round in which the
                    two did not keep up, whose CPU per request reads high, is warned about)
  --seconds S       length of a round (default 3)
  --client X        client location: IATA code, IP address or lat,lon (default LHR: relayed from London to the EU)
  --host H          customer host (default eu-shop.example)
  --latency on|off  modelled delays (default off: software time only)`

const root = fileURLToPath(new URL('..', import.meta.url))

/** The commit a ref names, or SIM_ERR_INPUT_INVALID at --base. */
function commitOf (ref: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    throw invalid('--base', `"${ref}" is not a commit of this repository (git rev-parse)`)
  }
}

/** `--rate auto`: the first pair's warm-up rate, and the share of their CPU the two processes are then loaded to. */
const PROBE_RATE = 200
const AUTO_BUSY = 0.6

const PEERS = { plain: 'plain', 'plain-buffered': 'plainBuffered', 'http-proxy': 'httpProxy' } as const
type PeerName = keyof typeof PEERS

let settings: { commit: string, ref: string, peer: PeerName | undefined, calibrateUs?: number, peerStart?: PeerStartParams, hops: 1 | 2, measure: 'cpu' | 'latency', pairs: number, rounds: number, rate: number | 'auto', seconds: number, client: string, host: string, latency: boolean }
try {
  const values = parseOptions(process.argv.slice(2), {
    base: { type: 'string' },
    peer: { type: 'string' },
    calibrate: { type: 'string' },
    measure: { type: 'string', default: 'cpu' },
    pairs: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '6' },
    rate: { type: 'string', default: 'auto' },
    seconds: { type: 'string', default: '3' },
    client: { type: 'string', default: 'LHR' },
    host: { type: 'string', default: 'eu-shop.example' },
    latency: { type: 'string', default: 'off' },
    help: { type: 'boolean', short: 'h' }
  }, HELP)
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`)
    process.exit(0)
  }
  const peer = values.peer
  const calibrate = values.calibrate
  if (calibrate !== undefined) {
    if (peer !== undefined || values.base !== undefined) throw invalid('--calibrate', 'compares the working tree with itself: give it without --base and --peer')
    if (values.measure !== undefined && values.measure !== 'cpu') throw invalid('--measure', 'with --calibrate only cpu: the work added is CPU time')
  } else if (peer !== undefined) {
    if (!Object.hasOwn(PEERS, peer)) throw invalid('--peer', `must be one of ${Object.keys(PEERS).join(', ')}, got "${peer}"`)
    if (values.base !== undefined) throw invalid('--peer', 'compares with a peer forwarder, --base with another build: give one of them')
  } else if (values.base === undefined || values.base === '') {
    throw invalid('--base', 'is required (or --peer, or --calibrate): the commit, branch or tag to compare the working tree with')
  }
  const measure = values.measure ?? 'cpu'
  if (measure !== 'cpu' && measure !== 'latency') throw invalid('--measure', `must be cpu or latency, got "${measure}"`)
  if (peer !== undefined && measure !== 'cpu') throw invalid('--measure', 'with --peer only cpu: the overhead scenario measures latency against the peers (npm run bench)')
  const latency = values.latency ?? 'off'
  if (latency !== 'on' && latency !== 'off') throw invalid('--latency', `must be on or off, got "${latency}"`)
  if (peer !== undefined && latency === 'on') throw invalid('--latency', 'with --peer only off: the peer forwarders model no latency')
  const pairs = positiveInteger(values.pairs ?? '', '--pairs')
  const rounds = positiveInteger(values.rounds ?? '', '--rounds')
  const rate = values.rate === undefined || values.rate === 'auto' ? 'auto' : positiveNumber(values.rate, '--rate')
  const seconds = positiveNumber(values.seconds ?? '', '--seconds')
  if (rate !== 'auto' && Math.round(2 * rate * seconds) < 2) throw invalid('--rate', `${rate} requests/s for ${seconds} s rounds to no request for one build; raise --rate or --seconds`)
  const client = values.client ?? 'LHR'
  const host = values.host ?? 'eu-shop.example'
  const scenario = parseScenario(await defaultYaml(), 'default.yaml')
  const route = checkRoute(client, host, scenario, 'compare')
  // The route's hops as the peers' chains count them: inspected where it lands, one; relayed, two.
  const hops = route.inspection === route.ingress ? 1 : 2
  let calibrateUs: number | undefined
  if (calibrate !== undefined) {
    calibrateUs = positiveNumber(calibrate, '--calibrate')
    if (calibrateUs < 1 || calibrateUs > 10_000) throw invalid('--calibrate', `must be 1 to 10000 µs of work per server request, got ${calibrate}`)
  }
  settings = calibrateUs !== undefined
    ? { commit: '', ref: 'itself', peer: undefined, calibrateUs, hops, measure: 'cpu', pairs, rounds, rate, seconds, client, host, latency: latency === 'on' }
    : peer === undefined
    ? { commit: commitOf(values.base as string), ref: values.base as string, peer: undefined, hops, measure, pairs, rounds, rate, seconds, client, host, latency: latency === 'on' }
    // The peer's origin set up as the route's (the overhead scenario does the same).
    : { commit: '', ref: peer, peer: peer as PeerName, peerStart: peerStartFor(scenario, host), hops, measure, pairs, rounds, rate, seconds, client, host, latency: false }
} catch (err) {
  refuse('bench/compare', err)
}
const { commit, ref, peer, calibrateUs, peerStart, hops, measure, pairs, rounds, seconds, client, host, latency } = settings
/** Requests per second to each process: --rate, or with `auto` found on the first pair (pickRate). */
let rate = settings.rate === 'auto' ? 0 : settings.rate
/** Whether the rounds run now are counted: a fresh pair's first warm-up round falls behind as its code compiles. */
let counting = false
const progress = (line: string): void => { process.stderr.write(`[compare] ${line}\n`) }

const dir = await mkdtemp(join(tmpdir(), 'rsim-compare-'))
const baseDir = join(dir, 'base')
const git = (args: string[]): void => { execFileSync('git', args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] }) }
let base: Child | undefined
let work: Child | undefined
let loadgen: Child | undefined
let restore: (() => void) | undefined
async function cleanUp (): Promise<void> {
  restore?.()
  await Promise.all([base?.stop(), work?.stop(), loadgen?.stop()])
  if (peer === undefined && calibrateUs === undefined) {
    try { git(['worktree', 'remove', '--force', baseDir]) } catch { /* not created */ }
  }
  await rm(dir, { recursive: true, force: true })
}
process.once('SIGINT', () => { void cleanUp().then(() => process.exit(130)) })

try {
  if (peer === undefined && calibrateUs === undefined) {
    progress(`checking out ${ref} (${commit.slice(0, 10)}) into ${baseDir}`)
    git(['worktree', 'add', '--detach', '--quiet', baseDir, commit])
    if (!existsSync(join(baseDir, 'bench/lib/servers.ts'))) throw new Error(`${ref} has no bench/lib/servers.ts (the bench's servers process): it cannot be compared`)
    // The working tree's dependencies for both: a change of dependencies is not what this compares.
    await symlink(join(root, 'node_modules'), join(baseDir, 'node_modules'), 'dir')
  }
  const yaml = await defaultYaml()
  const headers = { host, 'x-sim-client': client }

  /** One round: the p50 response time (µs) of [base, working tree] at one request in flight, the builds in turn. */
  async function latencyRound (pair: [Child, SimInfo][]): Promise<[number, number]> {
    const res = await (loadgen as Child).call<JobResult<AlternatingResult>>('alternating', {
      routes: pair.map(([, info]) => ({ url: info.edgeUrl, headers })),
      durationS: seconds,
      warmupCycles: 20
    })
    const r = res.results
    if (r.non2xx + r.errors > 0) throw new Error(`${r.non2xx} answers were not 2xx and ${r.errors} requests failed: the route does not serve`)
    const p50 = r.samplesMs.map((xs) => summarise(xs).p50 * 1000)
    if (r.cycles === 0 || p50.some((x) => !Number.isFinite(x))) throw new Error(`no request was answered in ${seconds} s`)
    return [p50[0] as number, p50[1] as number]
  }

  /** A process and what to load in it: a URL with its headers. */
  interface Target { readonly proc: Child, readonly url: string, readonly headers: Record<string, string> }

  /**
   * Both targets loaded at once at the same rate, the requests alternating: each one's process CPU µs per answered
   * request, and its answered requests, in the order given; odd rounds (`k`) send to the second one first.
   */
  async function together (a: Target, b: Target, k: number): Promise<{ us: [number, number], answered: [number, number] }> {
    const order = k % 2 === 0 ? [a, b] : [b, a]
    await Promise.all(order.map((t) => t.proc.call('mark')))
    const res = await (loadgen as Child).call<JobResult<PacedResult>>('paced', {
      url: order[0]!.url,
      requests: order.map((t) => ({ url: t.url, headers: t.headers })),
      rate: 2 * rate,
      durationS: seconds,
      warmupS: 0,
      connections: latency ? Math.max(16, Math.ceil(rate * 0.5)) : 16
    })
    const cpuMs = await Promise.all(order.map((t) => t.proc.call<number>('cpuTime')))
    const r = res.results
    if (r.non2xx + r.errors > 0) throw new Error(`${r.non2xx} answers were not 2xx and ${r.errors} requests failed: the route does not serve`)
    // Behind its schedule, a process spends the round's CPU on requests it answers after the round: its CPU per
    // answered request reads high (a known difference read 1.38x at 1,000 requests/s where this warned; --calibrate).
    const behind = counting && !latency ? fellBehind(r.samplesMs, r.achievedRps, 2 * rate, seconds) : undefined
    if (behind !== undefined) {
      progress(`warning: the two processes did not keep up with ${rate} requests/s each on one CPU (p90 ${behind.p90Ms.toFixed(1)} ms from the schedule, ${Math.round(behind.answeredRps)} of ${2 * rate} requests/s answered): the round's CPU per request reads high; lower --rate`)
    }
    let first = 0
    for (const i of r.route) if (i === 0) first++
    const answered: [number, number] = [first, r.route.length - first]
    const us: [number, number] = [(cpuMs[0] as number) * 1000 / answered[0], (cpuMs[1] as number) * 1000 / answered[1]]
    return k % 2 === 0 ? { us, answered } : { us: [us[1], us[0]], answered: [answered[1], answered[0]] }
  }

  /** What a round reads for each side, and with --calibrate the difference given: µs (per request, hop or p50). */
  interface Reading { readonly base: number, readonly work: number, readonly given?: number }

  /**
   * One round: CPU µs per answered request of the base and the working tree; with --calibrate also the work given
   * per request, the requests that did it (the working tree's servers' own count) times its cost timed right after.
   */
  async function round (pair: [Child, SimInfo][], k: number): Promise<Reading> {
    if (measure === 'latency') {
      const [b, w] = await latencyRound(pair)
      return { base: b, work: w }
    }
    const [b, infoB] = pair[0] as [Child, SimInfo]
    const [w, infoW] = pair[1] as [Child, SimInfo]
    const { us, answered } = await together({ proc: b, url: infoB.edgeUrl, headers }, { proc: w, url: infoW.edgeUrl, headers }, k)
    if (calibrateUs === undefined) return { base: us[0], work: us[1] }
    const done = await w.call<{ requests: number, us: number }>('workDone')
    return { base: us[0], work: us[1], given: done.requests * done.us / answered[1] }
  }

  /**
   * One round against a peer: CPU µs per hop of [peer, working tree], each side's chain less its own direct path
   * (measured right before it, both at once), divided by the hops.
   */
  async function peerRound (sim: Child, info: SimInfo, peerProc: Child, urls: PeerUrls, k: number): Promise<Reading> {
    const chain = urls[PEERS[peer as PeerName]]
    const direct = { host }
    const { us: [dPeer, dSim] } = await together({ proc: peerProc, url: urls.origin, headers: direct }, { proc: sim, url: info.originUrls[host] as string, headers: direct }, k)
    const { us: [cPeer, cSim] } = await together({ proc: peerProc, url: chain[hops - 1] as string, headers: direct }, { proc: sim, url: info.edgeUrl, headers }, k)
    return { base: (cPeer - dPeer) / hops, work: (cSim - dSim) / hops }
  }

  loadgen = spawnChild(new URL('./lib/loadgen.ts', import.meta.url))
  const groups: number[][] = []
  const baseUs: number[] = []
  const workUs: number[] = []
  const readUs: number[] = []
  const givenUs: number[] = []
  /**
   * Starts pair `p`'s two processes (base, working tree) and returns its round: the other build's simulation, or the
   * peer forwarders with their own origin.
   */
  async function startPair (p: number): Promise<{ next: (k: number) => Promise<Reading>, routes: Target[] }> {
    const b = base = spawnChild(peer === undefined && calibrateUs === undefined ? join(baseDir, 'bench/lib/servers.ts') : new URL('./lib/servers.ts', import.meta.url))
    const w = work = spawnChild(new URL('./lib/servers.ts', import.meta.url))
    if (peer === undefined) {
      progress(`pair ${p + 1}/${pairs}: starting both simulations (latency ${latency ? 'on' : 'off'})`)
      const [infoBase, infoWork] = await Promise.all([b, w].map((c) => c.call<SimInfo>('startSim', { yaml, latency, timeScale: 1 })))
      const pair: [Child, SimInfo][] = [[b, infoBase as SimInfo], [w, infoWork as SimInfo]]
      return { next: async (k) => await round(pair, k), routes: pair.map(([c, info]) => ({ proc: c, url: info.edgeUrl, headers })) }
    }
    progress(`pair ${p + 1}/${pairs}: starting the simulation and the ${peer} peer (${hops} hop${hops === 1 ? '' : 's'}, its own origin)`)
    const [urls, info] = await Promise.all([b.call<PeerUrls>('startPeers', peerStart), w.call<SimInfo>('startSim', { yaml, latency: false, timeScale: 1 })])
    const peerChain = { proc: b, url: urls[PEERS[peer as PeerName]][hops - 1] as string, headers: { host } }
    return { next: async (k) => await peerRound(w, info, b, urls, k), routes: [peerChain, { proc: w, url: info.edgeUrl, headers }] }
  }

  /**
   * `--rate auto`: after the first pair's warm-up (at PROBE_RATE), rounds of both routes at once, each at the rate
   * the one before says keeps their CPU AUTO_BUSY busy (a process's CPU per request falls as its load rises, so the
   * steps close in from below), four at most. Loaded much harder the two fall behind (a round then counts CPU of
   * requests answered after it); much lighter, waking up for each request weighs more than the work (--calibrate
   * shows both).
   */
  async function pickRate (routes: readonly Target[]): Promise<number> {
    let busy = 0
    let measured = rate
    for (let step = 0; step < 4; step++) {
      const { us } = await together(routes[0] as Target, routes[1] as Target, step)
      measured = rate
      busy = (us[0] + us[1]) * rate / 1e6
      const next = Math.max(50, Math.min(3 * rate, Math.floor(rate * AUTO_BUSY / busy / 50) * 50))
      if (Math.abs(next - rate) <= 0.1 * rate) break
      rate = next
    }
    progress(`rate: ${rate} requests/s to each (at ${measured} the two kept their CPU ${Math.round(busy * 100)}% busy; aiming at ${Math.round(AUTO_BUSY * 100)}%)`)
    return rate
  }

  const [baseName, workName] = calibrateUs !== undefined ? ['as it is', `with ${calibrateUs} µs of work per server request`] : peer === undefined ? [ref, 'working tree'] : [peer, 'residency-sim']
  const unit = peer !== undefined ? 'per hop' : measure === 'cpu' ? 'per request' : 'p50'
  for (let p = 0; p < pairs; p++) {
    const { next, routes } = await startPair(p)
    const pin = pinProcesses([{ pid: (base as Child).pid, cpus: '1' }, { pid: (work as Child).pid, cpus: '1' }, { pid: loadgen.pid, cpus: '0' }])
    restore = 'restore' in pin ? pin.restore : undefined
    if (p === 0) progress('restore' in pin ? `${calibrateUs !== undefined ? 'both processes' : peer === undefined ? 'both builds' : `the simulation and the ${peer} peer`} on CPU 1, the load generator on CPU 0` : `not pinned: ${pin.reason}`)
    const picking = p === 0 && settings.rate === 'auto' && measure === 'cpu'
    if (picking) rate = PROBE_RATE
    for (let k = 0; k < 2; k++) {
      progress(`pair ${p + 1}/${pairs}: warm-up round ${k + 1}/2`)
      await next(k)
    }
    if (picking) rate = await pickRate(routes)
    if (calibrateUs !== undefined) {
      // After the rate is set: the calibration runs at the rate a comparison of the two as they are would.
      const added = await (work as Child).call<{ iterations: number, us: number }>('addWork', { us: calibrateUs })
      progress(`pair ${p + 1}/${pairs}: the second process does ${added.us.toFixed(1)} µs of work (${added.iterations} iterations) more per request a server of it takes in`)
    }
    const ratios: number[] = []
    counting = true
    for (let k = 0; k < rounds; k++) {
      const { base: b, work: w, given } = await next(k)
      baseUs.push(b)
      workUs.push(w)
      if (given !== undefined) {
        // The method's check: the difference read over the one given.
        readUs.push(w - b)
        givenUs.push(given)
        ratios.push((w - b) / given)
        progress(`pair ${p + 1}/${pairs}, round ${k + 1}/${rounds}: ${baseName} ${b.toFixed(1)} µs, ${workName} ${w.toFixed(1)} µs ${unit}: ${(w - b).toFixed(1)} µs more read, ${given.toFixed(1)} given, read / given ${((w - b) / given).toFixed(3)}`)
        continue
      }
      ratios.push(w / b)
      progress(`pair ${p + 1}/${pairs}, round ${k + 1}/${rounds}: ${baseName} ${b.toFixed(1)} µs, ${workName} ${w.toFixed(1)} µs ${unit}, ratio ${(w / b).toFixed(3)}`)
      // A hop is a difference of two measurements: under a light load a chain can read cheaper than its direct path.
      if (b <= 0 || w <= 0) progress('warning: a hop read 0 µs or less (a chain cheaper than its direct path): the load is too light to resolve a hop; raise --rate or --seconds')
    }
    counting = false
    groups.push(ratios)
    restore?.()
    restore = undefined
    await Promise.all([(base as Child).stop(), (work as Child).stop()])
  }
  const all = groups.flat()
  const [lo, hi] = groupedMedianCi(groups)
  const interval = Number.isFinite(lo) ? `95% interval ${lo.toFixed(3)} to ${hi.toFixed(3)}` : `no interval below ${MIN_ROUNDS} rounds`
  if (calibrateUs !== undefined) {
    process.stdout.write(`${host} from ${client}, latency ${latency ? 'on' : 'off'}, ${rate} requests/s to each process, ${pairs} pair${pairs === 1 ? '' : 's'} of processes x ${rounds} rounds of ${seconds} s:\n` +
      `calibration, ${calibrateUs} µs of work per server request: ${median(readUs).toFixed(1)} µs more CPU per request read, ${median(givenUs).toFixed(1)} given (medians); ` +
      `read / given ${median(all).toFixed(3)} (median of the per-round ratios; ${interval}); ` +
      `by pair of processes ${groups.map((g) => median(g).toFixed(3)).join(', ')}\n`)
  } else {
    const load = peer !== undefined
      ? `${rate} requests/s to each, against the ${peer} peer's ${hops}-hop chain`
      : measure === 'cpu' ? `${rate} requests/s to each build` : 'one request at a time, the builds in turn'
    const what = peer !== undefined
      ? `residency-sim / ${peer}: ${median(all).toFixed(3)}x the CPU per hop`
      : `working tree / ${ref}: ${median(all).toFixed(3)}x the ${measure === 'cpu' ? 'CPU per request' : 'p50 response time'}`
    process.stdout.write(`${host} from ${client}, latency ${latency ? 'on' : 'off'}, ${load}, ${pairs} pair${pairs === 1 ? '' : 's'} of processes x ${rounds} rounds of ${seconds} s:\n` +
      `${what} (median of the per-round ratios; ${interval}); ` +
      `medians of each side ${median(workUs).toFixed(1)} and ${median(baseUs).toFixed(1)} µs; ` +
      `by pair of processes ${groups.map((g) => median(g).toFixed(3)).join(', ')}\n`)
  }
} catch (err) {
  process.stderr.write(`bench/compare: ${(err as Error).message}\n`)
  process.exitCode = 1
} finally {
  await cleanUp()
}
