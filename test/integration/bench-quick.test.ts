// Keeps the benchmark code working: runs `bench/run.ts --quick` and `bench/profile.ts` with tiny durations in child
// processes and checks that they complete and write well-formed results. It asserts nothing about speed (that is
// what the bench is for).
import { execFileSync, spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const runner = fileURLToPath(new URL('../../bench/run.ts', import.meta.url))
const profiler = fileURLToPath(new URL('../../bench/profile.ts', import.meta.url))
const comparer = fileURLToPath(new URL('../../bench/compare.ts', import.meta.url))

function run (args: string[]): Promise<{ code: number | null, stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [runner, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

async function json (dir: string, file: string): Promise<{ name: string, machine: { node: string, cpu: string }, date: string, result: Record<string, unknown> }> {
  return JSON.parse(await readFile(join(dir, file), 'utf8'))
}

describe('bench --quick', () => {
  let dir = ''
  afterAll(async () => { if (dir) await rm(dir, { recursive: true, force: true }) })

  it('runs every scenario and writes JSON, a summary and charts', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rsim-bench-'))
    const { code, stderr } = await run(['--quick', '--scale', '0.3', '--out', dir])
    expect(code, stderr).toBe(0)
    expect(stderr).toMatch(/\[added\] .*trial 1\/1/)

    const added = await json(dir, 'added-latency.json')
    expect(added.name).toBe('added')
    expect(added.machine.node).toMatch(/^v\d+/)
    expect(Number.isNaN(Date.parse(added.date))).toBe(false)
    const rows = added.result.rows as { measured: { p50: number }, modelled: { addedMs: number } }[]
    expect(rows.length).toBeGreaterThan(0)
    for (const r of rows) expect(typeof r.modelled.addedMs).toBe('number')
    // Every stream's response times add up within its connection's time: the simulation keeps client connections.
    expect(added.result.timingWarnings).toEqual([])

    const fidelity = await json(dir, 'fidelity.json')
    expect((fidelity.result.workloads as unknown[]).length).toBe(2)
    // The cross-check with autocannon's own fixed rate: a row per rate the single route's first trial reached (a tiny
    // quick step may stop the climb after the first).
    const cross = fidelity.result.autocannon as { targetRps: number, correctedP50ErrorMs: number, pacedP50ErrorMs: number }[]
    expect(cross[0]?.targetRps).toBe(50)
    expect(cross.length).toBeLessThanOrEqual(2)
    for (const x of cross) expect(Number.isFinite(x.correctedP50ErrorMs) && Number.isFinite(x.pacedP50ErrorMs)).toBe(true)
    for (const step of fidelity.result.steps as { speedProbeMs: number, samples: number, p50ErrorMs: number, scheduleP50ErrorMs: number, sendLagP50Ms: number, simulator?: { settled: number, late: number, lateShare: number, loopDelayP99Ms: number } }[]) {
      expect(step.speedProbeMs).toBeGreaterThan(0)
      // Measured from the schedule, an error also holds the generator's lag behind it, which is never negative.
      expect(step.sendLagP50Ms).toBeGreaterThanOrEqual(0)
      expect(step.scheduleP50ErrorMs).toBeGreaterThanOrEqual(step.p50ErrorMs - 0.01)
      // The simulation's own count over the step: every answered request was held to its model, warm-up included.
      expect(step.simulator?.settled).toBeGreaterThanOrEqual(step.samples)
      expect(step.simulator?.lateShare).toBeGreaterThanOrEqual(0)
      expect(step.simulator?.lateShare).toBeLessThanOrEqual(1)
      // How late the loop ran its sampling timer, the interval itself not counted: 0 on a loop that kept up.
      expect(step.simulator?.loopDelayP99Ms).toBeGreaterThanOrEqual(0)
      expect(step.simulator?.loopDelayP99Ms).toBeLessThan(10_000)
    }
    const overhead = await json(dir, 'overhead.json')
    expect((overhead.result.rows as { variant: string }[]).map((r) => r.variant)).toContain('residency-sim 2 hops')
    // The plain forwarder on residency-sim's own buffered exchange, beside the streaming one.
    expect((overhead.result.rows as { variant: string }[]).map((r) => r.variant)).toContain('plain (buffered) 2 hops')
    expect((overhead.result.pairedRatios as { vsPlainBuffered: { trials: number } | null }).vsPlainBuffered?.trials).toBe(1)
    expect(typeof overhead.result.nginx).toBe('string')
    // Without nginx (CI has none), every variant is a Node server that keeps its connections: nothing to flag.
    if (/not installed/.test(overhead.result.nginx as string)) expect(overhead.result.timingWarnings).toEqual([])
    // The serving processes' CPU time per request, measured, beside the figure inferred from the throughput.
    for (const row of overhead.result.rows as { cpu: { usPerRequest: number } }[]) expect(row.cpu.usPerRequest).toBeGreaterThan(0)
    for (const hop of overhead.result.perHop as { processCpuUsPerHop: { twoHopsEach: number } }[]) expect(Number.isFinite(hop.processCpuUsPerHop.twoHopsEach)).toBe(true)
    // How fast the machine ran: a probe per trial and before and after each scenario, in ms of a fixed piece of work.
    const probes = overhead.result.speedProbeMsTrials as number[]
    expect(probes.length).toBe(1)
    for (const ms of probes) expect(ms).toBeGreaterThan(0)
    expect((overhead.machine as { speedProbeMs?: number }).speedProbeMs).toBeGreaterThan(0)
    const paired = overhead.result.pairedRatios as { vsPlain: { trials: number, cpuTwoHopsEach: { median: number } } | null }
    expect(paired.vsPlain?.trials).toBe(1)
    // Concurrent pairs: one round in a quick run, at a rate derived from the measured throughputs.
    const concurrent = overhead.result.concurrent as { rateRps: number, pinning: string, processPairs: number, roundsPerPair: number, vsPlain: { rounds: number, cpuTwoHopsEach: { median: number, ci95: number[], byProcessPair: number[] } } | null, vsHttpProxy: { rounds: number } | null }
    expect(concurrent.rateRps).toBeGreaterThanOrEqual(50)
    // The quick run's rounds: one pair of processes (the trials'), one round; the pair's median is that round's.
    expect([concurrent.processPairs, concurrent.roundsPerPair]).toEqual([1, 1])
    expect(concurrent.vsPlain?.cpuTwoHopsEach.byProcessPair).toHaveLength(1)
    expect((concurrent as { load?: string }).load).toBe('paced')
    // Pinned where taskset can (CI's Debian has it); otherwise the reason, never silence.
    expect(concurrent.pinning).toMatch(/^(both servers on CPU 1, the load generator on CPU 0 \(taskset\)|not pinned: .+)$/)
    expect(concurrent.rateRps % 50).toBe(0)
    expect(concurrent.vsPlain?.rounds).toBe(1)
    expect(concurrent.vsHttpProxy?.rounds).toBe(1)
    expect(Number.isFinite(concurrent.vsPlain?.cpuTwoHopsEach.median)).toBe(true)
    expect(concurrent.vsPlain?.cpuTwoHopsEach.ci95).toHaveLength(2)
    // The targets judged by the pairs' intervals.
    const verdicts = (overhead.result.targets as { concurrent: Record<string, string | null> }).concurrent
    for (const v of [verdicts.withinOneQuarterOfPlain, verdicts.fasterThanHttpProxy]) expect(['met', 'not met', 'undecided']).toContain(v)
    // The two hops apart: the first (with the once-per-request work) and the second (the relay), each side measured.
    const split = concurrent.vsPlain as unknown as Record<'firstHop' | 'secondHop', { cpu: { median: number }, simUs: number, peerUs: number }>
    for (const hop of [split.firstHop, split.secondHop]) {
      expect(Number.isFinite(hop.cpu.median)).toBe(true)
      expect(Number.isFinite(hop.simUs) && Number.isFinite(hop.peerUs)).toBe(true)
    }
    // The latency a hop adds, each side measured at one request in flight within the same seconds, for every Node peer.
    for (const peer of ['vsPlain', 'vsPlainBuffered', 'vsHttpProxy'] as const) {
      const l = (overhead.result.concurrent as Record<string, { latency: { ratio: { median: number }, simUs: number, peerUs: number } }>)[peer]?.latency
      expect(l?.simUs).toBeGreaterThan(0)
      expect(l?.peerUs).toBeGreaterThan(0)
      expect(l?.ratio.median).toBeCloseTo((l?.simUs ?? 0) / (l?.peerUs ?? 1), 1)
    }
    const byLatency = (verdicts as unknown as { latency: Record<string, string | null> }).latency
    for (const v of [byLatency.withinOneQuarterOfPlain, byLatency.fasterThanHttpProxy]) expect(['met', 'not met', 'undecided']).toContain(v)
    const handshake = await json(dir, 'handshake.json')
    expect(typeof handshake.result.status).toBe('string')
    expect((handshake.result.rows as unknown[]).length).toBe(3)
    // Real TLS through the TLS edge: each run says which handshake the simulation reported.
    const tls = handshake.result.tls as { rows: { host: string, runs: { run: string, handshakeHeaders: Record<string, number> }[] }[] }
    expect(tls.rows.map((r) => r.host)).toEqual(['eu-shop.example', 'uk-news.example'])
    for (const r of tls.rows) {
      expect(r.runs.map((x) => x.run)).toEqual(['new', 'resumed', 'established'])
      expect(Object.keys(r.runs[0]?.handshakeHeaders ?? {})).toEqual(['local'])
      expect(Object.keys(r.runs[1]?.handshakeHeaders ?? {})).toEqual(['resumed'])
      expect(Object.keys(r.runs[2]?.handshakeHeaders ?? {})).toEqual(['none'])
    }

    const summary = await readFile(join(dir, 'summary.md'), 'utf8')
    for (const h of ['## 1. Added latency', '## 2. Fidelity', '## 3. Per-hop', '## 4. TLS handshakes']) expect(summary).toContain(h)
    expect(summary).toContain('Cross-check with autocannon')
    expect(summary).toMatch(/speed probe \(a fixed piece of CPU work, best of five; higher is slower\) [\d.]+ ms before/)
    expect(summary).toMatch(/Machine speed: the speed probe \(a fixed piece of CPU work\) took [\d.]+ to [\d.]+ ms/)
    expect(summary).toContain('The same two-hop ratios computed within each trial')
    expect(summary).toContain('| plain, buffered (residency-sim\'s exchange) |')
    expect(summary).toMatch(/The plain forwarder answering through residency-sim's buffered exchange: [\d.]+ µs latency/)
    expect(summary).toContain('| servers CPU | load gen CPU | speed probe ms | late (own count) | loop delay p99 ms |')
    expect(summary).toContain('| p99 error | p50 error from schedule | generator lag p50 | faithful |')
    expect(summary).toContain('A trial stops climbing a workload once it collapses')
    const single = (fidelity.result.workloads as { workload: string, rows: { targetRps: number, trials: number }[] }[])[0]
    // The quick run has one trial: every rate it reached, it reached once.
    for (const row of single?.rows ?? []) expect(row.trials).toBe(1)
    expect(summary).toContain('**Real TLS through the TLS edge**')
    expect(summary).toContain('| servers CPU | servers CPU µs per request | load gen CPU |')
    expect(summary).toContain('| against | latency, 1 hop | latency, 2 hops | CPU, 1 hop | CPU, 2 hops | process CPU, 2 hops | throughput, 2 hops |')
    expect(summary).toContain('Timing check: in every run, the response times add up to no more than the time its connections had')
    for (const svg of ['added-latency.svg', 'fidelity.svg']) {
      const text = await readFile(join(dir, svg), 'utf8')
      expect(text.startsWith('<svg')).toBe(true)
      expect(text.trimEnd().endsWith('</svg>')).toBe(true)
    }
  }, 120_000)

  async function runProfiler (args: string[], file = profiler): Promise<{ code: unknown, stdout: string, stderr: string }> {
    const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    const code = await new Promise((resolve) => child.on('close', resolve))
    return { code, stdout, stderr }
  }

  it('profiles the simulation under load and prints its CPU per request by category', async () => {
    const out = await mkdtemp(join(tmpdir(), 'rsim-profile-'))
    try {
      const { code, stdout, stderr } = await runProfiler(['--seconds', '1', '--connections', '4', '--out', out])
      expect(code, stderr).toBe(0)
      expect(stderr).toContain('[profile] profiling: 1 s')
      expect(stdout).toMatch(/eu-shop\.example from LHR, latency off, 4 connections: \d+ requests\/s/)
      expect(stdout).toMatch(/µs per request/)
      expect(stdout).toContain('socket writes (system calls)')
      expect(stdout).toContain('residency-sim services/pop/')
      const profile = JSON.parse(await readFile(join(out, 'LHR-eu-shop.example-latency-off.cpuprofile'), 'utf8')) as { nodes: unknown[], samples: unknown[] }
      expect(profile.nodes.length).toBeGreaterThan(0)
      expect(profile.samples.length).toBeGreaterThan(0)

      // The open loop at a fixed rate (the fidelity scenario's load), with the modelled delays on, on at most 8 connections.
      const paced = await runProfiler(['--seconds', '1', '--rate', '40', '--connections', '8', '--latency', 'on', '--client', 'EWR', '--out', out])
      expect(paced.code, paced.stderr).toBe(0)
      expect(paced.stderr).toContain('warm-up: 1 s, 40 requests/s (paced, on at most 8 connections)')
      expect(paced.stdout).toMatch(/eu-shop\.example from EWR, latency on, 40 requests\/s \(paced, on at most 8 connections\): \d+ requests\/s/)
      // Forty requests sample too little to name any one source file reliably: the breakdown itself is what is checked.
      expect(paced.stdout).toContain('self time per request, by category:')
      expect(paced.stdout).toMatch(/µs per request/)

      // A peer forwarder chain of the overhead scenario, for the same breakdown side by side.
      const peer = await runProfiler(['--peer', 'plain', '--hops', '2', '--seconds', '1', '--connections', '4', '--out', out])
      expect(peer.code, peer.stderr).toBe(0)
      expect(peer.stdout).toMatch(/plain peer, 2 hops, 4 connections: \d+ requests\/s/)
      expect(peer.stdout).toContain('undici (upstream client)')
      expect(peer.stdout).not.toContain('residency-sim services/pop/')
      const peerProfile = JSON.parse(await readFile(join(out, 'peer-plain-2.cpuprofile'), 'utf8')) as { samples: unknown[] }
      expect(peerProfile.samples.length).toBeGreaterThan(0)
      const badPeer = await runProfiler(['--peer', 'envoy'])
      expect(badPeer.code).toBe(2)
      expect(badPeer.stderr).toContain('bench/profile: SIM_ERR_INPUT_INVALID: invalid input at --peer: must be plain, plain-buffered or http-proxy')

      // Refused up front with a code: before the servers start, before any load.
      const refusals: [string[], string][] = [
        [['--latency', 'sometimes'], 'invalid input at --latency: must be on or off'],
        [['--rate', '100', '--connections', '0'], 'invalid input at --connections: must be a whole number greater than 0'],
        [['--rate', '0.4', '--seconds', '1'], 'invalid input at --rate: 0.4 requests/s for 1 s rounds to no request at all'],
        [['--connections', '0.3'], 'invalid input at --connections: must be a whole number greater than 0'],
        [['--client', 'XYZ'], 'invalid input at --client: SIM_ERR_CLIENT_LOCATION_INVALID'],
        [['--host', 'nope.example'], 'invalid input at --host: no customer of the default configuration has host "nope.example"'],
        [['--out', join(out, 'LHR-eu-shop.example-latency-off.cpuprofile')], 'invalid input at --out: cannot write results to'],
        [['--bogus'], 'SIM_ERR_BAD_REQUEST: bad request: Unknown option \'--bogus\'']
      ]
      for (const [args, message] of refusals) {
        const r = await runProfiler(args)
        expect(r.code, args.join(' ')).toBe(2)
        expect(r.stderr).toContain(message)
        expect(r.stderr).not.toContain('[profile]')
      }
    } finally {
      await rm(out, { recursive: true, force: true })
    }
  }, 60_000)

  // bench:compare checks a commit out of the repository: a copy of the tree without its .git has none to compare with.
  const inGitRepo = (() => {
    try { execFileSync('git', ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { stdio: 'ignore' }); return true } catch { return false }
  })()
  it.skipIf(!inGitRepo)('compares the working tree with another build, both loaded at once, and cleans up after itself', async () => {
    const worktrees = (): string => execFileSync('git', ['worktree', 'list'], { encoding: 'utf8' })
    const before = worktrees()
    const { code, stdout, stderr } = await runProfiler(['--base', 'HEAD', '--pairs', '2', '--rounds', '2', '--rate', '60', '--seconds', '0.5'], comparer)
    expect(code, stderr).toBe(0)
    expect(stderr).toMatch(/\[compare\] pair 2\/2, round 2\/2: HEAD [\d.]+ µs, working tree [\d.]+ µs per request, ratio [\d.]+/)
    expect(stdout).toMatch(/working tree \/ HEAD: [\d.]+x the CPU per request \(median of the per-round ratios; 95% interval [\d.]+ to [\d.]+\); .*by pair of processes [\d.]+, [\d.]+\n/)
    // The temporary worktree is gone again.
    expect(worktrees()).toBe(before)

    // The p50 at one request in flight, the builds in turn.
    const latency = await runProfiler(['--base', 'HEAD', '--measure', 'latency', '--pairs', '1', '--rounds', '3', '--seconds', '0.3'], comparer)
    expect(latency.code, latency.stderr).toBe(0)
    expect(latency.stderr).toMatch(/\[compare\] pair 1\/1, round 3\/3: HEAD [\d.]+ µs, working tree [\d.]+ µs p50, ratio [\d.]+/)
    expect(latency.stdout).toMatch(/one request at a time, the builds in turn, 1 pair of processes x 3 rounds of 0\.3 s:\nworking tree \/ HEAD: [\d.]+x the p50 response time \(median of the per-round ratios; 95% interval [\d.]+ to [\d.]+\)/)
    expect(worktrees()).toBe(before)

    // Against a peer forwarder chain, per hop: a relayed route counts two hops, one inspected where it lands one.
    const peer = await runProfiler(['--peer', 'http-proxy', '--pairs', '2', '--rounds', '2', '--rate', '60', '--seconds', '0.5'], comparer)
    expect(peer.code, peer.stderr).toBe(0)
    // A hop is a chain less its direct path: at this light load a round can read below zero, and the interval with it.
    expect(peer.stderr).toMatch(/\[compare\] pair 2\/2, round 2\/2: http-proxy -?[\d.]+ µs, residency-sim -?[\d.]+ µs per hop, ratio -?[\d.]+/)
    expect(peer.stdout).toMatch(/from LHR, latency off, 60 requests\/s to each, against the http-proxy peer's 2-hop chain, 2 pairs of processes x 2 rounds of 0\.5 s:\nresidency-sim \/ http-proxy: -?[\d.]+x the CPU per hop \(median of the per-round ratios; 95% interval -?[\d.]+ to -?[\d.]+\)/)
    const oneHop = await runProfiler(['--peer', 'plain', '--client', 'FRA', '--pairs', '1', '--rounds', '3', '--rate', '60', '--seconds', '0.3'], comparer)
    expect(oneHop.code, oneHop.stderr).toBe(0)
    expect(oneHop.stdout).toMatch(/from FRA, latency off, 60 requests\/s to each, against the plain peer's 1-hop chain/)
    expect(worktrees()).toBe(before)

    // The method's own check: the working tree against itself, with a known amount of work added in one of the two,
    // at the rate picked from the first pair's CPU per request. A difference of this size is read, within a factor of three.
    const cal = await runProfiler(['--calibrate', '200', '--pairs', '1', '--rounds', '3', '--seconds', '0.5'], comparer)
    expect(cal.code, cal.stderr).toBe(0)
    expect(cal.stderr).toMatch(/\[compare\] rate: \d+ requests\/s to each \(at \d+ the two kept their CPU \d+% busy; aiming at 60%\)/)
    expect(cal.stderr).toMatch(/\[compare\] pair 1\/1: the second process does [\d.]+ µs of work \(\d+ iterations\) more per request a server of it takes in/)
    expect(cal.stderr).toMatch(/\[compare\] pair 1\/1, round 3\/3: as it is [\d.]+ µs, with 200 µs of work per server request [\d.]+ µs per request: -?[\d.]+ µs more read, [\d.]+ given, read \/ given -?[\d.]+/)
    const calibration = /calibration, 200 µs of work per server request: ([\d.]+) µs more CPU per request read, ([\d.]+) given \(medians\); read \/ given ([\d.]+) \(median of the per-round ratios; 95% interval [\d.]+ to [\d.]+\)/.exec(cal.stdout)
    expect(calibration, cal.stdout).not.toBeNull()
    // Each relayed request meets three servers (the edge, the inspection PoP, the origin), log batches a few more.
    expect(Number(calibration?.[2])).toBeGreaterThan(2 * 200)
    const readOverGiven = Number(calibration?.[3])
    expect(readOverGiven).toBeGreaterThan(1 / 3)
    expect(readOverGiven).toBeLessThan(3)
    expect(worktrees()).toBe(before)

    const refusals: [string[], string][] = [
      [[], 'invalid input at --base: is required'],
      [['--calibrate', '50', '--peer', 'plain'], 'invalid input at --calibrate: compares the working tree with itself'],
      [['--calibrate', '50', '--measure', 'latency'], 'invalid input at --measure: with --calibrate only cpu'],
      [['--calibrate', '0'], 'invalid input at --calibrate: must be a number greater than 0'],
      [['--calibrate', '20000'], 'invalid input at --calibrate: must be 1 to 10000 µs of work per server request, got 20000'],
      [['--base', 'HEAD', '--rate', 'fast'], 'invalid input at --rate: must be a number greater than 0'],
      [['--peer', 'nginx'], 'invalid input at --peer: must be one of plain, plain-buffered, http-proxy, got "nginx"'],
      [['--peer', 'plain', '--base', 'HEAD'], 'invalid input at --peer: compares with a peer forwarder, --base with another build'],
      [['--peer', 'plain', '--measure', 'latency'], 'invalid input at --measure: with --peer only cpu'],
      [['--peer', 'plain', '--latency', 'on'], 'invalid input at --latency: with --peer only off'],
      [['--base', 'no-such-ref-anywhere'], 'invalid input at --base: "no-such-ref-anywhere" is not a commit of this repository'],
      [['--base', 'HEAD', '--rate', '0'], 'invalid input at --rate: must be a number greater than 0'],
      [['--base', 'HEAD', '--latency', 'sometimes'], 'invalid input at --latency: must be on or off'],
      [['--base', 'HEAD', '--measure', 'memory'], 'invalid input at --measure: must be cpu or latency'],
      [['--base', 'HEAD', '--host', 'nope.example'], 'invalid input at --host: no customer of the default configuration has host "nope.example"'],
      [['--base', 'HEAD', 'stray'], 'SIM_ERR_BAD_REQUEST']
    ]
    for (const [args, message] of refusals) {
      const r = await runProfiler(args, comparer)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toContain(`bench/compare: `)
      expect(r.stderr).toContain(message)
      expect(r.stderr).not.toContain('[compare]')
    }
  }, 240_000)

  it('refuses a mistaken command line with a code, before any work', async () => {
    const out = await mkdtemp(join(tmpdir(), 'rsim-bench-args-'))
    try {
      for (const args of [['--bogus'], ['--only'], ['--quick=1'], ['stray'], ['--only', ','], ['--scale=-1'], ['--out', runner]]) {
        const { code, stderr } = await run(args[0] === '--out' ? args : [...args, '--out', out])
        expect(code, args.join(' ')).toBe(2)
        expect(stderr).toMatch(/^bench\/run: SIM_ERR_(BAD_REQUEST|INPUT_INVALID): /)
        expect(stderr).not.toContain('    at ')
        expect(stderr).not.toContain('residency-sim bench:')
      }
      // Nothing was written: an empty --only no longer rewrites the summary and the charts.
      expect(await readdir(out)).toEqual([])
    } finally {
      await rm(out, { recursive: true, force: true })
    }
  })

  it('measures the added latency of another scenario\'s customers with --config, and refuses one it cannot', async () => {
    const out = await mkdtemp(join(tmpdir(), 'rsim-bench-config-'))
    try {
      const example = fileURLToPath(new URL('../../config/examples/small-europe.yaml', import.meta.url))
      const { code, stderr } = await run(['--quick', '--scale', '0.3', '--config', example, '--out', out])
      expect(code, stderr).toBe(0)
      expect(stderr).toMatch(/residency-sim bench: added \(quick\)/)
      const added = await json(out, 'added-latency.json')
      expect((added.result.settings as { scenario: string }).scenario).toMatch(/small-europe\.yaml$/)
      const rows = added.result.rows as { host: string, client: string, route: string, measured: { non2xx: number } }[]
      expect(new Set(rows.map((r) => r.host))).toEqual(new Set(['alpen-bank.example', 'paris-media.example']))
      // Sydney is no PoP of the scenario's nine: its clients are located by coordinates and enter at the nearest PoP.
      expect(rows.find((r) => r.client === 'SYD')?.route).toMatch(/^IAD>/)
      for (const r of rows) expect(r.measured.non2xx).toBe(0)
      expect(await readdir(out)).toEqual(expect.arrayContaining(['added-latency.json', 'summary.md', 'added-latency.svg']))
      expect(await readFile(join(out, 'summary.md'), 'utf8')).toMatch(/The regional customers of .*small-europe\.yaml\./)

      // A file that is not there, and a scenario with no processing region (keys only): refused before any work.
      const keylessOnly = fileURLToPath(new URL('../../config/examples/keyless-us.yaml', import.meta.url))
      for (const [config, message] of [[join(out, 'missing.yaml'), 'cannot read .*missing\\.yaml: ENOENT'], [keylessOnly, '.*keyless-us\\.yaml has no customer with a processing region']] as const) {
        const r = await run(['--quick', '--config', config, '--out', join(out, 'refused')])
        expect(r.code, r.stderr).toBe(2)
        expect(r.stderr).toMatch(new RegExp(`^bench/run: SIM_ERR_INPUT_INVALID: invalid input at --config: ${message}`))
        expect(r.stderr).not.toContain('residency-sim bench:')
      }
      expect(await readdir(out)).not.toContain('refused')
    } finally {
      await rm(out, { recursive: true, force: true })
    }
  })

  it('prints its usage with --help', async () => {
    const child = spawn(process.execPath, [runner, '--help'], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect(code).toBe(0)
    expect(out).toContain('--only')
  })
})
