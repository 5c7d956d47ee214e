// A Prometheus histogram for the per-request path. prom-client's Histogram hashes the label set and turns the bucket
// bound into a property name on every observation, several times per request here; this one hands out a cell per
// label value once, and observing is a bucket search and three additions. It registers in a prom-client Registry
// and answers it in the shape prom-client's own histograms do (getForPromString, get), so the registry writes it
// exactly like them: `_bucket` lines with `le` first, `+Inf`, `_sum`, `_count`, in either exposition format.
import type { Metric, Registry, RegistryContentType } from 'prom-client'

export interface HistogramCell {
  /** Records one value (seconds, for a duration). Throws TypeError for a value that is not a finite number. */
  observe (value: number): void
}

export interface CellHistogramOptions {
  readonly name: string
  readonly help: string
  /** Upper bounds, ascending; `+Inf` is implied. */
  readonly buckets: readonly number[]
  /** The one label that tells cells apart; none for a single series. */
  readonly labelName?: string
  readonly registers: readonly Registry<RegistryContentType>[]
}

interface ExportedValue {
  readonly value: number
  readonly metricName: string
  readonly labels: Record<string, string | number>
  readonly sharedLabels: Record<string, string>
}

class Cell implements HistogramCell {
  readonly labels: Record<string, string>
  readonly counts: Float64Array
  sum = 0
  count = 0
  readonly #bounds: readonly number[]
  constructor (bounds: readonly number[], labels: Record<string, string>) {
    this.#bounds = bounds
    this.labels = labels
    this.counts = new Float64Array(bounds.length)
  }

  observe (value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`)
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > (bounds[i] as number)) i++
    if (i < bounds.length) this.counts[i] = (this.counts[i] as number) + 1
    this.sum += value
    this.count++
  }
}

export class CellHistogram {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #bounds: readonly number[]
  readonly #labelName: string | undefined
  readonly #cells = new Map<string, Cell>()

  constructor (opts: CellHistogramOptions) {
    for (let i = 1; i < opts.buckets.length; i++) {
      if (!((opts.buckets[i] as number) > (opts.buckets[i - 1] as number))) throw new RangeError(`${opts.name}: buckets must ascend`)
    }
    this.name = opts.name
    this.help = opts.help
    this.#bounds = [...opts.buckets]
    this.#labelName = opts.labelName
    // A single series exists from the start, at zero, as prom-client's does.
    if (opts.labelName === undefined) this.cell()
    // The registry asks only for name, help, type, aggregator and values (Registry#getMetricsAsString).
    for (const r of opts.registers) r.registerMetric(this as unknown as Metric)
  }

  /** The cell of one label value (made on first use, then the same one); without a label name, the one series. */
  cell (labelValue = ''): HistogramCell {
    let c = this.#cells.get(labelValue)
    if (c === undefined) {
      c = new Cell(this.#bounds, this.#labelName === undefined ? {} : { [this.#labelName]: labelValue })
      this.#cells.set(labelValue, c)
    }
    return c
  }

  /** Series in the order their cells were made: cumulative buckets, then `+Inf`, sum and count. */
  async getForPromString (): Promise<{ name: string, help: string, type: 'histogram', aggregator: 'sum', values: ExportedValue[] }> {
    const values: ExportedValue[] = []
    const bucket = `${this.name}_bucket`
    for (const c of this.#cells.values()) {
      let cumulative = 0
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += c.counts[i] as number
        values.push({ value: cumulative, metricName: bucket, labels: { le: this.#bounds[i] as number }, sharedLabels: c.labels })
      }
      values.push({ value: c.count, metricName: bucket, labels: { le: '+Inf' }, sharedLabels: c.labels })
      values.push({ value: c.sum, metricName: `${this.name}_sum`, labels: {}, sharedLabels: c.labels })
      values.push({ value: c.count, metricName: `${this.name}_count`, labels: {}, sharedLabels: c.labels })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** The same values with each series' labels in one object (Registry#getMetricsAsJSON). */
  async get (): Promise<{ name: string, help: string, type: 'histogram', aggregator: 'sum', values: { value: number, metricName: string, labels: Record<string, string | number> }[] }> {
    const data = await this.getForPromString()
    return { ...data, values: data.values.map((v) => ({ value: v.value, metricName: v.metricName, labels: { ...v.labels, ...v.sharedLabels } })) }
  }
}
