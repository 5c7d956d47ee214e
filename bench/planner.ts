// Planner throughput on one core: a mixed workload of clients worldwide, every customer of the default scenario,
// some with PoPs down, some resumed sessions. Usage: node bench/planner.ts [--plans N] [--trials T] [--json]
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import { loadScenario } from '../src/config/load.ts'
import { mulberry32 } from '../src/core/latency.ts'
import { plan } from '../src/core/planner.ts'
import type { ClientLocation, PlanRequest } from '../src/core/types.ts'
import { buildWorld } from '../src/core/world.ts'

const { values } = parseArgs({
  options: {
    plans: { type: 'string', default: '1000000' },
    trials: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' }
  }
})
if (values.help) {
  console.log('Usage: node bench/planner.ts [--plans N] [--trials T] [--json]\nPlans N requests per trial (default 1,000,000) and reports plans per second (median of T trials).')
  process.exit(0)
}
const N = Number(values.plans)
const TRIALS = Number(values.trials)
if (!Number.isInteger(N) || N <= 0 || !Number.isInteger(TRIALS) || TRIALS <= 0) {
  console.error('--plans and --trials must be positive integers')
  process.exit(2)
}

const { world } = buildWorld(await loadScenario())
const hosts = [...world.customers.keys()]
const rng = mulberry32(42)

// A pool of 4,096 distinct requests, cycled: 2,000 random client points (land and sea alike), 10% with one to three
// PoPs down (including in-region ones), 30% resumed sessions.
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
  if (!values.json) process.stderr.write(`trial ${t + 1}/${TRIALS}: ${N.toLocaleString('en')} plans in ${r.seconds.toFixed(3)} s\n`)
}
const sorted = [...results].sort((a, b) => a - b)
const median = sorted[Math.floor(sorted.length / 2)]!
const out = {
  plans: N,
  trials: TRIALS,
  medianSeconds: Number(median.toFixed(3)),
  minSeconds: Number(sorted[0]!.toFixed(3)),
  maxSeconds: Number(sorted[sorted.length - 1]!.toFixed(3)),
  plansPerSecond: Math.round(N / median),
  servedShare: Number((served / N).toFixed(3)),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown'
}
if (values.json) console.log(JSON.stringify(out))
else console.log(`planner: ${out.plansPerSecond.toLocaleString('en')} plans/s (median of ${TRIALS}; ${N.toLocaleString('en')} plans in ${out.medianSeconds} s, range ${out.minSeconds}-${out.maxSeconds} s; ${(out.servedShare * 100).toFixed(1)}% served) on ${out.cpu}, Node ${out.node}`)
