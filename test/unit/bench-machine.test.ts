// The bench's reading of another process's CPU time from /proc (bench/lib/machine.ts): how nginx's CPU is measured;
// and its pinning of processes to CPUs for the concurrent pairs of the overhead scenario.
import { execFileSync, spawn } from 'node:child_process'
import { cpus } from 'node:os'
import { describe, expect, it } from 'vitest'
import { pinProcesses, processTreeCpuMs, which } from '../../bench/lib/machine.ts'

describe('processTreeCpuMs', () => {
  it('adds up a process and its children', { skip: process.platform !== 'linux' }, async () => {
    // A shell (idle itself) whose child spins for 400 ms and then sleeps: the tree has used about 400 ms.
    const spin = `const t = Date.now(); while (Date.now() - t < 400); setTimeout(() => {}, 3000)`
    const sh = spawn('sh', ['-c', `"${process.execPath}" -e "${spin}"; true`], { stdio: 'ignore', detached: true })
    try {
      await new Promise((resolve) => setTimeout(resolve, 1200))
      const pid = sh.pid as number
      const tree = processTreeCpuMs(pid) as number
      expect(tree).toBeGreaterThanOrEqual(300)
      expect(tree).toBeLessThan(5000)
    } finally {
      // The whole group: the shell and the sleeping child.
      process.kill(-(sh.pid as number), 'SIGKILL')
    }
  })

  it('is undefined for a process that does not exist', () => {
    expect(processTreeCpuMs(2 ** 22 + 12345)).toBeUndefined()
  })
})

describe('pinProcesses', () => {
  const can = process.platform === 'linux' && cpus().length >= 2 && which('taskset') !== undefined
  const maskOf = (pid: number): string => execFileSync('taskset', ['-p', String(pid)], { encoding: 'utf8' }).trim().split(/\s+/).pop() as string

  it('pins every thread of a process to a CPU, then puts it back', { skip: !can }, () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' })
    try {
      const pid = child.pid as number
      const before = maskOf(pid)
      const pin = pinProcesses([{ pid, cpus: '1' }])
      expect('restore' in pin).toBe(true)
      expect(maskOf(pid)).toBe('2')
      // Node's own threads (V8's helpers, libuv's pool) too: each one's mask.
      const tasks = execFileSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' }).trim().split('\n')
      expect(tasks.length).toBeGreaterThan(1)
      for (const t of tasks) expect(maskOf(Number(t))).toBe('2')
      if ('restore' in pin) pin.restore()
      expect(maskOf(pid)).toBe(before)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('says why when it cannot, and leaves what it had pinned as it was', { skip: !can }, () => {
    const a = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' })
    try {
      const pid = a.pid as number
      const before = maskOf(pid)
      const pin = pinProcesses([{ pid, cpus: '1' }, { pid: 2 ** 22 + 12345, cpus: '0' }])
      expect(pin).toMatchObject({ reason: expect.stringMatching(/^taskset failed: /) })
      expect(maskOf(pid)).toBe(before)
    } finally {
      a.kill('SIGKILL')
    }
  })
})
