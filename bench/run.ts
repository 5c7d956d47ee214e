// The benchmark runner: `npm run bench` runs every scenario (added latency, fidelity, per-hop overhead, handshakes)
// and writes JSON, a Markdown summary and SVG charts to bench/results/. The servers and the load generator each run
// in their own child process; this process only orchestrates and reports.
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SimError } from '../src/core/errors.ts'
import { refuse, writableDir } from './lib/args.ts'
import { createProgress, type Ctx, type Settings } from './lib/context.ts'
import { codeVersion, machine } from './lib/machine.ts'
import { FILES, writeReport, type Envelope } from './lib/report.ts'
import { spawnChild } from './lib/rpc.ts'
import { runOptions, USAGE, type RunOptions, type ScenarioName } from './lib/run-options.ts'
import { addedScenario, runAdded } from './scenarios/added.ts'
import { runFidelity } from './scenarios/fidelity.ts'
import { runHandshake } from './scenarios/handshake.ts'
import { runOverhead } from './scenarios/overhead.ts'

const SCENARIOS = {
  added: runAdded,
  fidelity: runFidelity,
  overhead: runOverhead,
  handshake: runHandshake
} as const satisfies Record<ScenarioName, unknown>

// Every argument, and the results folder, checked before anything starts: a typo costs a message, not a run.
const here = fileURLToPath(new URL('.', import.meta.url))
let options: RunOptions
let scenario: Settings['scenario']
try {
  options = runOptions(process.argv.slice(2), here)
  if (!options.help && options.configPath !== undefined && !options.reportOnly) {
    const path = options.configPath
    // Named as given from here down (results, messages), not by its absolute path.
    const given = relative(process.cwd(), path)
    const file = given.startsWith('..') || given === '' ? path : given
    const yaml = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new SimError('SIM_ERR_INPUT_INVALID', ['--config', `cannot read ${file}: ${err.code ?? err.message}`])
    })
    // The whole scenario checked before the servers start: a refused route costs a message, not a run.
    addedScenario(yaml, file)
    scenario = { file, yaml }
  }
  if (!options.help) await writableDir(options.outDir, '--out')
} catch (err) {
  refuse('bench/run', err)
}
if (options.help) {
  console.log(USAGE)
  process.exit(0)
}
const { names, scale, timeScale, outDir } = options
const settings: Settings = { quick: options.quick, scale, timeScale, outDir, ...(scenario === undefined ? {} : { scenario }) }
const command = `node bench/run.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`

if (options.reportOnly) {
  const written = await writeReport(outDir)
  process.stderr.write(`wrote ${written.map((w) => join(outDir, w)).join(', ')}\n`)
  process.exit(0)
}

if (options.waitQuiet) {
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
process.stderr.write(`residency-sim bench: ${names.join(', ')}${options.quick ? ' (quick)' : ''} on ${m0.cpu}, ${m0.cores} cores, Node ${m0.node}, load average ${m0.loadAverage.join(' / ')}\n`)
if (m0.loadAverage[0] !== undefined && m0.loadAverage[0] > m0.cores * 0.5) process.stderr.write('note: the machine is busy; results will be noisier than on a quiet machine\n')

let failed = false
const stop = async (): Promise<void> => { await Promise.all([servers.stop(), loadgen.stop()]) }
process.once('SIGINT', () => { void stop().then(() => process.exit(130)) })
try {
  for (const [i, name] of names.entries()) {
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
