// The bench's reading of another process's CPU time from /proc (bench/lib/machine.ts): how nginx's CPU is measured.
import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { processTreeCpuMs } from '../../bench/lib/machine.ts'

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
