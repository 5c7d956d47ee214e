// What every `rsim` sub-command implements, and the streams it is given (so tests can run commands in-process).
import type { Readable, Writable } from 'node:stream'

export interface CliIo {
  readonly stdin: Readable
  readonly stdout: Writable
  readonly stderr: Writable
  readonly cwd: string
  readonly env: Readonly<Record<string, string | undefined>>
}

export interface Command {
  readonly name: string
  /** One line for `rsim --help`. */
  readonly summary: string
  /** Full `--help` text. */
  readonly help: string
  /** Returns the process exit code; throws SimError for bad input (main prints it and exits 2). */
  run(args: readonly string[], io: CliIo): Promise<number>
}
