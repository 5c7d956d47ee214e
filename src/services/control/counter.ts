// A Prometheus counter for the per-request path, the counterpart of CellHistogram (histogram.ts). prom-client's
// Counter hashes the label set and validates it on every increment, even through a child from labels(); this one
// hands out a cell per label set once, and counting is one addition. It registers in a prom-client Registry and
// answers it in the shape prom-client's own counters do, so the registry writes it exactly like them (including the
// `_total` suffix in OpenMetrics).
import type { Metric, Registry, RegistryContentType } from 'prom-client'

export interface CounterCell {
  /** Adds one. */
  inc (): void
}

export interface CellCounterOptions {
  readonly name: string
  readonly help: string
  /** The labels that tell cells apart; none for a single series. */
  readonly labelNames?: readonly string[]
  readonly registers: readonly Registry<RegistryContentType>[]
}

class Cell implements CounterCell {
  readonly labels: Record<string, string>
  value = 0
  constructor (labels: Record<string, string>) { this.labels = labels }
  inc (): void { this.value++ }
}

export class CellCounter {
  /** Not readonly: a registry in OpenMetrics mode drops a `_total` suffix from a counter's name, as prom-client's own. */
  name: string
  readonly help: string
  readonly type = 'counter'
  readonly aggregator = 'sum'
  readonly #labelNames: readonly string[]
  readonly #cells = new Map<string, Cell>()

  constructor (opts: CellCounterOptions) {
    this.name = opts.name
    this.help = opts.help
    this.#labelNames = [...(opts.labelNames ?? [])]
    // A single series exists from the start, at zero, as prom-client's does.
    if (this.#labelNames.length === 0) this.cell()
    for (const r of opts.registers) r.registerMetric(this as unknown as Metric)
  }

  /** The cell of one label set, values in labelNames' order (made on first use, then the same one). */
  cell (...values: string[]): CounterCell {
    if (values.length !== this.#labelNames.length) {
      throw new RangeError(`${this.name}: ${this.#labelNames.length} label values expected, got ${values.length}`)
    }
    // Label values are free text: each is length-prefixed, so no two sets share a key.
    let key = ''
    for (const v of values) key += `${v.length}:${v}`
    let c = this.#cells.get(key)
    if (c === undefined) {
      const labels: Record<string, string> = {}
      this.#labelNames.forEach((name, i) => { labels[name] = values[i] as string })
      c = new Cell(labels)
      this.#cells.set(key, c)
    }
    return c
  }

  /** Series in the order their cells were made (Registry#getMetricsAsString and #getMetricsAsJSON). */
  async get (): Promise<{ name: string, help: string, type: 'counter', aggregator: 'sum', values: { value: number, labels: Record<string, string> }[] }> {
    const values = [...this.#cells.values()].map((c) => ({ value: c.value, labels: c.labels }))
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}
