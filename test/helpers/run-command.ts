// Runs an `rsim` command in-process on PassThrough streams and collects what it printed.
import { PassThrough } from 'node:stream'
import type { CliIo, Command } from '../../src/cli/command.ts'
import { isSimError, type SimError } from '../../src/core/errors.ts'

function collect (s: PassThrough): () => string {
  const chunks: Buffer[] = []
  s.on('data', (c: Buffer) => chunks.push(c))
  return () => Buffer.concat(chunks).toString('utf8')
}

export interface CommandResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** The coded error the command threw (main prints it and exits 2). */
  readonly error: SimError | undefined
}

export async function runCommand (command: Command, args: string[], stdinText = '', cwd = process.cwd()): Promise<CommandResult> {
  const stdin = new PassThrough()
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out = collect(stdout)
  const err = collect(stderr)
  stdin.end(stdinText)
  const io: CliIo = { stdin, stdout, stderr, cwd, env: {} }
  try {
    const code = await command.run(args, io)
    return { code, stdout: out(), stderr: err(), error: undefined }
  } catch (e) {
    if (!isSimError(e)) throw e
    return { code: 2, stdout: out(), stderr: err(), error: e }
  }
}
