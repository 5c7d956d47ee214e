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
