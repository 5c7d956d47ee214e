// What a service answers when node's HTTP parser gives up on a request before any route runs, and how errors that
// are not the simulator's own map to its codes.
import { Duplex } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { REQUEST_TIMEOUT_MS, clientErrorHandler, headOverflow, hostFieldError, toSimError, validationMessage } from '../../src/services/http-errors.ts'

/** A socket stand-in that keeps what is written to it. */
function fakeSocket (): Duplex & { written: string } {
  const s = new Duplex({ read () {}, write (chunk: Buffer, _enc, cb) { s.written += chunk.toString(); cb() } }) as Duplex & { written: string }
  s.written = ''
  return s
}

function answer (code: string): { status: number, body: { error: { code: string, message: string } } } {
  const socket = fakeSocket()
  clientErrorHandler('LHR', 2048)(Object.assign(new Error(code), { code }), socket as never)
  const [head = '', body = ''] = socket.written.split('\r\n\r\n')
  expect(head).toContain('Content-Type: application/json; charset=utf-8')
  expect(head).toContain('Connection: close')
  expect(socket.destroyed).toBe(true)
  return { status: Number(head.split(' ')[1]), body: JSON.parse(body) as { error: { code: string, message: string } } }
}

describe('errors before a route runs', () => {
  it('answers an oversized header block 431, a request not received in time 408 and anything else 400', () => {
    expect(answer('HPE_HEADER_OVERFLOW')).toMatchObject({ status: 431, body: { error: { code: 'SIM_ERR_HEADERS_TOO_LARGE', message: 'request headers exceed 2048 bytes' } } })
    expect(answer('ERR_HTTP_REQUEST_TIMEOUT')).toMatchObject({ status: 408, body: { error: { code: 'SIM_ERR_REQUEST_TIMEOUT', message: `the request was not received whole within ${REQUEST_TIMEOUT_MS} ms` } } })
    expect(answer('HPE_INVALID_METHOD')).toMatchObject({ status: 400, body: { error: { code: 'SIM_ERR_BAD_REQUEST' } } })
  })

  it('tells a request line over the head limit (414) from a header block over it (431) by where the parser stopped', () => {
    const overflow = (text: string, at = text.length): string => headOverflow({ rawPacket: Buffer.from(text, 'latin1'), bytesParsed: at }, 2048).code
    const longTarget = `GET /${'a'.repeat(3000)}`
    expect(overflow(longTarget)).toBe('SIM_ERR_URL_TOO_LONG')
    expect(overflow(`${longTarget} HTTP/1.1\r\nHost: a.example\r\n\r\n`, longTarget.length + 1)).toBe('SIM_ERR_URL_TOO_LONG')
    // Stopped in a field: the request line had ended.
    expect(overflow(`GET / HTTP/1.1\r\nx-pad: ${'p'.repeat(3000)}`)).toBe('SIM_ERR_HEADERS_TOO_LARGE')
    // A good request pipelined before the long one: its head is not the one that overflowed.
    expect(overflow(`GET / HTTP/1.1\r\nHost: a.example\r\n\r\n${longTarget}`)).toBe('SIM_ERR_URL_TOO_LONG')
    expect(overflow(`GET / HTTP/1.1\r\nHost: a.example\r\n\r\nGET / HTTP/1.1\r\nx-pad: ${'p'.repeat(3000)}`)).toBe('SIM_ERR_HEADERS_TOO_LARGE')
    // A chunk from the middle of a head, or no chunk at all: nothing says which, so 431.
    expect(overflow('a'.repeat(3000))).toBe('SIM_ERR_HEADERS_TOO_LARGE')
    expect(headOverflow({}, 2048)).toMatchObject({ code: 'SIM_ERR_HEADERS_TOO_LARGE', statusCode: 431 })
    expect(headOverflow({ rawPacket: Buffer.from(longTarget) }, 2048)).toMatchObject({ statusCode: 414, message: "request target too long: it reaches the 2048-byte limit on a request's head" })
  })

  it('gives a request that timed out no second answer once its own has begun', () => {
    const socket = fakeSocket()
    Object.assign(socket, { _httpMessage: { writableFinished: false, headersSent: true } })
    clientErrorHandler('LHR', 2048)(Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket as never)
    expect(socket.written).toBe('')
    expect(socket.destroyed).toBe(true)
    // Not begun: the 408 is its answer.
    const quiet = fakeSocket()
    Object.assign(quiet, { _httpMessage: { writableFinished: false, headersSent: false } })
    clientErrorHandler('LHR', 2048)(Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), quiet as never)
    expect(quiet.written).toMatch(/^HTTP\/1\.1 408 /)
  })

  it('writes nothing to a connection the client reset', () => {
    const socket = fakeSocket()
    clientErrorHandler('LHR', 2048)(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), socket as never)
    expect(socket.written).toBe('')
  })

  it('maps a request body cut off by its sender to SIM_ERR_CLIENT_CLOSED, not to an internal error', () => {
    expect(toSimError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })).code).toBe('SIM_ERR_CLIENT_CLOSED')
    expect(toSimError(new Error('aborted')).code).toBe('SIM_ERR_CLIENT_CLOSED')
    expect(toSimError(new Error('something else')).code).toBe('SIM_ERR_INTERNAL')
  })
})

describe('validation messages', () => {
  it('names the values of a field that takes one of a few, and keeps Ajv\'s words for anything else', () => {
    const oneOf = [
      { keyword: 'const', instancePath: '/mode', params: { allowedValue: 'on' }, message: 'must be equal to constant' },
      { keyword: 'const', instancePath: '/mode', params: { allowedValue: 'off' }, message: 'must be equal to constant' },
      { keyword: 'anyOf', instancePath: '/mode', params: {}, message: 'must match a schema in anyOf' }
    ]
    expect(validationMessage({ validationContext: 'body', validation: oneOf })).toBe('body/mode must be one of "on", "off"')
    const listed = [{ keyword: 'enum', instancePath: '/level', params: { allowedValues: ['info', 'warn'] }, message: 'must be equal to one of the allowed values' }]
    expect(validationMessage({ validationContext: 'querystring', validation: listed })).toBe('querystring/level must be one of "info", "warn"')
    // Two fields, each said once.
    const two = [
      { keyword: 'minimum', instancePath: '/limit', params: {}, message: 'must be >= 1' },
      { keyword: 'required', instancePath: '', params: {}, message: 'must have required property \'host\'' }
    ]
    expect(validationMessage({ validationContext: 'querystring', validation: two })).toBe('querystring/limit must be >= 1; querystring must have required property \'host\'')
    // Without Ajv's details, fastify's own message.
    expect(validationMessage({ message: 'body must be object' })).toBe('body must be object')
  })
})

describe('the Host field', () => {
  it('takes a name or [IPv6 address] with an optional port, in visible ASCII', () => {
    for (const host of ['eu-shop.example', 'EU-SHOP.EXAMPLE.', 'eu-shop.example:8080', 'eu-shop.example:', 'xn--bcher-kva.example', '[::1]:8080', '127.0.0.1']) {
      expect(hostFieldError(host), host).toBeUndefined()
    }
  })

  it('says what is wrong with one that is missing, blank, not ASCII or has a bad port', () => {
    for (const host of [undefined, '', '   ']) expect(hostFieldError(host)?.code).toBe('SIM_ERR_HOST_MISSING')
    // "bücher.example" sent in UTF-8, as node reads it (Latin-1).
    expect(hostFieldError(Buffer.from('bücher.example').toString('latin1'))?.message).toMatch(/visible ASCII: an internationalised name is sent as punycode/)
    for (const host of ['eu-shop.example:abc', 'eu-shop.example:99999', 'a b.example', 'eu-shop.example:80:80', '[::1']) {
      expect(hostFieldError(host), host).toMatchObject({ code: 'SIM_ERR_BAD_REQUEST' })
    }
  })
})
