// The command line as a whole (runCli): bad input of every kind is a coded error and exit status 2, never a stack.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../src/cli/main.ts'

const dir = mkdtempSync(join(tmpdir(), 'rsim-cli-'))
function file (name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

async function cli (args: string[], stdinText = ''): Promise<{ code: number, stdout: string, stderr: string }> {
  const streams = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() }
  const out: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' }
  streams.stdout.on('data', (c: Buffer) => { out.stdout += c.toString() })
  streams.stderr.on('data', (c: Buffer) => { out.stderr += c.toString() })
  streams.stdin.end(stdinText)
  const code = await runCli(args, { ...streams, cwd: dir, env: {} })
  return { code, ...out }
}

const BOMB = file('bomb.yaml', [
  'a: &a [x, x, x, x, x, x, x, x, x]',
  'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
  'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
  'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
  'customers:',
  '  - { host: shop.example, origin: { pop: FRA } }'
].join('\n'))

describe('a YAML alias bomb', () => {
  it.each([
    ['check', '--config', BOMB],
    ['plan', '--config', BOMB, '--client', 'FRA', '--host', 'shop.example'],
    ['start', '--config', BOMB, '--no-warm-up']
  ])('%s: SIM_ERR_CONFIG_INVALID naming the file and line, exit 2', async (...args) => {
    const r = await cli(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`SIM_ERR_CONFIG_INVALID`)
    expect(r.stderr).toContain(`${BOMB}:2:`)
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /)
  })
})
