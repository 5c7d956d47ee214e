// What the results were measured on: a run is only comparable with runs on the same kind of machine and load.
import { execFileSync } from 'node:child_process'
import { cpus, freemem, hostname, loadavg, platform, release, totalmem } from 'node:os'

export interface Machine {
  readonly host: string
  readonly platform: string
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly freeMemoryGiB: number
  readonly node: string
  readonly loadAverage: readonly number[]
}

export function machine (): Machine {
  const c = cpus()
  return {
    host: hostname(),
    platform: `${platform()} ${release()}`,
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    freeMemoryGiB: Math.round(freemem() / 2 ** 30 * 10) / 10,
    node: process.version,
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100)
  }
}

/** The code measured: the commit, and the source files that differ from it (a shared working tree may have some). */
export function codeVersion (cwd: string): { commit: string, dirty: string[] } {
  const git = (args: string[]): string => {
    try { return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return '' }
  }
  const dirty = git(['status', '--porcelain', '--', 'src', 'config', 'regions']).split('\n').filter(Boolean).map((l) => l.slice(3))
  return { commit: git(['rev-parse', 'HEAD']) || 'unknown', dirty }
}

/** Path of an executable on PATH (or in the usual sbin folders, where nginx lives), without running it. */
export function which (name: string): string | undefined {
  const extra = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/local/nginx/sbin']
  try {
    const out = execFileSync('sh', ['-c', `PATH="$PATH:${extra.join(':')}" command -v ${name}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    return out.trim() || undefined
  } catch {
    return undefined
  }
}
