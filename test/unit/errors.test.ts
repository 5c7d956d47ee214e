// The error registry: codes are unique, well formed, carry an HTTP status, and each is documented in the README.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERRORS, SimError, formatMessage, type ErrorCode } from '../../src/core/errors.ts'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const codes = Object.keys(ERRORS) as ErrorCode[]

describe('error registry', () => {
  it('codes are SIM_ERR_<AREA>_<WHAT> and unique', () => {
    for (const code of codes) expect(code).toMatch(/^SIM_ERR_[A-Z]+(_[A-Z]+)*$/)
    expect(new Set(codes).size).toBe(codes.length)
  })

  it.each(codes)('%s has an HTTP status and is in the README error table with it', (code) => {
    const { status } = ERRORS[code]
    expect(status).toBeGreaterThanOrEqual(400)
    expect(status).toBeLessThan(600)
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${code}\``))
    expect(row, `README error table row for ${code}`).toBeDefined()
    expect(row).toContain(`| ${status} |`)
  })

  it('the README documents no code that does not exist', () => {
    const documented = [...readme.matchAll(/^\| `(SIM_ERR_[A-Z_]+)`/gm)].map((m) => m[1])
    for (const code of documented) expect(codes).toContain(code)
  })

  it('fills message templates in order and keeps code and status on the error', () => {
    expect(formatMessage('SIM_ERR_HOST_UNKNOWN', ['a.example'])).toBe('no customer is configured for host "a.example"')
    const err = new SimError('SIM_ERR_BODY_TOO_LARGE', [1024])
    expect(err).toMatchObject({ code: 'SIM_ERR_BODY_TOO_LARGE', statusCode: 413, message: 'request body exceeds 1024 bytes' })
  })

  it('captures no stack for a client error (4xx) but keeps one for a server error, and restores the limit', () => {
    const before = Error.stackTraceLimit
    const client = new SimError('SIM_ERR_HOST_UNKNOWN', ['a.example'])
    expect(client.stack).toBe('SimError: no customer is configured for host "a.example"')
    const server = new SimError('SIM_ERR_INTERNAL', ['boom'])
    expect(server.stack).toContain('errors.test.ts')
    expect(Error.stackTraceLimit).toBe(before)
    // A message that cannot be formatted must not leave stack capture switched off for everyone else.
    expect(() => new SimError('SIM_ERR_HOST_UNKNOWN', [{ toString () { throw new Error('unprintable') } }])).toThrow('unprintable')
    expect(Error.stackTraceLimit).toBe(before)
  })
})
