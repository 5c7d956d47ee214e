// Argument parsing shared by the commands: node:util parseArgs, with errors turned into SIM_ERR_BAD_REQUEST.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { SimError } from '../core/errors.ts'

export type Options = NonNullable<ParseArgsConfig['options']>

export interface ParseOptions {
  /** Whether the command takes positional arguments (rtt's two places); otherwise any is an error. */
  readonly positionals?: boolean
  /** Added to the error for an unexpected positional argument, e.g. the option the user probably meant. */
  readonly hint?: (arg: string) => string
}

/** A negative number or coordinate ("-33.87,151.21", "-.5"): a value, never an option. */
const NEGATIVE = /^-[\d.]/

/**
 * parseArgs reads `--client -33.87,151.21` as an option followed by an ambiguous value, and `-33.87,151.21` alone as
 * short options (https://nodejs.org/api/util.html#utilparseargsconfig). A negative number after a string option is
 * joined to it (`--client=-33.87,151.21`); elsewhere it gets a leading space (a positional), trimmed afterwards.
 */
function protectNegatives (args: readonly string[], options: Options): string[] {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--') { out.push(...args.slice(i)); break }
    const next = args[i + 1]
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && NEGATIVE.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else {
      out.push(NEGATIVE.test(arg) ? ` ${arg}` : arg)
    }
  }
  return out
}

export function parse<T extends Options> (args: readonly string[], options: T, usage: string, opts: ParseOptions = {}) {
  let parsed
  try {
    parsed = parseArgs({ args: protectNegatives(args, options), options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new SimError('SIM_ERR_BAD_REQUEST', [`${(err as Error).message}\n\n${usage}`])
  }
  const positionals = parsed.positionals.map((p) => p.trim())
  const extra = positionals[0]
  if (opts.positionals !== true && extra !== undefined) {
    throw new SimError('SIM_ERR_BAD_REQUEST', [`unexpected argument "${extra}"${opts.hint?.(extra) ?? ''}\n\n${usage}`])
  }
  return { values: parsed.values, positionals }
}

/** `--help` / `-h`, common to every command. */
export const HELP = { help: { type: 'boolean', short: 'h' } } as const
