// `npm run bench:compare -- --base REF`: does a change cost or save CPU per request? The working tree and another
// build (REF, checked out into a temporary git worktree that uses this tree's node_modules) each run the simulation of
// the default configuration in a servers process of their own, both pinned to one CPU with the load generator on the
// other, and are loaded at the same time at the same fixed rate, the requests alternating between them. Per round,
// each process's CPU time per answered request; the result is the median of the per-round ratios (working tree / REF)
// with its bootstrap 95% interval. The interleaved trials of the overhead scenario cannot resolve a change of a few
// per cent on a shared machine; two builds loaded at once share its drift.
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
import { defaultYaml } from './lib/scenario-yaml.ts'
import type { SimInfo } from './lib/servers.ts'
import { groupedMedianCi, median, MIN_ROUNDS, summarise } from './lib/stats.ts'

const HELP = `Usage: node bench/compare.ts --base REF [--measure cpu|latency] [--pairs 3] [--rounds 6] [--rate 1000]
                              [--seconds 3] [--client LHR] [--host eu-shop.example] [--latency off|on]

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

Options:
  --base REF        the build to compare with (required)
  --measure M       cpu (CPU time per request under load, the default) or latency (p50 at one request in flight)
  --pairs N         fresh pairs of processes (default 3)
  --rounds N        rounds counted in each pair (default 6; an interval needs at least ${MIN_ROUNDS} in all)
  --rate RPS        requests per second to each build (default 1000)
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

let settings: { commit: string, ref: string, measure: 'cpu' | 'latency', pairs: number, rounds: number, rate: number, seconds: number, client: string, host: string, latency: boolean }
try {
  const values = parseOptions(process.argv.slice(2), {
    base: { type: 'string' },
    measure: { type: 'string', default: 'cpu' },
    pairs: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '6' },
    rate: { type: 'string', default: '1000' },
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
  if (values.base === undefined || values.base === '') throw invalid('--base', 'is required: the commit, branch or tag to compare the working tree with')
  const measure = values.measure ?? 'cpu'
  if (measure !== 'cpu' && measure !== 'latency') throw invalid('--measure', `must be cpu or latency, got "${measure}"`)
  const latency = values.latency ?? 'off'
  if (latency !== 'on' && latency !== 'off') throw invalid('--latency', `must be on or off, got "${latency}"`)
  const pairs = positiveInteger(values.pairs ?? '', '--pairs')
  const rounds = positiveInteger(values.rounds ?? '', '--rounds')
  const rate = positiveNumber(values.rate ?? '', '--rate')
  const seconds = positiveNumber(values.seconds ?? '', '--seconds')
  if (Math.round(2 * rate * seconds) < 2) throw invalid('--rate', `${rate} requests/s for ${seconds} s rounds to no request for one build; raise --rate or --seconds`)
  const client = values.client ?? 'LHR'
  const host = values.host ?? 'eu-shop.example'
  checkRoute(client, host, parseScenario(await defaultYaml(), 'default.yaml'), 'compare')
  settings = { commit: commitOf(values.base), ref: values.base, measure, pairs, rounds, rate, seconds, client, host, latency: latency === 'on' }
} catch (err) {
  refuse('bench/compare', err)
}
const { commit, ref, measure, pairs, rounds, rate, seconds, client, host, latency } = settings
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
  try { git(['worktree', 'remove', '--force', baseDir]) } catch { /* not created */ }
  await rm(dir, { recursive: true, force: true })
}
process.once('SIGINT', () => { void cleanUp().then(() => process.exit(130)) })

try {
  progress(`checking out ${ref} (${commit.slice(0, 10)}) into ${baseDir}`)
  git(['worktree', 'add', '--detach', '--quiet', baseDir, commit])
  if (!existsSync(join(baseDir, 'bench/lib/servers.ts'))) throw new Error(`${ref} has no bench/lib/servers.ts (the bench's servers process): it cannot be compared`)
  // The working tree's dependencies for both: a change of dependencies is not what this compares.
  await symlink(join(root, 'node_modules'), join(baseDir, 'node_modules'), 'dir')
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

  /** One round: CPU µs per answered request of [base, working tree]; odd rounds send to the working tree first. */
  async function round (pair: [Child, SimInfo][], k: number): Promise<[number, number]> {
    if (measure === 'latency') return await latencyRound(pair)
    const order = k % 2 === 0 ? pair : [pair[1], pair[0]] as [Child, SimInfo][]
    await Promise.all(order.map(([c]) => c.call('mark')))
    const res = await (loadgen as Child).call<JobResult<PacedResult>>('paced', {
      url: order[0]![1].edgeUrl,
      requests: order.map(([, info]) => ({ url: info.edgeUrl, headers })),
      rate: 2 * rate,
      durationS: seconds,
      warmupS: 0,
      connections: latency ? Math.max(16, Math.ceil(rate * 0.5)) : 16
    })
    const cpuMs = await Promise.all(order.map(([c]) => c.call<number>('cpuTime')))
    const r = res.results
    if (r.non2xx + r.errors > 0) throw new Error(`${r.non2xx} answers were not 2xx and ${r.errors} requests failed: the route does not serve`)
    let first = 0
    for (const i of r.route) if (i === 0) first++
    const answered = [first, r.route.length - first]
    const us = order.map((_, i) => (cpuMs[i] as number) * 1000 / (answered[i] as number))
    return k % 2 === 0 ? [us[0] as number, us[1] as number] : [us[1] as number, us[0] as number]
  }

  loadgen = spawnChild(new URL('./lib/loadgen.ts', import.meta.url))
  const groups: number[][] = []
  const baseUs: number[] = []
  const workUs: number[] = []
  for (let p = 0; p < pairs; p++) {
    base = spawnChild(join(baseDir, 'bench/lib/servers.ts'))
    work = spawnChild(new URL('./lib/servers.ts', import.meta.url))
    progress(`pair ${p + 1}/${pairs}: starting both simulations (latency ${latency ? 'on' : 'off'})`)
    const [infoBase, infoWork] = await Promise.all([base, work].map((c) => c.call<SimInfo>('startSim', { yaml, latency, timeScale: 1 })))
    const pin = pinProcesses([{ pid: base.pid, cpus: '1' }, { pid: work.pid, cpus: '1' }, { pid: loadgen.pid, cpus: '0' }])
    restore = 'restore' in pin ? pin.restore : undefined
    if (p === 0) progress('restore' in pin ? 'both builds on CPU 1, the load generator on CPU 0' : `not pinned: ${pin.reason}`)
    const pair: [Child, SimInfo][] = [[base, infoBase as SimInfo], [work, infoWork as SimInfo]]
    for (let k = 0; k < 2; k++) {
      progress(`pair ${p + 1}/${pairs}: warm-up round ${k + 1}/2`)
      await round(pair, k)
    }
    const ratios: number[] = []
    for (let k = 0; k < rounds; k++) {
      const [b, w] = await round(pair, k)
      baseUs.push(b)
      workUs.push(w)
      ratios.push(w / b)
      progress(`pair ${p + 1}/${pairs}, round ${k + 1}/${rounds}: ${ref} ${b.toFixed(1)} µs, working tree ${w.toFixed(1)} µs ${measure === 'cpu' ? 'per request' : 'p50'}, ratio ${(w / b).toFixed(3)}`)
    }
    groups.push(ratios)
    restore?.()
    restore = undefined
    await Promise.all([base.stop(), work.stop()])
  }
  const all = groups.flat()
  const [lo, hi] = groupedMedianCi(groups)
  const interval = Number.isFinite(lo) ? `95% interval ${lo.toFixed(3)} to ${hi.toFixed(3)}` : `no interval below ${MIN_ROUNDS} rounds`
  const load = measure === 'cpu' ? `${rate} requests/s to each build` : 'one request at a time, the builds in turn'
  process.stdout.write(`${host} from ${client}, latency ${latency ? 'on' : 'off'}, ${load}, ${pairs} pair${pairs === 1 ? '' : 's'} of processes x ${rounds} rounds of ${seconds} s:\n` +
    `working tree / ${ref}: ${median(all).toFixed(3)}x the ${measure === 'cpu' ? 'CPU per request' : 'p50 response time'} (median of the per-round ratios; ${interval}); ` +
    `medians of each side ${median(workUs).toFixed(1)} and ${median(baseUs).toFixed(1)} µs; ` +
    `by pair of processes ${groups.map((g) => median(g).toFixed(3)).join(', ')}\n`)
} catch (err) {
  process.stderr.write(`bench/compare: ${(err as Error).message}\n`)
  process.exitCode = 1
} finally {
  await cleanUp()
}
