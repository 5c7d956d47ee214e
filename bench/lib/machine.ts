// What the results were measured on: a run is only comparable with runs on the same kind of machine and load.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
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
  /** Time of a fixed piece of CPU work in this process (`speedProbe`), ms: how fast the machine ran just then. */
  readonly speedProbeMs?: number
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
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    speedProbeMs: speedProbe()
  }
}

/**
 * Times a fixed piece of single-threaded work of the kind a request does (objects, JSON, strings, a Map, SHA-256),
 * best of five, in ms. Load averages miss what slows a shared virtual machine most (other guests on the same host);
 * this does not: the same work taking 1.5x longer is a machine running 1.5x slower at that moment.
 */
export function speedProbe (): number {
  let best = Number.POSITIVE_INFINITY
  let sink = 0
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now()
    const map = new Map<string, number>()
    for (let i = 0; i < 2000; i++) {
      const record = { ray: `r${i}`, host: 'eu-shop.example', hops: [['access', 'client', 'LHR', 6.1], ['relay', 'LHR', 'CDG', 11.8]], ms: i / 7 }
      const text = JSON.stringify(record)
      map.set(record.ray, (JSON.parse(text) as { ms: number }).ms)
      sink += createHash('sha256').update(text).digest()[0] as number
    }
    for (const v of map.values()) sink += v
    best = Math.min(best, performance.now() - t0)
  }
  // Read so that the work cannot be optimised away.
  return sink < 0 ? -1 : Math.round(best * 100) / 100
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

/**
 * Pins every thread of each process to a CPU list with taskset (util-linux), and returns what puts each back on the
 * CPUs it had; a reason instead where it cannot (no taskset, one CPU, a list outside the processes' allowed set).
 */
export function pinProcesses (placement: readonly { readonly pid: number, readonly cpus: string }[]): { restore: () => void } | { reason: string } {
  if (cpus().length < 2) return { reason: 'one CPU only' }
  const taskset = which('taskset')
  if (taskset === undefined) return { reason: 'taskset is not installed (util-linux)' }
  const run = (args: string[]): string => execFileSync(taskset, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const before: { pid: number, mask: string }[] = []
  const restore = (): void => {
    for (const b of before) {
      try { run(['-a', '-p', b.mask, String(b.pid)]) } catch { /* the process has gone */ }
    }
  }
  try {
    for (const p of placement) {
      // "pid 123's current affinity mask: 3"
      const mask = run(['-p', String(p.pid)]).trim().split(/\s+/).pop() as string
      before.push({ pid: p.pid, mask })
      run(['-a', '-p', '-c', p.cpus, String(p.pid)])
    }
    return { restore }
  } catch (err) {
    restore()
    return { reason: `taskset failed: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n')[0] ?? ''}` }
  }
}

let ticksPerSecond: number | undefined

/**
 * CPU time (user + system) a process and its children (nginx's workers under its master) have used so far, ms, from
 * /proc: for a process that is not Node's, whose own counters the bench cannot ask. Undefined where /proc has no such
 * process (not Linux, or the process is gone). Kernel clock ticks: 10 ms at the usual 100 per second.
 */
export function processTreeCpuMs (pid: number): number | undefined {
  let stat: string
  try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8') } catch { return undefined }
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  // Fields after the command name (which may hold spaces, in parentheses): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  let ms = (Number(fields[11]) + Number(fields[12])) * 1000 / ticksPerSecond
  let children: string[] = []
  try { children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean) } catch {}
  for (const c of children) ms += processTreeCpuMs(Number(c)) ?? 0
  return ms
}
