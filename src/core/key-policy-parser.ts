// Geo Key Manager v2 policy expressions: a small recursive-descent parser to an AST, and the canonical printer.
// Syntax as documented at developers.cloudflare.com/ssl/edge-certificates/geokey-manager/ (e.g.
// `(region: EU) and (not country: FR)`): `and`, `or`, `not`, parentheses, `region: X`, `country: XX`.
import { formatMessage } from './errors.ts'

/** The v2 region codes of Geo Key Manager (regions/key-regions.json says which PoPs each covers). */
export const POLICY_REGION_CODES = ['AFR', 'APAC', 'EEUR', 'ENAM', 'EU', 'ME', 'OC', 'SAM', 'WEUR', 'WNAM'] as const
export type PolicyRegionCode = typeof POLICY_REGION_CODES[number]

export type PolicyAst =
  | { readonly type: 'region', readonly code: PolicyRegionCode }
  /** ISO 3166-1 alpha-2, upper case. */
  | { readonly type: 'country', readonly code: string }
  | { readonly type: 'not', readonly expr: PolicyAst }
  | { readonly type: 'and' | 'or', readonly left: PolicyAst, readonly right: PolicyAst }

export interface PolicySyntaxError {
  readonly code: 'SIM_ERR_POLICY_SYNTAX'
  /** 1-based, in code points, of the offending token (or one past the end for end of input). */
  readonly column: number
  /** Every token that would have been accepted there, e.g. `')' or 'and' or 'or'`. */
  readonly expected: string
  /** The offending token in quotes, or `end of input`. */
  readonly found: string
  readonly message: string
}

export type PolicyParseResult =
  | { readonly ok: true, readonly ast: PolicyAst }
  | { readonly ok: false, readonly error: PolicySyntaxError }

/** Parentheses deeper than this are refused rather than risking the call stack on hostile input. */
export const MAX_POLICY_NESTING = 64

const REGION_SET: ReadonlySet<string> = new Set(POLICY_REGION_CODES)
const REGION_LABEL = `a region code (${POLICY_REGION_CODES.join(', ')})`
const COUNTRY_LABEL = 'an ISO 3166-1 alpha-2 country code'
const NESTING_LABEL = `at most ${MAX_POLICY_NESTING} nested parentheses`
const EOF_LABEL = 'end of input'
// Expected alternatives are listed in this order so messages are stable whatever the parser tried first.
const LABEL_ORDER = ["'('", "')'", "':'", "'and'", "'or'", "'not'", "'region'", "'country'", REGION_LABEL, COUNTRY_LABEL, NESTING_LABEL, EOF_LABEL]

type TokenKind = 'word' | '(' | ')' | ':' | 'other' | 'eof'

interface Token {
  readonly kind: TokenKind
  readonly text: string
  readonly column: number
}

function isWordChar (ch: string): boolean {
  return /^[A-Za-z0-9_]$/.test(ch)
}

function tokenize (input: string): Token[] {
  const chars = Array.from(input) // code points, so columns match what a person counts
  const tokens: Token[] = []
  let i = 0
  while (i < chars.length) {
    const ch = chars[i] as string
    if (/^\s$/u.test(ch)) { i++; continue }
    const column = i + 1
    if (ch === '(' || ch === ')' || ch === ':') {
      tokens.push({ kind: ch, text: ch, column })
      i++
    } else if (isWordChar(ch)) {
      let j = i
      while (j < chars.length && isWordChar(chars[j] as string)) j++
      tokens.push({ kind: 'word', text: chars.slice(i, j).join(''), column })
      i = j
    } else {
      // Unknown characters become tokens of their own: the parser reports them with what it expected there.
      tokens.push({ kind: 'other', text: ch, column })
      i++
    }
  }
  tokens.push({ kind: 'eof', text: '', column: chars.length + 1 })
  return tokens
}

function describeToken (t: Token): string {
  if (t.kind === 'eof') return EOF_LABEL
  const text = t.text.length > 40 ? `${t.text.slice(0, 40)}...` : t.text
  return `'${text}'`
}

function joinExpected (labels: ReadonlySet<string>): string {
  return [...labels].sort((a, b) => LABEL_ORDER.indexOf(a) - LABEL_ORDER.indexOf(b)).join(' or ')
}

/** Thrown only inside `parsePolicy` to unwind the descent; never escapes it. */
class Unwind {
  readonly error: PolicySyntaxError
  constructor (error: PolicySyntaxError) { this.error = error }
}

/** Parses a v2 policy expression. Bad input is returned as data, never thrown. Precedence: not > and > or. */
export function parsePolicy (input: string): PolicyParseResult {
  const tokens = tokenize(input)
  let pos = 0
  let depth = 0
  // Labels of everything tried at the current token; reset when a token is consumed.
  const expected = new Set<string>()

  const peek = (): Token => tokens[pos] as Token
  const advance = (): Token => {
    const t = peek()
    if (t.kind !== 'eof') pos++
    expected.clear()
    return t
  }
  const fail = (label: string, at: Token = peek()): never => {
    expected.add(label)
    const exp = joinExpected(expected)
    const found = describeToken(at)
    throw new Unwind({
      code: 'SIM_ERR_POLICY_SYNTAX',
      column: at.column,
      expected: exp,
      found,
      message: formatMessage('SIM_ERR_POLICY_SYNTAX', [at.column, exp, found])
    })
  }
  const acceptKeyword = (word: string): boolean => {
    const t = peek()
    if (t.kind === 'word' && t.text.toLowerCase() === word) { advance(); return true }
    expected.add(`'${word}'`)
    return false
  }
  const acceptPunct = (kind: '(' | ')' | ':'): boolean => {
    if (peek().kind === kind) { advance(); return true }
    expected.add(`'${kind}'`)
    return false
  }
  const expectPunct = (kind: '(' | ')' | ':'): void => {
    if (!acceptPunct(kind)) fail(`'${kind}'`)
  }

  function parseOr (): PolicyAst {
    let left = parseAnd()
    while (acceptKeyword('or')) left = { type: 'or', left, right: parseAnd() }
    return left
  }

  function parseAnd (): PolicyAst {
    let left = parseUnary()
    while (acceptKeyword('and')) left = { type: 'and', left, right: parseUnary() }
    return left
  }

  function parseUnary (): PolicyAst {
    // A loop, not recursion, so `not not not ...` cannot exhaust the stack.
    let nots = 0
    while (acceptKeyword('not')) nots++
    let expr = parsePrimary()
    for (; nots > 0; nots--) expr = { type: 'not', expr }
    return expr
  }

  function parsePrimary (): PolicyAst {
    const open = peek()
    if (acceptPunct('(')) {
      if (++depth > MAX_POLICY_NESTING) {
        fail(NESTING_LABEL, open)
      }
      const inner = parseOr()
      expectPunct(')')
      depth--
      return inner
    }
    if (acceptKeyword('region')) {
      expectPunct(':')
      const t = peek()
      const code = t.kind === 'word' ? t.text.toUpperCase() : ''
      if (!REGION_SET.has(code)) fail(REGION_LABEL)
      advance()
      return { type: 'region', code: code as PolicyRegionCode }
    }
    if (acceptKeyword('country')) {
      expectPunct(':')
      const t = peek()
      if (t.kind !== 'word' || !/^[A-Za-z]{2}$/.test(t.text)) fail(COUNTRY_LABEL)
      advance()
      return { type: 'country', code: t.text.toUpperCase() }
    }
    return fail("'country'")
  }

  try {
    const ast = parseOr()
    if (peek().kind !== 'eof') fail(EOF_LABEL)
    return { ok: true, ast }
  } catch (err) {
    if (err instanceof Unwind) return { ok: false, error: err.error }
    throw err
  }
}

const PRECEDENCE = { or: 1, and: 2, not: 3, region: 4, country: 4 } as const

/**
 * Canonical text of a policy: lower-case keywords, upper-case codes, `key: VALUE` with one space, and only the
 * parentheses the precedence needs (and/or are left-associative, so a right operand of the same operator keeps them).
 * `parsePolicy(formatPolicy(ast))` gives back `ast`.
 */
export function formatPolicy (ast: PolicyAst): string {
  switch (ast.type) {
    case 'region':
    case 'country':
      return `${ast.type}: ${ast.code}`
    case 'not':
      return `not ${wrap(ast.expr, PRECEDENCE.not)}`
    case 'and':
    case 'or': {
      const p = PRECEDENCE[ast.type]
      return `${wrap(ast.left, p)} ${ast.type} ${wrap(ast.right, p + 1)}`
    }
  }
}

function wrap (ast: PolicyAst, minPrecedence: number): string {
  const text = formatPolicy(ast)
  return PRECEDENCE[ast.type] < minPrecedence ? `(${text})` : text
}
