// Planner throughput on one core: a mixed workload of clients worldwide, every customer of the default scenario,
// some with PoPs down, some resumed sessions. Usage: node bench/planner.ts [--plans N] [--trials T] [--json]
import { cpus } from 'node:os'
import { loadScenario } from '../src/config/load.ts'
import { mulberry32 } from '../src/core/latency.ts'
import { plan } from '../src/core/planner.ts'
import type { ClientLocation, PlanRequest } from '../src/core/types.ts'
import { buildWorld } from '../src/core/world.ts'
import { parseOptions, positiveInteger, refuse } from './lib/args.ts'
import { median } from './lib/stats.ts'

const USAGE = 'Usage: node bench/planner.ts [--plans N] [--trials T] [--json]\nPlans N requests per trial (default 1,000,000) and reports plans per second (median of T trials).'

let N = 0
let TRIALS = 0
let json = false
try {
  const values = parseOptions(process.argv.slice(2), {
    plans: { type: 'string', default: '1000000' },
    trials: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' }
  }, USAGE)
  if (values.help === true) {
    console.log(USAGE)
    process.exit(0)
  }
  N = positiveInteger(values.plans ?? '', '--plans')
  TRIALS = positiveInteger(values.trials ?? '', '--trials')
  json = values.json === true
} catch (err) {
  refuse('bench/planner', err)
}

const { world } = buildWorld(await loadScenario())
const hosts = [...world.customers.keys()]
const rng = mulberry32(42)

// A pool of 4,096 distinct requests, cycled: 4,096 random client points (land and sea alike), 10% with one to three PoPs
// down (including in-region ones), 30% resumed sessions.
const pool: PlanRequest[] = []
for (let i = 0; i < 4096; i++) {
  const lat = -60 + rng() * 130
  const lon = -180 + rng() * 360
  const client: ClientLocation = { lat, lon, source: 'latlon', input: `${lat.toFixed(3)},${lon.toFixed(3)}` }
  const down: string[] = []
  if (rng() < 0.1) {
    const n = 1 + Math.floor(rng() * 3)
    for (let k = 0; k < n; k++) down.push(world.topology.pops[Math.floor(rng() * world.topology.pops.length)]!.id)
  }
  pool.push({ client, host: hosts[i % hosts.length]!, down, newConnection: rng() > 0.3 })
}

function trial (): { seconds: number, served: number } {
  let served = 0
  const start = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    if (plan(pool[i & 4095]!, world).outcome === 'served') served++
  }
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, served }
}

trial() // warm-up (JIT)
const results: number[] = []
let served = 0
for (let t = 0; t < TRIALS; t++) {
  const r = trial()
  results.push(r.seconds)
  served = r.served
  if (!json) process.stderr.write(`trial ${t + 1}/${TRIALS}: ${N.toLocaleString('en')} plans in ${r.seconds.toFixed(3)} s\n`)
}
const sorted = [...results].sort((a, b) => a - b)
// Of an even number of trials, the mean of the two middle ones (bench/lib/stats.ts).
const medianS = median(results)
const out = {
  plans: N,
  trials: TRIALS,
  medianSeconds: Number(medianS.toFixed(3)),
  minSeconds: Number(sorted[0]!.toFixed(3)),
  maxSeconds: Number(sorted[sorted.length - 1]!.toFixed(3)),
  plansPerSecond: Math.round(N / medianS),
  servedShare: Number((served / N).toFixed(3)),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown'
}
if (json) console.log(JSON.stringify(out))
else console.log(`planner: ${out.plansPerSecond.toLocaleString('en')} plans/s (median of ${TRIALS}; ${N.toLocaleString('en')} plans in ${out.medianSeconds} s, range ${out.minSeconds}-${out.maxSeconds} s; ${(out.servedShare * 100).toFixed(1)}% served) on ${out.cpu}, Node ${out.node}`)
