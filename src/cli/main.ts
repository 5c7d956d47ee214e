#!/usr/bin/env node
// The `rsim` command: dispatches to sub-commands. The only place that calls process.exit.
import { isSimError } from '../core/errors.ts'
import type { CliIo, Command } from './command.ts'
import { checkCommand } from './commands/check.ts'
import { matrixCommand } from './commands/matrix.ts'
import { planCommand } from './commands/plan.ts'
import { popsCommand } from './commands/pops.ts'
import { regionsCommand } from './commands/regions.ts'
import { rttCommand } from './commands/rtt.ts'
import { startCommand } from './commands/start.ts'

export const COMMANDS: readonly Command[] = [startCommand, planCommand, matrixCommand, rttCommand, popsCommand, regionsCommand, checkCommand]

export function usage (): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return [
    'rsim: data-residency traffic router simulator',
    '',
    'Usage: rsim <command> [options]    (rsim <command> --help for its options)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`)
  ].join('\n')
}

/** Runs a command line; returns the exit code. Errors with a code print as `rsim: CODE: message` and exit 2. */
export async function runCli (argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage() + '\n')
    return name === undefined ? 2 : 0
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) {
    io.stderr.write(`rsim: unknown command "${name}"\n\n${usage()}\n`)
    return 2
  }
  try {
    return await command.run(rest, io)
  } catch (err) {
    if (isSimError(err)) {
      io.stderr.write(`rsim ${name}: ${err.code}: ${err.message}\n`)
      return 2
    }
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 0
    io.stderr.write(`rsim ${name}: unexpected error: ${(err as Error).stack ?? String(err)}\n`)
    return 1
  }
}

/** Runs the process's own command line and sets its exit code. */
export async function main (): Promise<void> {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0) })
  const code = await runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env })
  // The start command keeps running until a signal; others exit with their code once output is flushed.
  if (code !== -1) process.exitCode = code
}

if (import.meta.main) await main()
