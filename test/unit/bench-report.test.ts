// The benchmark summary's fidelity table (bench/lib/report.ts): a rate that fewer trials reached says so, since its
// median is then over fewer runs. Rendered from the committed results with one rate's later trials removed.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FILES, withinOneMsUpTo, writeReport } from '../../bench/lib/report.ts'

interface Step { workload: string, trial: number, targetRps: number }

describe('benchmark summary: fidelity trials per rate', () => {
  let dir = ''
  afterAll(async () => { if (dir) await rm(dir, { recursive: true, force: true }) })

  it('marks a rate reached by fewer trials than the run had, and no other', async () => {
    const committed = JSON.parse(await readFile(new URL(`../../bench/results/${FILES.fidelity}`, import.meta.url), 'utf8')) as { result: { settings: { trials: number }, steps: Step[] } }
    const { trials } = committed.result.settings
    expect(trials).toBeGreaterThan(1)
    const single = committed.result.steps.filter((s) => s.workload === 'single')
    // A rate every trial reached, then cut back to the first trial only.
    const full = [...new Set(single.map((s) => s.targetRps))].filter((rate) => single.filter((s) => s.targetRps === rate).length === trials)
    const rate = full[1] as number
    committed.result.steps = committed.result.steps.filter((s) => !(s.workload === 'single' && s.targetRps === rate && s.trial > 1))
    dir = await mkdtemp(join(tmpdir(), 'rsim-report-'))
    await writeFile(join(dir, FILES.fidelity), JSON.stringify(committed))
    await writeReport(dir)
    const summary = await readFile(join(dir, 'summary.md'), 'utf8')
    const section = summary.slice(summary.indexOf('**single**'), summary.indexOf('**mix**'))
    const row = section.split('\n').find((l) => l.startsWith(`| ${rate} |`))
    expect(row).toMatch(new RegExp(`\\| (yes|\\*\\*no\\*\\*) \\(1 of ${trials} trials\\) \\|`))
    const others = section.split('\n').filter((l) => full.some((r) => r !== rate && l.startsWith(`| ${r} |`)))
    expect(others.length).toBe(full.length - 1)
    for (const l of others) expect(l).not.toContain('trials)')
  })
})

describe('benchmark summary: the 1 ms reading of the fidelity criterion', () => {
  const row = (targetRps: number, p50ErrorMs: number, faithful = true) => ({ targetRps, p50ErrorMs, faithful })

  it('stops at the first rate over 1 ms, even one the 5% bound let through', () => {
    expect(withinOneMsUpTo([row(100, 0.9), row(250, -0.4), row(500, 1.85), row(750, 0.8)])).toBe(250)
    expect(withinOneMsUpTo([row(100, 0.9), row(250, 0.95, false)])).toBe(100)
    expect(withinOneMsUpTo([row(100, 1.02), row(250, 0.5)])).toBe(0)
    expect(withinOneMsUpTo([row(100, 1), row(250, 1)])).toBe(250)
  })
})
