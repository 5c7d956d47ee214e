// What every scenario gets from the runner: the two child processes, the run's settings and a progress line.
import type { Machine } from './machine.ts'
import type { Child } from './rpc.ts'

export interface Settings {
  readonly quick: boolean
  /** Multiplier of the durations and counts (of the quick values in a quick run). */
  readonly scale: number
  readonly timeScale: number
  readonly outDir: string
  /** The scenario file the added scenario measures instead of the embedded default (--config), and its text. */
  readonly scenario?: { readonly file: string, readonly yaml: string }
}

/** A duration or count for this run: the full or the quick value, times --scale, at least `min`. */
export function sized (settings: Settings, full: number, quick: number, min = 0): number {
  return Math.max(min, (settings.quick ? quick : full) * settings.scale)
}

export interface Ctx {
  readonly servers: Child
  readonly loadgen: Child
  readonly settings: Settings
  readonly machine: Machine
  progress (scenario: string, text: string): void
  /** Shows responses per second from the load generator while a job runs. */
  watch (scenario: string, label: string): () => void
}

export function createProgress (loadgen: Child, out: NodeJS.WriteStream = process.stderr) {
  const tty = out.isTTY === true
  let live = false
  function line (text: string): void {
    if (tty) out.write(`\r\x1b[2K${text}`)
    else out.write(text + '\n')
    live = tty
  }
  return {
    progress (scenario: string, text: string): void {
      if (live) out.write('\n')
      live = false
      out.write(`[${scenario}] ${text}\n`)
    },
    watch (scenario: string, label: string): () => void {
      let last = { responses: 0, seconds: 0 }
      line(`[${scenario}] ${label} ...`)
      loadgen.onProgress((p) => {
        const cur = p as { responses: number, seconds: number }
        const rps = (cur.responses - last.responses) / Math.max(0.001, cur.seconds - last.seconds)
        last = cur
        // Non-interactive output (CI, the test) gets the start line only; a terminal gets a live rate.
        if (tty) line(`[${scenario}] ${label}  ${cur.seconds.toFixed(0)} s  ${Math.round(rps).toLocaleString('en')} rps`)
      })
      return () => {
        loadgen.onProgress(undefined)
        if (live) out.write('\n')
        live = false
      }
    }
  }
}
