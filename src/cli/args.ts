// Argument parsing shared by the commands: node:util parseArgs, with errors turned into SIM_ERR_BAD_REQUEST.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { SimError } from '../core/errors.ts'

export type Options = NonNullable<ParseArgsConfig['options']>

export function parse<T extends Options> (args: readonly string[], options: T, usage: string) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new SimError('SIM_ERR_BAD_REQUEST', [`${(err as Error).message}\n\n${usage}`])
  }
}

/** `--help` / `-h`, common to every command. */
export const HELP = { help: { type: 'boolean', short: 'h' } } as const
