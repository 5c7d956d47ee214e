// Tests for the Geo Key Manager v2 policy parser: ASTs, positioned syntax errors, and formatPolicy round trips.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatPolicy, MAX_POLICY_NESTING, parsePolicy, POLICY_REGION_CODES } from '../../src/core/key-policy-parser.ts'
import type { PolicyAst } from '../../src/core/key-policy-parser.ts'

const region = (code: string): PolicyAst => ({ type: 'region', code } as PolicyAst)
const country = (code: string): PolicyAst => ({ type: 'country', code })
const not = (expr: PolicyAst): PolicyAst => ({ type: 'not', expr })
const and = (left: PolicyAst, right: PolicyAst): PolicyAst => ({ type: 'and', left, right })
const or = (left: PolicyAst, right: PolicyAst): PolicyAst => ({ type: 'or', left, right })

describe('parsePolicy: valid expressions', () => {
  const cases: Array<[string, PolicyAst]> = [
    ['region: EU', region('EU')],
    ['country: FR', country('FR')],
    ['(region: EU) and (not country: FR)', and(region('EU'), not(country('FR')))],
    ['region: eu', region('EU')],
    ['REGION:wnam', region('WNAM')],
    ['Country :  de', country('DE')],
    ['  \t(region: APAC)\n', region('APAC')],
    ['NOT region: AFR', not(region('AFR'))],
    ['not not country: US', not(not(country('US')))],
    ['region: EU or region: WEUR and country: GB', or(region('EU'), and(region('WEUR'), country('GB')))],
    ['(region: EU or region: WEUR) and country: GB', and(or(region('EU'), region('WEUR')), country('GB'))],
    ['not region: EU and country: CH', and(not(region('EU')), country('CH'))],
    ['not (region: EU and country: CH)', not(and(region('EU'), country('CH')))],
    ['country: DE and country: FR and country: IT', and(and(country('DE'), country('FR')), country('IT'))],
    ['country: DE or (country: FR or country: IT)', or(country('DE'), or(country('FR'), country('IT')))],
    ['((((region: OC))))', region('OC')],
    ['region:ENAM AND NOT country:us OR region:SAM', or(and(region('ENAM'), not(country('US'))), region('SAM'))]
  ]
  it.each(cases)('%j', (input, ast) => {
    expect(parsePolicy(input)).toEqual({ ok: true, ast })
  })

  it('accepts every documented region code', () => {
    for (const code of POLICY_REGION_CODES) expect(parsePolicy(`region: ${code}`)).toEqual({ ok: true, ast: region(code) })
  })
})

describe('parsePolicy: syntax errors', () => {
  const START = "'(' or 'not' or 'region' or 'country'"
  const REGION = 'a region code (AFR, APAC, EEUR, ENAM, EU, ME, OC, SAM, WEUR, WNAM)'
  const COUNTRY = 'an ISO 3166-1 alpha-2 country code'
  const cases: Array<[string, number, string, string]> = [
    ['(region: EU', 12, "')' or 'and' or 'or'", 'end of input'],
    ['region: EU )', 12, "'and' or 'or' or end of input", "')'"],
    ['', 1, START, 'end of input'],
    ['   ', 4, START, 'end of input'],
    ['not', 4, START, 'end of input'],
    ['region EU', 8, "':'", "'EU'"],
    ['region:', 8, REGION, 'end of input'],
    ['region: XX', 9, REGION, "'XX'"],
    ['region: EUR', 9, REGION, "'EUR'"],
    ['country: FRA', 10, COUNTRY, "'FRA'"],
    ['country: 12', 10, COUNTRY, "'12'"],
    ['country: F', 10, COUNTRY, "'F'"],
    ['country: (FR)', 10, COUNTRY, "'('"],
    ['region: EU and', 15, START, 'end of input'],
    ['region: EU or or country: FR', 15, START, "'or'"],
    ['region: EU country: FR', 12, "'and' or 'or' or end of input", "'country'"],
    ['()', 2, START, "')'"],
    ['eu', 1, START, "'eu'"],
    ['region: EU & country: FR', 12, "'and' or 'or' or end of input", "'&'"],
    ['region: EU and (country: FR', 28, "')' or 'and' or 'or'", 'end of input'],
    ['région: EU', 1, START, "'r'"],
    ['(country: DE))', 14, "'and' or 'or' or end of input", "')'"]
  ]
  it.each(cases)('%j -> column %i', (input, column, expected, found) => {
    const r = parsePolicy(input)
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.error).toEqual({
      code: 'SIM_ERR_POLICY_SYNTAX',
      column,
      expected,
      found,
      message: `key policy syntax error at column ${column}: expected ${expected}, found ${found}`
    })
  })

  it('refuses nesting deeper than the limit instead of overflowing the stack', () => {
    const deep = '('.repeat(MAX_POLICY_NESTING + 1) + 'region: EU' + ')'.repeat(MAX_POLICY_NESTING + 1)
    const r = parsePolicy(deep)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.column).toBe(MAX_POLICY_NESTING + 1)
    const ok = '('.repeat(MAX_POLICY_NESTING) + 'region: EU' + ')'.repeat(MAX_POLICY_NESTING)
    expect(parsePolicy(ok)).toEqual({ ok: true, ast: region('EU') })
    expect(parsePolicy('not '.repeat(100_000) + 'region: EU').ok).toBe(true)
  })

  it('truncates a very long offending token', () => {
    const r = parsePolicy('x'.repeat(500))
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.found).toBe(`'${'x'.repeat(40)}...'`)
  })
})

describe('formatPolicy', () => {
  it.each([
    [and(region('EU'), not(country('FR'))), 'region: EU and not country: FR'],
    [or(region('EU'), and(region('WEUR'), country('GB'))), 'region: EU or region: WEUR and country: GB'],
    [and(or(region('EU'), region('WEUR')), country('GB')), '(region: EU or region: WEUR) and country: GB'],
    [and(country('DE'), and(country('FR'), country('IT'))), 'country: DE and (country: FR and country: IT)'],
    [not(or(region('EU'), country('CH'))), 'not (region: EU or country: CH)']
  ])('%j -> %s', (ast, text) => {
    expect(formatPolicy(ast)).toBe(text)
  })
})

const regionArb = fc.constantFrom(...POLICY_REGION_CODES).map((code): PolicyAst => ({ type: 'region', code }))
const countryArb = fc.stringMatching(/^[A-Z]{2}$/).map((code): PolicyAst => ({ type: 'country', code }))
const { ast: astArb } = fc.letrec<{ ast: PolicyAst }>((tie) => ({
  ast: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    regionArb,
    countryArb,
    tie('ast').map((expr): PolicyAst => ({ type: 'not', expr })),
    fc.record({ type: fc.constantFrom('and' as const, 'or' as const), left: tie('ast'), right: tie('ast') })
  )
}))

interface Rng { nextInt (min: number, max: number): number }

// The same AST written the way people write it: any keyword case, any whitespace, redundant parentheses.
function sloppy (ast: PolicyAst, r: Rng): string {
  const ws = (): string => [' ', '  ', '\t', '\n', ''][r.nextInt(0, 4)] as string
  const kase = (s: string): string => [s.toLowerCase(), s.toUpperCase(), s][r.nextInt(0, 2)] as string
  const paren = (s: string): string => `(${ws()}${s}${ws()})`
  let text: string
  switch (ast.type) {
    case 'region':
    case 'country':
      text = `${kase(ast.type)}${ws()}:${ws()}${kase(ast.code)}`
      break
    case 'not':
      text = `${kase('not')} ${paren(sloppy(ast.expr, r))}`
      break
    default:
      text = `${paren(sloppy(ast.left, r))} ${kase(ast.type)} ${paren(sloppy(ast.right, r))}`
  }
  return r.nextInt(0, 3) === 0 ? paren(text) : text
}

function depth (ast: PolicyAst): number {
  switch (ast.type) {
    case 'region': case 'country': return 0
    case 'not': return 1 + depth(ast.expr)
    default: return 1 + Math.max(depth(ast.left), depth(ast.right))
  }
}

describe('parsePolicy properties', () => {
  it('parse(formatPolicy(ast)) is the identity', () => {
    fc.assert(fc.property(astArb, (ast) => {
      expect(parsePolicy(formatPolicy(ast))).toEqual({ ok: true, ast })
    }), { numRuns: 2000 })
  })

  it('keyword case, whitespace and redundant parentheses do not change the AST', () => {
    fc.assert(fc.property(astArb.filter((a) => depth(a) < 12), fc.nat(), (ast, seed) => {
      expect(parsePolicy(sloppy(ast, seeded(seed)))).toEqual({ ok: true, ast })
    }), { numRuns: 1000 })
  })

  it('never throws on random strings, and errors point inside the input', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => { checkTotal(s) }), { numRuns: 3000 })
  })

  it('never throws on random token soup; accepted input re-formats to a stable canonical text', () => {
    const tokens = ['region', 'country', ':', 'EU', 'wnam', 'FR', 'xx', 'and', 'OR', 'not', '(', ')', ' ', '@', 'FRA']
    const soup = fc.array(fc.constantFrom(...tokens), { maxLength: 20 }).map((t) => t.join(' '))
    fc.assert(fc.property(soup, (input) => {
      const r = checkTotal(input)
      if (r.ok) expect(formatPolicy((parsePolicy(formatPolicy(r.ast)) as { ast: PolicyAst }).ast)).toBe(formatPolicy(r.ast))
    }), { numRuns: 3000 })
  })
})

function checkTotal (input: string): ReturnType<typeof parsePolicy> {
  const r = parsePolicy(input)
  if (!r.ok) {
    expect(r.error.code).toBe('SIM_ERR_POLICY_SYNTAX')
    expect(r.error.column).toBeGreaterThanOrEqual(1)
    expect(r.error.column).toBeLessThanOrEqual(Array.from(input).length + 1)
    expect(r.error.expected.length).toBeGreaterThan(0)
  }
  return r
}

// mulberry32: a tiny deterministic generator so a failing case replays from its seed.
function seeded (seed: number): Rng {
  let a = seed >>> 0
  return {
    nextInt (min: number, max: number): number {
      a = (a + 0x6d2b79f5) >>> 0
      let t = a
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296
      return min + Math.floor(u * (max - min + 1))
    }
  }
}
