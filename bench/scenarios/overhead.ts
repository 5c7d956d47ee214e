// Scenario 3, per-hop software overhead with latency off: the client straight to the origin, through one hop and
// through two hops, for residency-sim and for peer forwarders measured in the same run: a plain undici + fastify
// forwarder (the floor for Node), the same answering through residency-sim's buffered exchange (so that it differs
// from residency-sim's hop by the simulator's features alone), @fastify/http-proxy, and nginx when it is installed.
// Interleaved trials measure each variant alone; then concurrent pairs load residency-sim and one Node peer at the same
// time, at one fixed rate, and time their hops at one request in flight in turn, so that a ratio's two sides share the
// machine's conditions.
import { request } from 'undici'
import { bestOfTrials, DIRECT_PEERS, DIRECT_SIM } from '../lib/best-of.ts'
import { sized, type Ctx } from '../lib/context.ts'
import type { AlternatingResult, JobResult, PacedResult, StreamResult } from '../lib/loadgen.ts'
import { pinProcesses, speedProbe, which } from '../lib/machine.ts'
import { spawnChild, type Child } from '../lib/rpc.ts'
import { benchScenario, defaultYaml, peerStartFor } from '../lib/scenario-yaml.ts'
import type { PeerUrls, SimInfo } from '../lib/servers.ts'
import { fellBehind, groupedMedianCi, judged, median, round, spread, summarise, timingMismatch } from '../lib/stats.ts'
import { NGINX_HINT, startNginx, type NginxPeer } from '../peers/nginx.ts'

const HOST = 'eu-shop.example'

/** The share of their one CPU the concurrent pairs load the two processes to (as bench:compare --rate auto). */
const PAIR_BUSY = 0.6

/**
 * The Node variants of one pair of processes: the simulation's (its origin direct, one hop, two hops) and the peers'
 * (their origin direct, each chain with one and two hops).
 */
function nodeVariants (sim: Child, info: SimInfo, peerProc: Child, peers: PeerUrls): Variant[] {
  const h = { host: HOST }
  return [
    { name: DIRECT_SIM, proc: sim, system: 'direct', hops: 0, url: info.originUrls[HOST] as string, headers: h },
    { name: DIRECT_PEERS, proc: peerProc, system: 'direct', hops: 0, url: peers.origin, headers: h },
    // From Frankfurt the ingress is in the EU: one hop, inspected where it lands. From London (not EU) the ingress
    // relays to an EU PoP: two hops. Same customer, origin, rules and key mode in both.
    { name: 'residency-sim 1 hop', proc: sim, system: 'residency-sim', hops: 1, url: info.edgeUrl, headers: { ...h, 'x-sim-client': 'FRA' } },
    { name: 'residency-sim 2 hops', proc: sim, system: 'residency-sim', hops: 2, url: info.edgeUrl, headers: { ...h, 'x-sim-client': 'LHR' } },
    { name: 'plain 1 hop', proc: peerProc, system: 'plain', hops: 1, url: peers.plain[0], headers: h },
    { name: 'plain 2 hops', proc: peerProc, system: 'plain', hops: 2, url: peers.plain[1], headers: h },
    { name: 'plain (buffered) 1 hop', proc: peerProc, system: 'plain-buffered', hops: 1, url: peers.plainBuffered[0], headers: h },
    { name: 'plain (buffered) 2 hops', proc: peerProc, system: 'plain-buffered', hops: 2, url: peers.plainBuffered[1], headers: h },
    { name: '@fastify/http-proxy 1 hop', proc: peerProc, system: 'http-proxy', hops: 1, url: peers.httpProxy[0], headers: h },
    { name: '@fastify/http-proxy 2 hops', proc: peerProc, system: 'http-proxy', hops: 2, url: peers.httpProxy[1], headers: h }
  ]
}

interface Variant {
  readonly name: string
  /** The process serving it: the simulation's, or the peers' (each with its own origin on its own event loop). */
  readonly proc: Child
  readonly system: 'direct' | 'residency-sim' | 'plain' | 'plain-buffered' | 'http-proxy' | 'nginx'
  readonly hops: 0 | 1 | 2
  readonly url: string
  readonly headers: Record<string, string>
}

interface Trial {
  latency: StreamResult
  throughput: StreamResult
  cpu: { servers: number, loadgen: number, serversLatency: number, loadgenLatency: number }
  /** CPU time the serving processes used per answered request at throughput, µs: the Node process, plus nginx's. */
  cpuUsPerRequest: number
  /** nginx's own CPU share at throughput (its variants only; its origin is in the peers process, counted above). */
  nginxCpu?: number
}

async function check (v: Variant): Promise<string> {
  const res = await request(v.url + '/', { headers: v.headers })
  await res.body.dump()
  if (res.statusCode !== 200) throw new Error(`${v.name}: status ${res.statusCode}`)
  const ingress = res.headers['x-sim-ingress']
  return ingress === undefined ? '-' : `${String(ingress)}>${String(res.headers['x-sim-inspected-at'] ?? '-')}`
}

export async function runOverhead (ctx: Ctx) {
  const q = ctx.settings.quick
  const trials = q ? 1 : Math.max(1, Math.round(sized(ctx.settings, 7, 1)))
  const runS = sized(ctx.settings, 3, 1, 0.25)
  const warmS = sized(ctx.settings, 2, 0.5, 0.25)
  const throughputConnections = 32
  const bench = benchScenario(await defaultYaml())

  ctx.progress('overhead', 'starting the simulation (latency off), and the peer forwarders in a process of their own')
  const simStart = { yaml: bench.yaml, latency: false, timeScale: 1 }
  const info = await ctx.servers.call<SimInfo>('startSim', simStart)
  // The peers run in their own process with their own origin (the simulator's origin app, same settings), so the
  // simulation's background work (340 idle PoPs, log shipping, the control plane) is not charged to them, and each
  // system's chain, origin included, runs on one event loop.
  const peerProc = spawnChild(new URL('../lib/servers.ts', import.meta.url))
  const peerStart = peerStartFor(bench.scenario, HOST)
  const peers = await peerProc.call<PeerUrls>('startPeers', peerStart)
  const origin = peers.origin
  const nginxBin = which('nginx')
  let nginx: NginxPeer | undefined
  let nginxNote: string
  if (nginxBin === undefined) {
    nginxNote = NGINX_HINT
    ctx.progress('overhead', NGINX_HINT)
  } else {
    try {
      nginx = await startNginx(nginxBin, origin)
      nginxNote = `nginx ${nginx.version} (${nginxBin}), one worker process, pid ${nginx.pid}`
    } catch (err) {
      nginxNote = `nginx found at ${nginxBin} but did not start: ${(err as Error).message}`
      ctx.progress('overhead', nginxNote)
    }
  }

  const h = { host: HOST }
  const sp = ctx.servers
  const variants: Variant[] = nodeVariants(sp, info, peerProc, peers)
  if (nginx) {
    variants.push({ name: 'nginx 1 hop', proc: peerProc, system: 'nginx', hops: 1, url: nginx.oneHop, headers: h },
      { name: 'nginx 2 hops', proc: peerProc, system: 'nginx', hops: 2, url: nginx.twoHops, headers: h })
  }
  const routes: Record<string, string> = {}
  for (const v of variants) routes[v.name] = await check(v)

  const results = new Map<string, Trial[]>()
  async function measure (v: Variant, connections: number, seconds: number, label: string) {
    const done = ctx.watch('overhead', label)
    try {
      // nginx is not a Node process: its CPU time comes from /proc, for its master and worker.
      const nginx0 = v.system === 'nginx' ? nginx?.cpuMs() : undefined
      await v.proc.call('mark')
      const res = await ctx.loadgen.call<JobResult<StreamResult[]>>('cannon', {
        streams: [{ id: v.name, url: v.url, headers: v.headers, connections }], durationS: seconds, maxSamples: 2_000_000
      })
      const servers = await v.proc.call<number>('cpu')
      const cpuMs = await v.proc.call<number>('cpuTime')
      const nginx1 = nginx0 === undefined ? undefined : nginx?.cpuMs()
      const nginxMs = nginx0 === undefined || nginx1 === undefined ? undefined : nginx1 - nginx0
      const r = res.results[0] as StreamResult
      return {
        r,
        servers,
        loadgen: res.cpu,
        cpuUsPerRequest: r.responses > 0 ? (cpuMs + (nginxMs ?? 0)) * 1000 / r.responses : Number.NaN,
        ...(nginxMs === undefined ? {} : { nginxCpu: round(nginxMs / res.wallMs, 3) })
      }
    } finally { done() }
  }
  for (const v of variants) await measure(v, throughputConnections, warmS, `warm-up ${v.name}`)
  const probes: number[] = []
  for (let t = 0; t < trials; t++) {
    // How fast the machine runs as the trial starts (no load running): the drift the paired ratios below live with.
    probes.push(speedProbe())
    // Interleaved: every variant once per trial, starting from a different one each trial.
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(k + t) % variants.length] as Variant
      const lat = await measure(v, 1, runS, `trial ${t + 1}/${trials} ${v.name}: latency, 1 connection`)
      const thr = await measure(v, throughputConnections, runS, `trial ${t + 1}/${trials} ${v.name}: throughput, ${throughputConnections} connections`)
      const list = results.get(v.name) ?? []
      list.push({
        latency: lat.r,
        throughput: thr.r,
        cpu: { servers: thr.servers, loadgen: thr.loadgen, serversLatency: lat.servers, loadgenLatency: lat.loadgen },
        cpuUsPerRequest: thr.cpuUsPerRequest,
        ...(thr.nginxCpu === undefined ? {} : { nginxCpu: thr.nginxCpu })
      })
      results.set(v.name, list)
    }
    ctx.progress('overhead', `trial ${t + 1}/${trials} done`)
  }
  // Concurrent pairs: residency-sim and one Node peer loaded at the same time, each at the same fixed rate, and each
  // process's CPU time per request taken over the same seconds. The machine's drift between trials (the speed probe
  // above) then reaches both sides of a ratio alike, which the interleaved trials cannot give. The rate leaves both
  // servers room on their CPU: the one at which they keep it about 60% busy (pickPairRate).
  // The load is the paced engine's: evenly spaced requests, alternating between the two servers (autocannon's
  // overallRate would send each connection's quota for a second as the second starts, in bursts where the two
  // processes contend for their CPU; see the fidelity scenario).
  // Each round measures, for each peer in turn, the two direct paths, then the one-hop chains, then the two-hop chains,
  // back to back: the per-hop figures subtract the one before. Two processes of the same code can differ by a few per
  // cent for as long as they live (their heaps, their JIT's choices: `npm run bench:compare` of a build against itself
  // showed one pair of processes 6% apart over all its rounds), which rounds within one pair never show; so the rounds
  // run in several pairs of processes, the first those of the trials above, the others started fresh and warmed up,
  // and the interval is bootstrapped over the pairs and their rounds (stats.ts groupedMedianCi).
  const twoHopRps = variants.filter((v) => v.hops === 2 && v.system !== 'nginx').map((v) => median((results.get(v.name) ?? []).map((x) => x.throughput.rps)))
  // At most a third of the slowest two-hop chain's closed-loop throughput; the rate itself is found on the first pair
  // (pickPairRate), the one at which the two processes keep their CPU about PAIR_BUSY busy.
  const rateCap = Math.max(50, Math.floor(Math.min(...twoHopRps) / 3 / 50) * 50)
  let concurrentRate = rateCap
  let busyAtRate = Number.NaN
  let busyMeasuredAt = 0
  const processPairs = q ? 1 : Math.max(1, Math.round(sized(ctx.settings, 3, 1)))
  const roundsPerPair = q ? 1 : Math.max(1, Math.round(sized(ctx.settings, 4, 1)))
  const concurrentS = sized(ctx.settings, 2, 1, 0.5)
  const pairPeers = (['plain', 'plain-buffered', 'http-proxy'] as const).filter((p) => variants.some((v) => v.system === p && v.hops === 2))
  const byName = (list: readonly Variant[], name: string): Variant => list.find((v) => v.name === name) as Variant
  const chain = (list: readonly Variant[], system: Variant['system'], hops: 1 | 2): Variant => list.find((v) => v.system === system && v.hops === hops) as Variant
  /** The counted pair loads that fell behind their schedule (their CPU per request reads high), and how far. */
  const behind: { label: string, p90Ms: number, answeredRps: number }[] = []
  let countedLoads = 0
  async function together (a: Variant, b: Variant, label: string, counted = false): Promise<[number, number]> {
    const done = ctx.watch('overhead', label)
    try {
      await Promise.all([a.proc.call('mark'), b.proc.call('mark')])
      const res = await ctx.loadgen.call<JobResult<PacedResult>>('paced', {
        url: a.url,
        requests: [a, b].map((v) => ({ url: v.url, headers: v.headers })),
        rate: 2 * concurrentRate,
        durationS: concurrentS,
        warmupS: 0,
        connections: 16
      })
      const [ma, mb] = await Promise.all([a.proc.call<number>('cpuTime'), b.proc.call<number>('cpuTime')])
      const r = res.results
      if (r.non2xx + r.errors > 0) throw new Error(`${label}: ${r.non2xx} non-2xx answers, ${r.errors} errors`)
      if (counted) {
        countedLoads++
        const late = fellBehind(r.samplesMs, r.achievedRps, 2 * concurrentRate, concurrentS)
        if (late !== undefined) {
          behind.push({ label, p90Ms: round(late.p90Ms, 1), answeredRps: round(late.answeredRps, 0) })
          ctx.progress('overhead', `${label}: the two fell behind (p90 ${late.p90Ms.toFixed(1)} ms from the schedule, ${Math.round(late.answeredRps)} of ${2 * concurrentRate} requests/s answered): this round's CPU per request reads high`)
        }
      }
      let na = 0
      for (const k of r.route) if (k === 0) na++
      const nb = r.route.length - na
      if (na === 0 || nb === 0) throw new Error(`${label}: no answers from ${na === 0 ? a.name : b.name}`)
      return [ma * 1000 / na, mb * 1000 / nb]
    } finally { done() }
  }
  /**
   * Added latency per hop, residency-sim's and one peer's, measured together: one request at a time, in turn over the two
   * direct paths and both systems' one- and two-hop chains (the load generator's alternating engine), so that each
   * request meets nothing else in flight, and every route is measured within the same milliseconds as the others: the
   * machine's drift reaches both sides alike, which the interleaved trials at one connection (each variant alone, a
   * minute or more apart) cannot give. The p50 of each route, µs, direct then one hop then two hops, residency-sim's
   * then the peer's.
   */
  async function latencyTogether (list: readonly Variant[], peer: Variant['system'], label: string): Promise<{ sim: [number, number, number], peer: [number, number, number] }> {
    const done = ctx.watch('overhead', label)
    try {
      const chosen = [byName(list, DIRECT_SIM), byName(list, 'residency-sim 1 hop'), byName(list, 'residency-sim 2 hops'), byName(list, DIRECT_PEERS), chain(list, peer, 1), chain(list, peer, 2)]
      const res = await ctx.loadgen.call<JobResult<AlternatingResult>>('alternating', {
        routes: chosen.map((v) => ({ url: v.url, headers: v.headers })),
        durationS: concurrentS,
        warmupCycles: 20
      })
      const r = res.results
      if (r.non2xx + r.errors > 0) throw new Error(`${label}: ${r.non2xx} non-2xx answers, ${r.errors} errors`)
      const p50 = r.samplesMs.map((xs) => summarise(xs).p50 * 1000)
      if (r.cycles === 0 || p50.some((x) => !Number.isFinite(x))) throw new Error(`${label}: no answers`)
      return { sim: [p50[0], p50[1], p50[2]] as [number, number, number], peer: [p50[3], p50[4], p50[5]] as [number, number, number] }
    } finally { done() }
  }
  /**
   * A fresh pair of processes, the simulation's and the peers', started as the first were and warmed up: each variant
   * loaded four times as long as the trials' warm-up, as V8 keeps compiling for tens of seconds of load (and its
   * helper threads' CPU time counts), and the simulation has more code to compile than a peer.
   */
  async function freshPair (label: string): Promise<{ list: Variant[], stop: () => Promise<void> }> {
    const sim = spawnChild(new URL('../lib/servers.ts', import.meta.url))
    const peerSide = spawnChild(new URL('../lib/servers.ts', import.meta.url))
    const [simInfo, peerUrls] = await Promise.all([sim.call<SimInfo>('startSim', simStart), peerSide.call<PeerUrls>('startPeers', peerStart)])
    const list = nodeVariants(sim, simInfo, peerSide, peerUrls)
    for (const v of list) await measure(v, throughputConnections, 4 * warmS, `${label}: warm-up ${v.name}`)
    return {
      list,
      async stop () {
        await Promise.all([sim.call('stopSim', { limitMs: 2000 }), peerSide.call('stopPeers')])
        await Promise.all([sim.stop(), peerSide.stop()])
      }
    }
  }
  // Per round and peer: the two-hop chain's CPU per hop (the direct path taken off, halved), and its two hops apart:
  // the first (one-hop chain minus the direct path: for residency-sim a hop and the work a request needs once,
  // planning, inspection, records) and the second (two hops minus one: for residency-sim the relay alone, signed at
  // the ingress and verified at the inspection PoP).
  // And the latency each system's hop adds at one request in flight, measured together (latencyTogether).
  interface PairRound {
    ratio: number, simUs: number, peerUs: number, first: { simUs: number, peerUs: number }, second: { simUs: number, peerUs: number }
    latency: { simUs: number, peerUs: number }
  }
  /**
   * The pairs' rate: from a quarter of the cap, rounds of residency-sim's two-hop chain and the slowest peer's at once,
   * each at the rate the one before says keeps the shared CPU PAIR_BUSY busy (a process's CPU per request falls as its
   * load rises, so the steps close in from below), four at most. A third of a closed-loop throughput each overloaded
   * the pair on this machine (a round then counts CPU of requests answered after it; bench:compare --calibrate).
   */
  async function pickPairRate (list: readonly Variant[]): Promise<void> {
    const slowest = pairPeers.reduce((a, b) => (median((results.get(chain(list, a, 2).name) ?? []).map((x) => x.throughput.rps)) <= median((results.get(chain(list, b, 2).name) ?? []).map((x) => x.throughput.rps)) ? a : b))
    concurrentRate = Math.max(50, Math.floor(rateCap / 4 / 50) * 50)
    for (let step = 0; step < 4; step++) {
      const [a, b] = await together(byName(list, 'residency-sim 2 hops'), chain(list, slowest, 2), `the pairs' rate, step ${step + 1}: ${concurrentRate} rps each`)
      busyAtRate = (a + b) * concurrentRate / 1e6
      busyMeasuredAt = concurrentRate
      const next = Math.min(rateCap, Math.max(50, Math.floor(concurrentRate * PAIR_BUSY / busyAtRate / 50) * 50))
      if (Math.abs(next - concurrentRate) <= 0.1 * concurrentRate) break
      concurrentRate = next
    }
  }
  /** By peer, the rounds of each pair of processes. */
  const concurrentRatios = new Map<string, PairRound[][]>(pairPeers.map((p) => [p, []]))
  let pinning = ''
  for (let pair = 0; pair < processPairs; pair++) {
    const tag = `concurrent pairs, processes ${pair + 1}/${processPairs}`
    if (pair > 0) ctx.progress('overhead', `${tag}: starting a fresh simulation and peers process`)
    const fresh = pair === 0 ? undefined : await freshPair(tag)
    const list = fresh?.list ?? variants
    const procs = [byName(list, DIRECT_SIM).proc, byName(list, DIRECT_PEERS).proc]
    // Both servers share one CPU and the load generator has the other, so that a CPU slowed by a neighbour (a busy
    // hyperthread sibling on a shared host) slows both sides of a ratio alike instead of whichever process was on it.
    const pin = pinProcesses([{ pid: procs[0]!.pid, cpus: '1' }, { pid: procs[1]!.pid, cpus: '1' }, { pid: ctx.loadgen.pid, cpus: '0' }])
    if (pair === 0) {
      pinning = 'restore' in pin ? 'both servers on CPU 1, the load generator on CPU 0 (taskset)' : `not pinned: ${pin.reason}`
      await pickPairRate(list)
      ctx.progress('overhead', `concurrent pairs at ${concurrentRate} rps each (the shared CPU ${Math.round(busyAtRate * 100)}% busy at ${busyMeasuredAt}; at most ${rateCap}): ${pinning}`)
    }
    for (const peer of pairPeers) concurrentRatios.get(peer)?.push([])
    try {
      await together(byName(list, 'residency-sim 2 hops'), chain(list, 'plain', 2), `${tag}: warm-up`)
      // A fresh pair also runs one round first that is not counted: the paced load's own code paths.
      for (let round = fresh === undefined ? 0 : -1; round < roundsPerPair; round++) {
        for (let k = 0; k < pairPeers.length; k++) {
          const peer = pairPeers[(k + Math.max(0, round) + pair) % pairPeers.length] as typeof pairPeers[number]
          const at = round < 0 ? `${tag}, warm-up round, ${concurrentRate} rps each` : `${tag}, round ${round + 1}/${roundsPerPair}, ${concurrentRate} rps each`
          // The direct paths right before each pair's chains, so that the subtraction spans seconds of drift, not a round.
          const counted = round >= 0
          const [simDirect, peersDirect] = await together(byName(list, DIRECT_SIM), byName(list, DIRECT_PEERS), `${at}: the direct paths`, counted)
          const [sim1, peer1] = await together(byName(list, 'residency-sim 1 hop'), chain(list, peer, 1), `${at}: residency-sim and ${peer}, one hop`, counted)
          const [sim2, peer2] = await together(byName(list, 'residency-sim 2 hops'), chain(list, peer, 2), `${at}: residency-sim and ${peer}, two hops`, counted)
          const lat = await latencyTogether(list, peer, `${at}: residency-sim and ${peer}, latency at one request in flight`)
          if (round < 0) continue
          const simUs = (sim2 - simDirect) / 2
          const peerUs = (peer2 - peersDirect) / 2
          concurrentRatios.get(peer)?.at(-1)?.push({
            ratio: simUs / peerUs,
            simUs,
            peerUs,
            first: { simUs: sim1 - simDirect, peerUs: peer1 - peersDirect },
            second: { simUs: sim2 - sim1, peerUs: peer2 - peer1 },
            latency: { simUs: (lat.sim[2] - lat.sim[0]) / 2, peerUs: (lat.peer[2] - lat.peer[0]) / 2 }
          })
        }
      }
    } finally {
      if ('restore' in pin) pin.restore()
      await fresh?.stop()
    }
  }
  const concurrentOf = (peer: string) => {
    const byPair = concurrentRatios.get(peer) ?? []
    const xs = byPair.flat()
    if (xs.length === 0) return null
    const band = (ratios: (x: PairRound) => number) => {
      const groups = byPair.map((g) => g.map(ratios))
      const [lo, hi] = groupedMedianCi(groups)
      return {
        median: round(median(groups.flat()), 2),
        ci95: [round(lo, 2), round(hi, 2)],
        rounds: groups.flat().map((x) => round(x, 3)),
        /** The median of each pair of processes' rounds. */
        byProcessPair: groups.map((g) => round(median(g), 3))
      }
    }
    // One hop of the chain by itself: its ratio per round, and each side's median µs.
    // The ratio is the median of the per-round ratios (the paired statistic: each round's two sides ran under the same
    // conditions); the µs are each side's own median over the rounds, so their quotient need not be that ratio.
    const hop = (pick: (x: PairRound) => { simUs: number, peerUs: number }) => ({
      cpu: band((x) => pick(x).simUs / pick(x).peerUs),
      simUs: round(median(xs.map((x) => pick(x).simUs)), 1),
      peerUs: round(median(xs.map((x) => pick(x).peerUs)), 1)
    })
    return {
      rounds: xs.length,
      /** The median of the per-round ratios, with its two-stage bootstrap 95% interval (none below MIN_ROUNDS rounds). */
      cpuTwoHopsEach: band((x) => x.ratio),
      /** Each side's median µs per hop over the rounds, apart: not the two sides of the ratio above. */
      simUsPerHop: round(median(xs.map((x) => x.simUs)), 1),
      peerUsPerHop: round(median(xs.map((x) => x.peerUs)), 1),
      firstHop: hop((x) => x.first),
      secondHop: hop((x) => x.second),
      /**
       * Latency added per hop of two at one request in flight, both systems measured together: the median of the
       * per-round ratios with its interval, and each side's median µs.
       */
      latency: {
        ratio: band((x) => x.latency.simUs / x.latency.peerUs),
        simUs: round(median(xs.map((x) => x.latency.simUs)), 1),
        peerUs: round(median(xs.map((x) => x.latency.peerUs)), 1)
      }
    }
  }
  const concurrent = {
    rateRps: concurrentRate,
    /** How the rate was found: at most a third of the slowest two-hop throughput, stepped to the CPU share aimed at. */
    rateCapRps: rateCap,
    busyAim: PAIR_BUSY,
    // Results before this field were loaded by autocannon's overallRate.
    load: 'paced' as 'paced' | 'overallRate',
    rounds: processPairs * roundsPerPair,
    /** Pairs of processes the rounds ran in (the first the trials'; the others fresh), and rounds in each. */
    processPairs,
    roundsPerPair,
    pinning,
    runSeconds: concurrentS,
    /** Counted pair loads (direct paths, one hop, two hops, per peer and round), and those that fell behind. */
    loads: countedLoads,
    behind,
    vsPlain: concurrentOf('plain'),
    vsPlainBuffered: concurrentOf('plain-buffered'),
    vsHttpProxy: concurrentOf('http-proxy')
  }

  await nginx?.stop()
  await peerProc.call('stopPeers')
  await peerProc.stop()
  const closeMs = await ctx.servers.call<number>('stopSim')

  const rows = variants.map((v) => {
    const ts = results.get(v.name) ?? []
    const lat = ts.map((x) => summarise(x.latency.samplesMs))
    const rps = ts.map((x) => x.throughput.rps)
    return {
      variant: v.name,
      system: v.system,
      hops: v.hops,
      route: routes[v.name],
      latencyUs: {
        p50: round(median(lat.map((s) => s.p50)) * 1000, 1),
        p90: round(median(lat.map((s) => s.p90)) * 1000, 1),
        p99: round(median(lat.map((s) => s.p99)) * 1000, 1),
        p50Trials: lat.map((s) => round(s.p50 * 1000, 1))
      },
      throughputRps: round(median(rps), 0),
      throughputTrials: rps.map((x) => round(x, 0)),
      throughputSpread: round(spread(rps), 3),
      throughputP50Us: round(median(ts.map((x) => summarise(x.throughput.samplesMs).p50)) * 1000, 1),
      non2xx: ts.reduce((s, x) => s + x.latency.non2xx + x.throughput.non2xx + x.latency.errors + x.throughput.errors, 0),
      cpu: {
        serversAtThroughput: round(median(ts.map((x) => x.cpu.servers)), 2),
        loadgenAtThroughput: round(median(ts.map((x) => x.cpu.loadgen)), 2),
        serversAtLatency: round(median(ts.map((x) => x.cpu.serversLatency)), 2),
        loadgenAtLatency: round(median(ts.map((x) => x.cpu.loadgenLatency)), 2),
        /** nginx's own share at throughput, for its variants (the column above is its origin's process). */
        ...(v.system === 'nginx' ? { nginxAtThroughput: round(median(ts.map((x) => x.nginxCpu ?? Number.NaN)), 2) } : {}),
        /** Process CPU time per answered request at throughput, µs: measured, not inferred from the throughput. */
        usPerRequest: round(median(ts.map((x) => x.cpuUsPerRequest)), 1),
        usPerRequestTrials: ts.map((x) => round(x.cpuUsPerRequest, 1))
      }
    }
  })
  const directSim = rows.find((r) => r.variant === DIRECT_SIM)
  const directPeers = rows.find((r) => r.variant === DIRECT_PEERS)
  // Per hop: latency added at one connection (p50), and server CPU time per request from saturated throughput
  // (1 / rps on one event loop), each minus the direct path, divided by the hop count; the two-hop chain is the cleaner
  // figure (a hop with both an ingress and an inspection PoP for residency-sim).
  const perHop = (['residency-sim', 'plain', 'plain-buffered', 'http-proxy', 'nginx'] as const).map((system) => {
    const one = rows.find((r) => r.system === system && r.hops === 1)
    const two = rows.find((r) => r.system === system && r.hops === 2)
    // Each system against the direct path to its own origin, on its own process; nginx uses the peers' origin.
    const direct = system === 'residency-sim' ? directSim : directPeers
    if (!one || !two || !direct) return undefined
    const costUs = (rps: number): number => 1e6 / rps
    return {
      system,
      latencyUsPerHop: {
        oneHop: round(one.latencyUs.p50 - direct.latencyUs.p50, 1),
        twoHopsEach: round((two.latencyUs.p50 - direct.latencyUs.p50) / 2, 1)
      },
      cpuUsPerHop: {
        oneHop: round(costUs(one.throughputRps) - costUs(direct.throughputRps), 1),
        twoHopsEach: round((costUs(two.throughputRps) - costUs(direct.throughputRps)) / 2, 1)
      },
      // The processes' CPU time per request, measured: the same as 1 / rps for a process that was saturated, and the
      // only right figure for one that was not (nginx, whose chain is held back by the Node origin it proxies to).
      processCpuUsPerHop: {
        oneHop: round(one.cpu.usPerRequest - direct.cpu.usPerRequest, 1),
        twoHopsEach: round((two.cpu.usPerRequest - direct.cpu.usPerRequest) / 2, 1)
      }
    }
  }).filter((x) => x !== undefined)
  const sim = perHop.find((x) => x.system === 'residency-sim')
  const ratio = (peer: string) => {
    const p = perHop.find((x) => x.system === peer)
    if (!sim || !p) return null
    return {
      latencyOneHop: round(sim.latencyUsPerHop.oneHop / p.latencyUsPerHop.oneHop, 2),
      latencyTwoHopsEach: round(sim.latencyUsPerHop.twoHopsEach / p.latencyUsPerHop.twoHopsEach, 2),
      cpuOneHop: round(sim.cpuUsPerHop.oneHop / p.cpuUsPerHop.oneHop, 2),
      cpuTwoHopsEach: round(sim.cpuUsPerHop.twoHopsEach / p.cpuUsPerHop.twoHopsEach, 2),
      processCpuTwoHopsEach: round(sim.processCpuUsPerHop.twoHopsEach / p.processCpuUsPerHop.twoHopsEach, 2),
      throughputTwoHops: round((rows.find((r) => r.system === 'residency-sim' && r.hops === 2)?.throughputRps ?? 0) / (rows.find((r) => r.system === peer && r.hops === 2)?.throughputRps ?? 1), 2)
    }
  }
  const vsPlain = ratio('plain')
  const vsProxy = ratio('http-proxy')
  // The same ratios trial by trial: every variant ran once per trial within a few tens of seconds, so a trial's ratio
  // compares the systems under the same machine conditions, and the spread of those ratios says how far the machine's
  // drift between trials (here often 1.5x on the same code) could move the ratio of the medians above.
  const paired = (peer: string) => {
    const trialsOf = (system: string, hops: number): Trial[] => {
      const v = variants.find((x) => x.system === system && x.hops === hops)
      return v === undefined ? [] : results.get(v.name) ?? []
    }
    const directName = (system: string): string => system === 'residency-sim' ? DIRECT_SIM : DIRECT_PEERS
    const perHopTrials = (system: string) => {
      const two = trialsOf(system, 2)
      const direct = results.get(directName(system)) ?? []
      return two.map((x, i) => {
        const d = direct[i]
        if (d === undefined) return undefined
        return {
          cpu: (1e6 / x.throughput.rps - 1e6 / d.throughput.rps) / 2,
          latency: (summarise(x.latency.samplesMs).p50 - summarise(d.latency.samplesMs).p50) * 1000 / 2
        }
      })
    }
    const mine = perHopTrials('residency-sim')
    const theirs = perHopTrials(peer)
    const cpu: number[] = []
    const latency: number[] = []
    for (let i = 0; i < Math.min(mine.length, theirs.length); i++) {
      const a = mine[i]
      const b = theirs[i]
      if (a === undefined || b === undefined || !(b.cpu > 0) || !(b.latency > 0)) continue
      cpu.push(a.cpu / b.cpu)
      latency.push(a.latency / b.latency)
    }
    if (cpu.length === 0) return null
    const band = (xs: number[]) => ({ median: round(median(xs), 2), min: round(Math.min(...xs), 2), max: round(Math.max(...xs), 2) })
    return { trials: cpu.length, cpuTwoHopsEach: band(cpu), latencyTwoHopsEach: band(latency) }
  }
  const loadgenMax = Math.max(...rows.map((r) => r.cpu.loadgenAtThroughput))
  // Every closed-loop run's response times against the time its connections had: the recorder's own sanity check.
  const timingWarnings = variants.flatMap((v) => {
    const ts = results.get(v.name) ?? []
    return [timingMismatch(`${v.name}, 1 connection`, ts.map((x) => x.latency)), timingMismatch(`${v.name}, ${throughputConnections} connections`, ts.map((x) => x.throughput))]
  }).filter((x) => x !== undefined)
  return {
    scenario: 'overhead',
    settings: {
      trials, runSeconds: runS, warmupSeconds: warmS, latency: 'off', host: HOST,
      latencyConnections: 1, throughputConnections,
      processes: 'residency-sim with its origins in one process; the Node peers with their own origin (the same origin app) in another; autocannon in a third; nginx (one worker) in its own; 2 cores shared by all',
      timing: 'each response timed from autocannon\'s `response` event (hrtime, fractional ms), into exact sample arrays'
    },
    nginx: nginxNote,
    /** How long the simulation took to close after the runs (-1: not within 5 s). */
    simulationCloseMs: closeMs,
    rows,
    perHop,
    ratios: { vsPlain, vsPlainBuffered: ratio('plain-buffered'), vsHttpProxy: vsProxy, vsNginx: ratio('nginx') },
    /** A fixed piece of CPU work timed as each trial started (bench/lib/machine.ts speedProbe), ms. */
    speedProbeMsTrials: probes,
    /** Two-hop per-hop ratios computed within each trial: their median and range over the trials. */
    pairedRatios: { vsPlain: paired('plain'), vsPlainBuffered: paired('plain-buffered'), vsHttpProxy: paired('http-proxy') },
    /**
     * Process CPU per hop of two, residency-sim and each Node peer loaded at the same time at the same fixed rate, per
     * round each pair right after the direct paths: the median of the per-round ratios with a bootstrap 95% interval.
     */
    concurrent,
    /** Per-hop costs from each variant's cheapest trial, with the second hop alone (bench/lib/best-of.ts). */
    bestOfTrials: bestOfTrials(rows),
    targets: {
      // By the medians of the interleaved trials (each variant alone, so the machine's drift between trials enters).
      withinOneQuarterOfPlain: vsPlain ? { latency: vsPlain.latencyTwoHopsEach <= 1.25, cpu: vsPlain.cpuTwoHopsEach <= 1.25 } : null,
      fasterThanHttpProxy: vsProxy ? { latency: vsProxy.latencyTwoHopsEach < 1, cpu: vsProxy.cpuTwoHopsEach < 1 } : null,
      // By the concurrent pairs' process CPU per hop of two, judged by its 95% interval (stats.ts judged): undecided
      // below MIN_ROUNDS rounds, which give no interval.
      concurrent: {
        withinOneQuarterOfPlain: concurrent.vsPlain === null ? null : judged(concurrent.vsPlain.cpuTwoHopsEach.ci95, 1.25),
        fasterThanHttpProxy: concurrent.vsHttpProxy === null ? null : judged(concurrent.vsHttpProxy.cpuTwoHopsEach.ci95, 1, true),
        // The same targets by the latency a hop adds, both systems measured together at one request in flight.
        latency: {
          withinOneQuarterOfPlain: concurrent.vsPlain === null ? null : judged(concurrent.vsPlain.latency.ratio.ci95, 1.25),
          fasterThanHttpProxy: concurrent.vsHttpProxy === null ? null : judged(concurrent.vsHttpProxy.latency.ratio.ci95, 1, true)
        }
      }
    },
    /** Runs whose response times cannot be the requests' own (bench/lib/stats.ts timingMismatches); empty when all add up. */
    timingWarnings,
    loadGenerator: {
      maxCpuAtThroughput: loadgenMax,
      bottleneck: loadgenMax > 0.9 ? 'possibly: the load generator was near one full core on some variant' : 'no: the load generator had CPU to spare on every variant'
    }
  }
}

export type OverheadResult = Awaited<ReturnType<typeof runOverhead>>
