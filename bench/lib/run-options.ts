// The benchmark runner's command line (bench/run.ts): its usage text and the settings it reads from it, refused with a
// SimError before any work when they do not make sense.
import { basename, extname, join, resolve } from 'node:path'
import { invalid, parseOptions, positiveNumber } from './args.ts'

export const SCENARIO_NAMES = ['added', 'fidelity', 'overhead', 'handshake'] as const
export type ScenarioName = typeof SCENARIO_NAMES[number]

/**
 * How long `npm run bench` takes at scale 1, in minutes: the committed results' four scenarios took 135 + 502 + 1043 + 23 s
 * (bench/results/*.json `durationS`), 29 minutes. The README and docs/benchmarks.md say the same.
 */
export const FULL_RUN_MINUTES = 29

export const USAGE = `Usage: node bench/run.ts [--quick] [--only NAME[,NAME]] [--out DIR] [--scale X] [--wait-quiet] [--time-scale X]
                         [--report-only] [--config F]

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
  --scale X        multiply durations and trial counts (default 1; the full run takes about ${FULL_RUN_MINUTES} minutes; the
                   test of the bench code runs --quick --scale 0.3)
  --wait-quiet     before starting, wait (up to 10 minutes) for the 1-minute load average to drop below
                   half the cores, and say how long it waited
  --time-scale X   time scale of the added-latency scenario (default 1: real ms); measured values are divided
                   by X back to real ms and both are kept
  --report-only    only rewrite summary.md and the charts from the JSON results already in the folder
  --config F       measure the added latency of the regional customers of scenario file F instead of the
                   embedded default's (only the added scenario runs: the others measure fixed routes of the
                   default; results in bench/results/config-<name of F> unless --out)
  -h, --help       this help`

export interface RunOptions {
  readonly help: boolean
  readonly quick: boolean
  readonly names: readonly ScenarioName[]
  readonly scale: number
  readonly timeScale: number
  readonly outDir: string
  readonly waitQuiet: boolean
  readonly reportOnly: boolean
  /** A scenario file whose regional customers the added scenario measures, instead of the embedded default's. */
  readonly configPath?: string
}

/** The runner's settings from its arguments; throws SIM_ERR_BAD_REQUEST or SIM_ERR_INPUT_INVALID. `benchDir`: bench/. */
export function runOptions (args: readonly string[], benchDir: string): RunOptions {
  const values = parseOptions(args, {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
    scale: { type: 'string', default: '1' },
    'time-scale': { type: 'string', default: '1' },
    'wait-quiet': { type: 'boolean', default: false },
    'report-only': { type: 'boolean', default: false },
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false }
  }, USAGE)
  const quick = values.quick === true
  const configPath = values.config === undefined ? undefined : resolve(values.config)
  // A run of another scenario's customers never overwrites the committed results of the default's.
  const custom = configPath === undefined ? undefined : join(benchDir, 'results', `config-${basename(configPath, extname(configPath))}`)
  const outDir = resolve(values.out ?? (quick ? join(benchDir, 'results', 'quick') : custom ?? join(benchDir, 'results')))
  if (values.help === true) return { help: true, quick, names: [], scale: 1, timeScale: 1, outDir, waitQuiet: false, reportOnly: false }
  if (configPath !== undefined && values.config?.trim() === '') throw invalid('--config', 'names no file')
  const names = (values.only ?? (configPath === undefined ? SCENARIO_NAMES.join(',') : 'added')).split(',').map((s) => s.trim()).filter(Boolean)
  const known = (n: string): n is ScenarioName => (SCENARIO_NAMES as readonly string[]).includes(n)
  const unknown = names.filter((n) => !known(n))
  if (unknown.length > 0) throw invalid('--only', `unknown scenario ${unknown.join(', ')}; one of ${SCENARIO_NAMES.join(', ')}`)
  // An empty list would run nothing and still rewrite the summary and charts: a mistake, not a request.
  if (names.length === 0) throw invalid('--only', `names no scenario; one or more of ${SCENARIO_NAMES.join(', ')}, comma-separated`)
  const fixed = names.filter((n) => n !== 'added')
  if (configPath !== undefined && fixed.length > 0) {
    throw invalid('--only', `${fixed.join(', ')} cannot run with --config: only the added scenario measures a scenario's own customers (the others measure fixed routes of the embedded default)`)
  }
  return {
    help: false,
    quick,
    names: names.filter(known),
    scale: positiveNumber(values.scale ?? '1', '--scale'),
    timeScale: positiveNumber(values['time-scale'] ?? '1', '--time-scale'),
    outDir,
    waitQuiet: values['wait-quiet'] === true,
    reportOnly: values['report-only'] === true,
    ...(configPath === undefined ? {} : { configPath })
  }
}
