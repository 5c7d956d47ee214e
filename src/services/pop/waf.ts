// A small WAF rule set, so that "inspected" is observable: only an inspection PoP (which holds the plaintext) runs it.
// Patterns after the OWASP Core Rule Set's SQL injection (942xxx) and path traversal (930xxx) families, much reduced.

export interface WafRule {
  readonly id: string
  readonly test: (target: string) => boolean
}

const SQLI = [
  /\bunion\b[\s\S]{0,40}\bselect\b/i,
  /['"]\s*(?:or|and)\s+['"]?\w+['"]?\s*=\s*['"]?\w+/i,
  /;\s*(?:drop|delete|truncate|alter)\s+table\b/i,
  /\b(?:sleep|benchmark|pg_sleep)\s*\(/i,
  /'\s*--/
]

const TRAVERSAL = [
  /(?:^|[\\/])\.\.(?:[\\/]|$)/,
  /\/etc\/(?:passwd|shadow)\b/i
]

export const WAF_RULES: readonly WafRule[] = Object.freeze([
  { id: 'sqli', test: (t: string) => SQLI.some((re) => re.test(t)) },
  { id: 'path-traversal', test: (t: string) => TRAVERSAL.some((re) => re.test(t)) }
])

/** Percent-decodes repeatedly (double encoding is a classic evasion), tolerating malformed escapes. */
function decode (s: string): string {
  // Nothing encoded: the common case, decoded as it is.
  if (!s.includes('%') && !s.includes('+')) return s
  let cur = s.replace(/\+/g, ' ')
  for (let i = 0; i < 3; i++) {
    let next: string
    try { next = decodeURIComponent(cur) } catch { next = cur.replace(/%2e/gi, '.').replace(/%2f/gi, '/').replace(/%5c/gi, '\\').replace(/%27/gi, '\'') }
    if (next === cur) break
    cur = next
  }
  return cur
}

/** Returns the id of the first rule the request target (path and query) trips, or undefined. */
export function wafCheck (target: string, rules: readonly WafRule[] = WAF_RULES): string | undefined {
  const decoded = decode(target)
  for (const r of rules) if (r.test(decoded) || (decoded !== target && r.test(target))) return r.id
  return undefined
}
