// Command-line handling shared by the bench's entry points (run, planner, profile): node:util parseArgs with the CLI's
// error codes (src/cli/args.ts), no stray arguments, and one way to refuse, before any work: `<prog>: <code>: <message>`
// on stderr and exit status 2, as `rsim` does (src/cli/main.ts).
import { constants } from 'node:fs'
import { access, mkdir, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parse, type Options } from '../../src/cli/args.ts'
import type { Scenario } from '../../src/config/schema.ts'
import { isClientLocationError, parseClientLocation } from '../../src/core/client.ts'
import { isSimError, SimError } from '../../src/core/errors.ts'
import { plan } from '../../src/core/planner.ts'
import type { ServedPlan } from '../../src/core/types.ts'
import { createGeoIpLocator } from '../../src/net/geoip-locator.ts'
import { worldOf } from './model.ts'

/** Parses `args` strictly: an unknown option, a missing value or a positional argument is SIM_ERR_BAD_REQUEST. */
export function parseOptions<T extends Options> (args: readonly string[], options: T, usage: string) {
  const { values, positionals } = parse(args, options, usage)
  if (positionals.length > 0) throw new SimError('SIM_ERR_BAD_REQUEST', [`unexpected argument "${positionals[0] ?? ''}" (options start with --)\n\n${usage}`])
  return values
}

/** An option's value that is not acceptable: SIM_ERR_INPUT_INVALID at the option. */
export function invalid (option: string, what: string): SimError {
  return new SimError('SIM_ERR_INPUT_INVALID', [option, what])
}

export function positiveNumber (text: string, option: string): number {
  const n = Number(text)
  if (text.trim() === '' || !(n > 0) || !Number.isFinite(n)) throw invalid(option, `must be a number greater than 0, got "${text}"`)
  return n
}

export function positiveInteger (text: string, option: string): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isInteger(n) || n <= 0) throw invalid(option, `must be a whole number greater than 0, got "${text}"`)
  return n
}

/**
 * A route given by `--client` and `--host`, checked against the scenario as the simulation will read it: a typo would
 * load the error path. `verb` says what would be done with a refused route ("profile", "compare"). Returns its plan.
 */
export function checkRoute (client: string, host: string, scenario: Scenario, verb: string): ServedPlan {
  const world = worldOf(scenario)
  const loc = parseClientLocation(client, world.topology, createGeoIpLocator())
  if (isClientLocationError(loc)) {
    const err = new SimError(loc.error, loc.args)
    throw invalid('--client', `${err.code}: ${err.message}`)
  }
  if (!world.customers.has(host)) throw invalid('--host', `no customer of the default configuration has host "${host}"; one of ${[...world.customers.keys()].join(', ')}`)
  const p = plan({ client: loc, host, newConnection: false }, world)
  if (p.outcome !== 'served') throw invalid('--host', `the simulation refuses ${host} from ${client} (${p.code}): that would ${verb} the refusal`)
  return p
}

/**
 * Makes sure `dir` is a folder this process can write into, creating it if need be: a results folder is checked before
 * minutes of load, not after them.
 */
export async function writableDir (dir: string, option: string): Promise<void> {
  try {
    // One level at a time, not `recursive`: in a file system that refuses new entries with ENOENT (/proc), Node's
    // recursive mkdir retries the parent forever.
    const missing: string[] = []
    for (let d = resolve(dir); !(await exists(d)); d = dirname(d)) missing.unshift(d)
    for (const d of missing) await mkdir(d)
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' })
    await access(dir, constants.W_OK)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'EEXIST' || e.code === 'ENOTDIR'
      ? 'a file is in the way of the folder'
      : e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS' ? 'not writable' : e.message
    throw invalid(option, `cannot write results to ${dir}: ${why} (${e.code ?? 'error'})`)
  }
}

async function exists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/** Refuses a command line: an input error is printed with its code and exits 2; anything else is a fault, rethrown. */
export function refuse (prog: string, err: unknown): never {
  if (isSimError(err) && err.statusCode < 500) {
    process.stderr.write(`${prog}: ${err.code}: ${err.message}\n`)
    process.exit(2)
  }
  throw err
}
