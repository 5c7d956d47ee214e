// The bench runner's command line (bench/lib/run-options.ts, bench/lib/args.ts): every mistake is refused with a code
// before any work, never a stack trace or a run that does nothing and rewrites the summary.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { positiveInteger, positiveNumber, writableDir } from '../../bench/lib/args.ts'
import { runOptions, SCENARIO_NAMES } from '../../bench/lib/run-options.ts'
import { isSimError } from '../../src/core/errors.ts'

function codeOf (f: () => unknown): string {
  try {
    f()
  } catch (err) {
    return isSimError(err) ? err.code : `not a SimError: ${String(err)}`
  }
  return 'accepted'
}

describe('bench/run.ts arguments', () => {
  it.each([
    [['--bogus'], 'SIM_ERR_BAD_REQUEST'],
    [['--only'], 'SIM_ERR_BAD_REQUEST'],
    [['--scale', '-1'], 'SIM_ERR_INPUT_INVALID'],
    [['stray'], 'SIM_ERR_BAD_REQUEST'],
    [['--quick=1'], 'SIM_ERR_BAD_REQUEST'],
    [['--only', ','], 'SIM_ERR_INPUT_INVALID'],
    [['--only', ''], 'SIM_ERR_INPUT_INVALID'],
    [['--only', 'added,nope'], 'SIM_ERR_INPUT_INVALID'],
    [['--scale=-1'], 'SIM_ERR_INPUT_INVALID'],
    [['--scale', '0'], 'SIM_ERR_INPUT_INVALID'],
    [['--scale', ''], 'SIM_ERR_INPUT_INVALID'],
    [['--time-scale', 'x'], 'SIM_ERR_INPUT_INVALID'],
    [['--quick', '--only', 'added, fidelity', '--scale', '0.3'], 'accepted'],
    [['--config', ''], 'SIM_ERR_INPUT_INVALID'],
    [['--config', 'my.yaml', '--only', 'added,overhead'], 'SIM_ERR_INPUT_INVALID'],
    [['--config', 'my.yaml', '--only', 'added'], 'accepted'],
    [['--help', '--only', ','], 'accepted']
  ])('%j: %s', (args, code) => {
    expect(codeOf(() => runOptions(args, '/bench'))).toBe(code)
  })

  it('reads every scenario by default, in order, and the quick run\'s own folder', () => {
    const o = runOptions([], '/bench')
    expect(o.names).toEqual(SCENARIO_NAMES)
    expect(o.outDir).toBe('/bench/results')
    expect(runOptions(['--quick'], '/bench').outDir).toBe('/bench/results/quick')
    expect(runOptions(['--only', ' fidelity ,added,', '--out', '/tmp/x'], '/bench')).toMatchObject({ names: ['fidelity', 'added'], outDir: '/tmp/x' })
  })

  it('with --config, runs the added scenario alone, into a folder of its own', () => {
    expect(runOptions(['--config', '/s/my-world.yaml'], '/bench')).toMatchObject({ names: ['added'], outDir: '/bench/results/config-my-world', configPath: '/s/my-world.yaml' })
    expect(runOptions(['--config', '/s/my-world.yaml', '--quick'], '/bench').outDir).toBe('/bench/results/quick')
    expect(runOptions(['--config', '/s/my-world.yaml', '--out', '/tmp/y'], '/bench').outDir).toBe('/tmp/y')
    expect(() => runOptions(['--config', 'x.yaml', '--only', 'fidelity'], '/bench')).toThrow('invalid input at --only: fidelity cannot run with --config')
  })

  it('says what is wrong with a value', () => {
    expect(() => runOptions(['--only', ','], '/bench')).toThrow('invalid input at --only: names no scenario')
    expect(() => positiveInteger('0.3', '--connections')).toThrow('invalid input at --connections: must be a whole number greater than 0, got "0.3"')
    expect(positiveInteger('4', '--connections')).toBe(4)
    expect(positiveNumber('0.4', '--rate')).toBe(0.4)
    expect(codeOf(() => positiveNumber('Infinity', '--rate'))).toBe('SIM_ERR_INPUT_INVALID')
  })
})

describe('results folder', () => {
  let dir = ''
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'rsim-args-')) })
  afterAll(async () => { if (dir) await rm(dir, { recursive: true, force: true }) })

  it('is created when missing, and refused with a code when a file is in its way', async () => {
    await writableDir(join(dir, 'a', 'b'), '--out')
    await writeFile(join(dir, 'file'), '')
    for (const out of [join(dir, 'file'), join(dir, 'file', 'sub')]) {
      const err = await writableDir(out, '--out').then(() => undefined, (e: unknown) => e)
      expect(isSimError(err) && err.code).toBe('SIM_ERR_INPUT_INVALID')
      expect(String((err as Error).message)).toContain('invalid input at --out: cannot write results to')
    }
  })
})
