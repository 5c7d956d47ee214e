// Streaming CSV for the batch commands (RFC 4180: quoted fields may hold commas and doubled quotes; one record per
// line, which is all the batch formats need).
import { createReadStream } from 'node:fs'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { SimError } from '../core/errors.ts'

/** Splits one CSV line into fields; returns a string (the reason) when the line is malformed. */
export function parseCsvLine (line: string): string[] | string {
  const out: string[] = []
  let i = 0
  const n = line.length
  for (;;) {
    if (line[i] === '"') {
      let field = ''
      i++
      for (;;) {
        const q = line.indexOf('"', i)
        if (q === -1) return 'unterminated quoted field'
        field += line.slice(i, q)
        if (line[q + 1] === '"') { field += '"'; i = q + 2; continue }
        i = q + 1
        break
      }
      out.push(field)
      if (i === n) return out
      if (line[i] !== ',') return `unexpected character after a quoted field at column ${i + 1}`
      i++
    } else {
      const c = line.indexOf(',', i)
      if (c === -1) { out.push(line.slice(i)); return out }
      out.push(line.slice(i, c))
      i = c + 1
    }
  }
}

/** Quotes a field when it needs it. */
export function csvField (value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}

export interface CsvRecord {
  /** 1-based line number in the input. */
  readonly line: number
  readonly text: string
  readonly fields: Record<string, string>
}

/** Opens `path` (or standard input for `-`). */
export function openInput (path: string, stdin: Readable, cwd: string): Readable {
  return path === '-' ? stdin : createReadStream(resolve(cwd, path))
}

const READ_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EISDIR: 'a directory, not a file',
  EACCES: 'permission denied',
  EPERM: 'permission denied'
}

/** Why the input could not be read, for a system error from opening or reading it; undefined for any other error. */
function readFailure (err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException
  if (typeof e?.code !== 'string' || typeof e.syscall !== 'string') return undefined
  return READ_FAILURES[e.code] ?? `cannot be read (${e.code})`
}

/**
 * Reads a CSV with a header line, checks that `required` columns are present, and yields each record with its
 * fields by column name. Blank lines are skipped. A malformed line throws SIM_ERR_INPUT_INVALID naming it.
 */
export async function * readCsv (
  input: Readable,
  required: readonly string[],
  name: string,
  /** Sees the header line (fields trimmed, and the text as it was); may throw to refuse it. */
  onHeader?: (header: readonly string[], text: string, line: number) => void
): AsyncGenerator<CsvRecord, void, undefined> {
  const rl = createInterface({ input, crlfDelay: Infinity })
  let header: string[] | undefined
  let line = 0
  try {
    for await (const raw of rl) {
      line++
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw
      if (text.trim() === '') continue
      const fields = parseCsvLine(text)
      if (typeof fields === 'string') throw new SimError('SIM_ERR_INPUT_INVALID', [`${name}:${line}`, fields])
      if (!header) {
        header = fields.map((f) => f.trim())
        // Which of two same-named columns a row's value comes from would be a guess. (Unnamed columns are never read.)
        const repeated = header.find((h, i) => h !== '' && header!.indexOf(h) !== i)
        if (repeated !== undefined) throw new SimError('SIM_ERR_INPUT_INVALID', [`${name}:${line}`, `the header names the column ${repeated} more than once`])
        const missing = required.filter((r) => !header!.includes(r))
        if (missing.length > 0) throw new SimError('SIM_ERR_INPUT_INVALID', [`${name}:${line}`, `the header must name the columns ${required.join(', ')}; missing ${missing.join(', ')}`])
        onHeader?.(header, text, line)
        continue
      }
      if (fields.length !== header.length) throw new SimError('SIM_ERR_INPUT_INVALID', [`${name}:${line}`, `expected ${header.length} fields, found ${fields.length}`])
      const record: Record<string, string> = {}
      for (let i = 0; i < header.length; i++) record[header[i] as string] = fields[i] as string
      yield { line, text, fields: record }
    }
  } catch (err) {
    const reason = readFailure(err)
    if (reason !== undefined) throw new SimError('SIM_ERR_INPUT_INVALID', [name, reason])
    throw err
  } finally {
    rl.close()
  }
  if (!header) throw new SimError('SIM_ERR_INPUT_INVALID', [name, 'empty input: a header line is required'])
}

/** Writes to a stream, waiting for drain when its buffer is full (so huge batches keep memory flat). */
export async function write (out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
}

/** Collects output lines and writes them in chunks of about 64 KiB: one write per line costs more than the work. */
export class ChunkedWriter {
  #buffer = ''
  readonly #out: NodeJS.WritableStream

  constructor (out: NodeJS.WritableStream) {
    this.#out = out
  }

  async line (text: string): Promise<void> {
    this.#buffer += text + '\n'
    if (this.#buffer.length >= 65536) await this.flush()
  }

  async flush (): Promise<void> {
    if (this.#buffer === '') return
    const chunk = this.#buffer
    this.#buffer = ''
    await write(this.#out, chunk)
  }
}
