// Request/response calls between the bench orchestrator and its child processes (servers, load generator) over
// Node's IPC channel. Each role runs in its own process so the load generator never shares an event loop with the
// servers it measures.
import { fork, type ChildProcess } from 'node:child_process'

type Handler = (params: never) => unknown
export type Handlers = Record<string, Handler>

interface CallMessage { readonly id: number, readonly method: string, readonly params: unknown }
interface ReplyMessage { readonly id: number, readonly result?: unknown, readonly error?: string }
interface ProgressMessage { readonly progress: unknown }

export interface Child {
  call<T> (method: string, params?: unknown): Promise<T>
  onProgress (fn: ((p: unknown) => void) | undefined): void
  readonly pid: number
  stop (): Promise<void>
}

/** Starts a child module with an IPC channel; 'advanced' serialisation carries typed arrays as they are. */
export function spawnChild (file: string | URL): Child {
  const proc: ChildProcess = fork(file, [], {
    // The same V8 young-generation size as `npm start` (README, Set up), for every process alike.
    execArgv: ['--disable-warning=ExperimentalWarning', '--max-semi-space-size=64'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced'
  })
  let next = 0
  let progress: ((p: unknown) => void) | undefined
  const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  proc.on('message', (msg: ReplyMessage | ProgressMessage) => {
    if ('progress' in msg) { progress?.(msg.progress); return }
    const p = pending.get(msg.id)
    if (!p) return
    pending.delete(msg.id)
    if (msg.error !== undefined) p.reject(new Error(msg.error))
    else p.resolve(msg.result)
  })
  proc.on('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`child ${String(file)} exited (${code ?? signal})`))
    pending.clear()
  })
  return {
    pid: proc.pid ?? 0,
    call<T> (method: string, params?: unknown) {
      return new Promise<T>((resolve, reject) => {
        const id = next++
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
        proc.send({ id, method, params } satisfies CallMessage)
      })
    },
    onProgress (fn) { progress = fn },
    stop () {
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
        proc.once('exit', () => { clearTimeout(timer); resolve() })
        proc.send({ id: -1, method: 'exit', params: null } satisfies CallMessage)
      })
    }
  }
}

/** The child side: answers calls with the handlers; 'exit' ends the process once the handlers' cleanup ran. */
export function serve (handlers: Handlers, cleanup: () => Promise<void> = async () => {}): void {
  // The parent went away without saying so (it crashed or exited early): stop too, rather than keep servers running.
  process.once('disconnect', () => { cleanup().catch(() => {}).finally(() => process.exit(0)) })
  process.on('message', async (msg: CallMessage) => {
    if (msg.method === 'exit') {
      await cleanup().catch(() => {})
      process.disconnect()
      process.exit(0)
    }
    const h = handlers[msg.method]
    try {
      if (!h) throw new Error(`unknown method ${msg.method}`)
      const result = await (h as (p: unknown) => unknown)(msg.params)
      process.send?.({ id: msg.id, result } satisfies ReplyMessage)
    } catch (err) {
      process.send?.({ id: msg.id, error: (err as Error).stack ?? String(err) } satisfies ReplyMessage)
    }
  })
}

export function sendProgress (progress: unknown): void {
  process.send?.({ progress } satisfies ProgressMessage)
}

/** CPU time of this process since `since` (µs) over wall time (ms): 1.0 = one core fully busy. */
export function cpuShare (since: NodeJS.CpuUsage, wallMs: number): number {
  const d = process.cpuUsage(since)
  return wallMs > 0 ? Math.round(((d.user + d.system) / 1000 / wallMs) * 1000) / 1000 : 0
}
