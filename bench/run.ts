// The benchmark runner: `npm run bench` runs every scenario (added latency, fidelity, per-hop overhead, handshakes)
// and writes JSON, a Markdown summary and SVG charts to bench/results/. The servers and the load generator each run
// in their own child process; this process only orchestrates and reports.
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createProgress, type Ctx, type Settings } from './lib/context.ts'
import { codeVersion, machine } from './lib/machine.ts'
import { FILES, writeReport, type Envelope } from './lib/report.ts'
import { spawnChild } from './lib/rpc.ts'
import { runAdded } from './scenarios/added.ts'
import { runFidelity } from './scenarios/fidelity.ts'
import { runHandshake } from './scenarios/handshake.ts'
import { runOverhead } from './scenarios/overhead.ts'

const SCENARIOS = {
  added: runAdded,
  fidelity: runFidelity,
  overhead: runOverhead,
  handshake: runHandshake
} as const
type Name = keyof typeof SCENARIOS

const help = `Usage: node bench/run.ts [--quick] [--only NAME[,NAME]] [--out DIR] [--scale X] [--time-scale X]

Runs the residency-sim benchmarks and writes DIR/<scenario>.json, DIR/summary.md and SVG charts.

Scenarios:
  added      latency that data localisation adds: 10 client cities x each regional customer vs a twin without it
  fidelity   measured minus modelled p50 under increasing fixed request rates (latency on)
  overhead   per-hop software cost with latency off, against a plain undici+fastify forwarder,
             @fastify/http-proxy and nginx (when installed)
  handshake  new TLS connections vs resumed ones: local key, Geo Key Manager remote signing, keyless

Options:
  --quick          a one-minute smoke run with tiny counts (writes to bench/results/quick unless --out)
  --only LIST      comma-separated scenario names (default: all)
  --out DIR        results folder (default: bench/results)
  --scale X        multiply durations and trial counts (default 1; the full run takes ~16 min; the test of
                   the bench code runs --quick --scale 0.3)
  --wait-quiet     before starting, wait (up to 10 minutes) for the 1-minute load average to drop below
                   half the cores, and say how long it waited
  --time-scale X   time scale of the added-latency scenario (default 1: real ms); measured values are divided
                   by X back to real ms and both are kept
  --report-only    only rewrite summary.md and the charts from the JSON results already in the folder
  -h, --help       this help`

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
    scale: { type: 'string', default: '1' },
    'time-scale': { type: 'string', default: '1' },
    'wait-quiet': { type: 'boolean', default: false },
    'report-only': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (values.help) {
  console.log(help)
  process.exit(0)
}
const names = (values.only ?? Object.keys(SCENARIOS).join(',')).split(',').map((s) => s.trim()).filter(Boolean)
const unknown = names.filter((n) => !(n in SCENARIOS))
const scale = Number(values.scale)
const timeScale = Number(values['time-scale'])
if (unknown.length > 0 || !(scale > 0) || !(timeScale > 0)) {
  console.error(unknown.length > 0 ? `unknown scenario ${unknown.join(', ')}; one of ${Object.keys(SCENARIOS).join(', ')}` : '--scale and --time-scale must be numbers > 0')
  process.exit(2)
}

const here = new URL('.', import.meta.url)
const outDir = resolve(values.out ?? (values.quick ? join(here.pathname, 'results', 'quick') : join(here.pathname, 'results')))
await mkdir(outDir, { recursive: true })
const settings: Settings = { quick: values.quick, scale, timeScale, outDir }
const command = `node bench/run.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`

if (values['report-only']) {
  const written = await writeReport(outDir)
  process.stderr.write(`wrote ${written.map((w) => join(outDir, w)).join(', ')}\n`)
  process.exit(0)
}

if (values['wait-quiet']) {
  // Other work on the machine shows up as noise in every figure: wait for a quiet moment, within bounds.
  const limit = cpus().length / 2
  const t0 = Date.now()
  while (loadavg()[0] as number > limit && Date.now() - t0 < 600_000) {
    process.stderr.write(`waiting for a quiet machine: load average ${loadavg().map((x) => x.toFixed(2)).join(' / ')} (want < ${limit.toFixed(2)})\n`)
    await new Promise((r) => setTimeout(r, 15_000))
  }
  process.stderr.write(`waited ${Math.round((Date.now() - t0) / 1000)} s for a quiet machine; load average ${loadavg().map((x) => x.toFixed(2)).join(' / ')}\n`)
}

const serversFile = new URL('./lib/servers.ts', import.meta.url)
let servers = spawnChild(serversFile)
const loadgen = spawnChild(new URL('./lib/loadgen.ts', import.meta.url))
const progress = createProgress(loadgen)
const m0 = machine()
process.stderr.write(`residency-sim bench: ${names.join(', ')}${values.quick ? ' (quick)' : ''} on ${m0.cpu}, ${m0.cores} cores, Node ${m0.node}, load average ${m0.loadAverage.join(' / ')}\n`)
if (m0.loadAverage[0] !== undefined && m0.loadAverage[0] > m0.cores * 0.5) process.stderr.write('note: the machine is busy; results will be noisier than on a quiet machine\n')

let failed = false
const stop = async (): Promise<void> => { await Promise.all([servers.stop(), loadgen.stop()]) }
process.once('SIGINT', () => { void stop().then(() => process.exit(130)) })
try {
  for (const [i, name] of (names as Name[]).entries()) {
    // A fresh servers process per scenario: no pools, timers or garbage carried over from the previous one.
    if (i > 0) { await servers.stop(); servers = spawnChild(serversFile) }
    const ctx: Ctx = { servers, loadgen, settings, machine: m0, ...progress }
    const before = machine()
    // Recorded when the scenario starts: that is the code its fresh servers process loads.
    const code = codeVersion(fileURLToPath(new URL('..', import.meta.url)))
    const t0 = performance.now()
    progress.progress(name, 'start')
    const result = await SCENARIOS[name](ctx)
    const env: Envelope<unknown> = {
      name,
      date: new Date().toISOString(),
      command,
      machine: before,
      machineAfter: machine(),
      code,
      durationS: Math.round((performance.now() - t0) / 1000),
      result: { ...result, quick: settings.quick }
    }
    await writeFile(join(outDir, FILES[name]), JSON.stringify(env, null, 2) + '\n')
    progress.progress(name, `done in ${env.durationS} s -> ${join(outDir, FILES[name])}`)
  }
  const written = await writeReport(outDir)
  process.stderr.write(`wrote ${written.map((w) => join(outDir, w)).join(', ')}\n`)
} catch (err) {
  failed = true
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`)
} finally {
  await stop()
}
process.exit(failed ? 1 : 0)
