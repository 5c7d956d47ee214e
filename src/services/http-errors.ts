// One JSON error shape for every service: `{ error: { code, message, ray } }` with the code's HTTP status, as the
// error handler, the not-found handler and the raw client-error handler (431 before any route runs) of each app.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { SimError, isSimError, type ErrorCode } from '../core/errors.ts'
import { randomHex } from '../net/ids.ts'
import { failBody } from './body-failure.ts'

export interface ErrorBody {
  readonly error: { readonly code: string, readonly message: string, readonly ray: string }
}

/** A fresh ray id, `<16 hex>-<LABEL>`: 64 random bits, enough to be unique across a run. */
export function newRay (label: string): string {
  return `${randomHex(8)}-${label}`
}

export function errorBody (err: SimError, ray: string): ErrorBody {
  return { error: { code: err.code, message: err.message, ray } }
}

/**
 * Maps fastify's own errors (FST_ERR_*), a client gone mid-request and anything unexpected to a registry code.
 * `request`, when the caller has it, fills in the body limit or the content type the error was about.
 */
export function toSimError (err: unknown, request?: FastifyRequest): SimError {
  if (isSimError(err)) return err
  const e = err as Partial<FastifyError> & { code?: string }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new SimError('SIM_ERR_BODY_TOO_LARGE', [request?.routeOptions.bodyLimit ?? 'the limit of'])
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new SimError('SIM_ERR_MEDIA_TYPE_UNSUPPORTED', [JSON.stringify(request?.headers['content-type'] ?? '')])
    case 'FST_ERR_VALIDATION':
      return new SimError('SIM_ERR_INPUT_INVALID', [(e as { validationContext?: string }).validationContext ?? 'request', validationMessage(e)])
    case 'FST_ERR_NOT_FOUND':
      return new SimError('SIM_ERR_NOT_FOUND', ['', ''])
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new SimError('SIM_ERR_URL_TOO_LONG', ['a path parameter is longer than the router accepts'])
    case 'FST_ERR_BAD_URL':
      return new SimError('SIM_ERR_BAD_REQUEST', ['malformed request target'])
    // The peer closed the connection while its request body was being read: nobody is left to answer.
    case 'ECONNRESET':
      return new SimError('SIM_ERR_CLIENT_CLOSED')
  }
  if (e.message === 'aborted') return new SimError('SIM_ERR_CLIENT_CLOSED')
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500
  if (status >= 400 && status < 500) return new SimError('SIM_ERR_BAD_REQUEST', [e.message ?? 'malformed request'])
  return new SimError('SIM_ERR_INTERNAL', [e.code ?? 'unexpected failure'])
}

/** One of Ajv's errors, as fastify hands them over in a validation error's `validation`. */
interface AjvError {
  readonly keyword: string
  readonly instancePath: string
  readonly message?: string
  readonly params?: { readonly allowedValue?: unknown, readonly allowedValues?: readonly unknown[], readonly additionalProperty?: string }
}

/**
 * A validation error's message, field by field. A field that takes one of a few constants (a union of literals, which
 * Ajv reports as one failed `const` per literal and a failed `anyOf`, or an `enum`) names the values it takes; any
 * other failure keeps Ajv's own words, as fastify writes them (`querystring/limit must be >= 1`).
 */
export function validationMessage (e: { message?: string, validation?: unknown, validationContext?: string }): string {
  const errors = e.validation
  if (!Array.isArray(errors) || errors.length === 0) return e.message ?? ''
  const fields = new Map<string, { allowed: unknown[], messages: string[] }>()
  for (const x of errors as AjvError[]) {
    const at = `${e.validationContext ?? ''}${x.instancePath}`
    let field = fields.get(at)
    if (field === undefined) fields.set(at, field = { allowed: [], messages: [] })
    if (x.keyword === 'const') field.allowed.push(x.params?.allowedValue)
    else if (x.keyword === 'enum') field.allowed.push(...(x.params?.allowedValues ?? []))
    else if (x.keyword === 'additionalProperties' && x.params?.additionalProperty !== undefined) field.messages.push(`has no field ${JSON.stringify(x.params.additionalProperty)}`)
    else if (x.message !== undefined && !field.messages.includes(x.message)) field.messages.push(x.message)
  }
  const parts: string[] = []
  for (const [at, field] of fields) {
    parts.push(field.allowed.length > 0
      ? `${at} must be one of ${field.allowed.map((v) => JSON.stringify(v)).join(', ')}`
      : `${at} ${field.messages.join(', ')}`)
  }
  return parts.join('; ')
}

/** The ray of a request: the one already set on the reply, else a new one labelled with the service. */
export function rayOf (reply: FastifyReply, label: string): string {
  const set = reply.getHeader('x-sim-ray')
  if (typeof set === 'string') return set
  const ray = newRay(label)
  reply.header('x-sim-ray', ray)
  return ray
}

export function sendError (reply: FastifyReply, err: SimError, label: string): FastifyReply {
  const ray = rayOf(reply, label)
  return reply.code(err.statusCode).type('application/json; charset=utf-8').send(errorBody(err, ray))
}

/**
 * Only a path (origin-form) can be forwarded: not `OPTIONS *` (asterisk-form, about the server itself) nor an absolute
 * URL (absolute-form, for forward proxies; this is a reverse proxy named by the Host). RFC 9112 section 3.2.
 */
export function targetFormError (url: string | undefined): SimError | undefined {
  return url?.charCodeAt(0) === 47 /* / */ ? undefined : new SimError('SIM_ERR_BAD_REQUEST', ['the request target must be a path starting with "/"'])
}

/**
 * What is wrong with a request line that node's parser let through: a version other than HTTP/1.x (node reads
 * "HTTP/2.0" and "HTTP/0.9" in an HTTP/1 request line; HTTP/2 is never sent as text, RFC 9113 section 3), then the
 * target's form.
 */
export function requestLineError (raw: IncomingMessage): SimError | undefined {
  if (raw.httpVersionMajor !== 1) return new SimError('SIM_ERR_HTTP_VERSION_UNSUPPORTED', [raw.httpVersion])
  return targetFormError(raw.url)
}

/** A Host field's shape (RFC 9110 section 7.2, RFC 3986 section 3.2.2): a name or [IPv6 literal], then an optional port. */
const HOST_FIELD = /^(?:\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d*))?$/

/** The Host field hostFieldError last found well-formed. */
let lastWellFormedHost: string | undefined

/**
 * What is wrong with a request's Host field, if anything: none (or only blanks), a character outside visible ASCII
 * (a name is sent in its ASCII form; an internationalised one as punycode, xn--), or a port that is not a number up
 * to 65535. Anything else is looked up as the customer it names.
 */
export function hostFieldError (host: string | undefined): SimError | undefined {
  // Requests repeat their Host: the last one found well-formed is compared as text instead of matched again.
  if (host !== undefined && host === lastWellFormedHost) return undefined
  if (host === undefined || host.trim() === '') return new SimError('SIM_ERR_HOST_MISSING')
  // Node reads header bytes as Latin-1: a name sent in UTF-8 arrives as characters above 0x7e.
  if (/[^\x21-\x7e]/.test(host)) return new SimError('SIM_ERR_BAD_REQUEST', [`the Host header must be visible ASCII: an internationalised name is sent as punycode (xn--...), got ${JSON.stringify(host.slice(0, 100))}`])
  const m = HOST_FIELD.exec(host)
  const port = m?.[1]
  if (m === null || (port !== undefined && port !== '' && Number(port) > 65535)) return new SimError('SIM_ERR_BAD_REQUEST', [`malformed Host header ${JSON.stringify(host.slice(0, 100))}: a name or [IPv6 address], then an optional :port up to 65535`])
  lastWellFormedHost = host
  return undefined
}

/** The planner's refusal as an error, keeping the planner's own reason as the message. */
export function planRefusal (code: string, reason: string): SimError {
  const err = new SimError(code as ErrorCode, [])
  err.message = reason
  return err
}

export function sendCode (reply: FastifyReply, label: string, code: ErrorCode, ...args: unknown[]): FastifyReply {
  return sendError(reply, new SimError(code, args), label)
}

/**
 * The methods an app's routes take for a path, from the routes as they are added (so it must be called before any
 * is): a route's `:param` matches one path segment and a `*` the rest of the path, as in find-my-way.
 */
function routeMethods (app: FastifyInstance): (path: string) => string[] {
  const routes: { readonly methods: readonly string[], readonly pattern: RegExp }[] = []
  app.addHook('onRoute', function noteRoute (route) {
    const source = route.url.split('/').map((s) => s === '*' ? '.*' : s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('/')
    routes.push({ methods: [route.method].flat(), pattern: new RegExp(`^${source}$`) })
  })
  return function methodsFor (path) {
    const methods = new Set<string>()
    for (const r of routes) if (r.pattern.test(path)) for (const m of r.methods) methods.add(m)
    return [...methods].sort()
  }
}

/**
 * Installs the shared handlers on an app. `label` names the service in rays it mints (a PoP id, EDGE, ORIGIN...).
 * Errors are logged with their code only: a message may quote a host, never a path (STYLE.md, Logging).
 */
export function installErrorHandling (app: FastifyInstance, label: string, unrouted?: (request: FastifyRequest, reply: FastifyReply) => unknown): void {
  app.setErrorHandler(function simErrorHandler (err: unknown, request: FastifyRequest, reply: FastifyReply) {
    const sim = toSimError(err, request)
    if (sim.statusCode >= 500) request.log.error({ code: sim.code, pop: label, err: isSimError(err) ? undefined : err }, 'request failed')
    else request.log.info({ code: sim.code, pop: label }, 'request refused')
    return sendError(reply, sim, label)
  })
  // A data path takes what no route matched too: its routes take fastify's standard methods, and every other method
  // node knows (WebDAV's PROPFIND, MKCOL or LOCK, PURGE, QUERY...) arrives here, to be forwarded like GET.
  const methodsOf = unrouted === undefined ? routeMethods(app) : undefined
  app.setNotFoundHandler(unrouted ?? function simNotFound (request: FastifyRequest, reply: FastifyReply) {
    const path = request.url.split('?')[0] as string
    // A path that other methods serve is there, for them only (RFC 9110 section 15.5.6): 405 with the methods that are.
    const allowed = methodsOf?.(path) ?? []
    if (allowed.length === 0) return sendCode(reply, label, 'SIM_ERR_NOT_FOUND', request.method, path)
    return sendCode(reply.header('allow', allowed.join(', ')), label, 'SIM_ERR_METHOD_NOT_ALLOWED', request.method, `${path} takes ${allowed.join(', ')}`)
  })
  // The data paths check the request line in their entry (requestLineError), where they check the target too.
  if (unrouted === undefined) {
    app.addHook('onRequest', function refuseVersion (request: FastifyRequest, reply: FastifyReply, done: () => void) {
      if (request.raw.httpVersionMajor === 1) return done()
      sendError(reply, new SimError('SIM_ERR_HTTP_VERSION_UNSUPPORTED', [request.raw.httpVersion]), label)
    })
  }
  // CONNECT never reaches a route (node emits 'connect' instead of 'request'); without a listener node would drop
  // the connection without a word. No service here is a forward proxy.
  app.server.on('connect', function refuseConnect (_req: IncomingMessage, socket: Socket) {
    writeRawError(socket, new SimError('SIM_ERR_METHOD_NOT_ALLOWED', ['CONNECT', 'no service here is a forward proxy']), label)
  })
  // An expectation other than 100-continue (RFC 9110 section 10.1.1): node would answer a bare 417.
  app.server.on('checkExpectation', function refuseExpectation (req: IncomingMessage, res: ServerResponse) {
    answerEarly(res, new SimError('SIM_ERR_EXPECTATION_FAILED', [String(req.headers.expect ?? '').slice(0, 100)]), label)
  })
}

/**
 * `Expect: 100-continue` decided on the headers alone: a declared body over `bodyLimitBytes` gets its 413 at once,
 * before the client sends it (RFC 9110 section 10.1.1 lets a server answer with a final status instead of 100);
 * anything else gets its `100 Continue` and goes on to the routes, as node does without this listener.
 */
export function answerContinue (app: FastifyInstance, label: string, bodyLimitBytes: number): void {
  const server = app.server
  server.on('checkContinue', function continueOrRefuse (req: IncomingMessage, res: ServerResponse) {
    const cl = req.headers['content-length']
    if (cl !== undefined && Number(cl) > bodyLimitBytes) {
      answerEarly(res, new SimError('SIM_ERR_BODY_TOO_LARGE', [bodyLimitBytes]), label)
      return
    }
    res.writeContinue()
    server.emit('request', req, res)
  })
}

/** An error answer for a request no route saw, then the connection closed (its body, if any, was never sent). */
function answerEarly (res: ServerResponse, sim: SimError, label: string): void {
  const ray = newRay(label)
  const body = JSON.stringify(errorBody(sim, ray))
  res.writeHead(sim.statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-sim-ray': ray,
    connection: 'close'
  })
  res.end(body)
}

/**
 * The options every service's Fastify instance shares: the JSON error shape for what fails before a route runs
 * (the HTTP parser, the router) and no bare 400 from node for a request without a Host header (the services answer
 * SIM_ERR_HOST_MISSING or ignore the Host themselves). `maxHeaderSize` is the parser's limit on a header block;
 * `reportedLimit` is the limit an error names, when the service enforces a lower one itself.
 */
export function serverOptions (label: string, maxHeaderSize = DEFAULT_MAX_HEADER_SIZE, reportedLimit = maxHeaderSize, requestTimeoutMs = REQUEST_TIMEOUT_MS) {
  return {
    // A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 section 6.3): its body stream
    // starts ended (Node 24.12), so node does not read and discard it after the answer. 3% less CPU per relayed request
    // (npm run bench:compare, 10 pairs of processes).
    http: { maxHeaderSize, requireHostHeader: false, optimizeEmptyRequests: true },
    // A field a schema does not name is refused, not dropped: ?newconection=false (a typo) would otherwise be answered
    // as if it had not been sent. Types are still coerced from the query string's text.
    ajv: { customOptions: { removeAdditional: false } },
    // A request (headers and body) not received whole in time is answered 408 (fastify turns node's timeout off).
    requestTimeout: requestTimeoutMs,
    clientErrorHandler: clientErrorHandler(label, reportedLimit, requestTimeoutMs),
    frameworkErrors: function simFrameworkError (err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
      return sendError(reply, toSimError(err, request), label)
    }
  }
}

/**
 * A `childLoggerFactory` that gives every request the service's own logger rather than a pino child per request: the
 * services' lines carry the ray (or nothing per request), not fastify's request id, and a child per request per hop
 * was a measurable share of a hop's CPU.
 */
export function sameLogger (logger: FastifyBaseLogger): FastifyBaseLogger {
  return logger
}

/** Node's own default for `maxHeaderSize` (16 KiB). */
export const DEFAULT_MAX_HEADER_SIZE = 16384

/**
 * What the simulator's own forwarding may add to a request's header block on its way (the signed `x-sim-fwd` of a
 * relay; the inspection PoP's trace context, inspection header and `x-sim-pop` towards the origin). Services that
 * take requests from other PoPs accept this much above `server.headerLimitBytes`, so a client request within the
 * limit is never refused further in; the ingress holds clients to the limit itself (headerBlockBytes in pop/ingress.ts).
 */
export const FORWARDING_HEADER_ALLOWANCE = 4096

/** How long a client may take to send a whole request, headers and body (node's `headersTimeout` is 60 s too). */
export const REQUEST_TIMEOUT_MS = 60_000

/**
 * fastify's `clientErrorHandler`: node's HTTP parser rejects a request before any route runs (header block over
 * `maxHeaderSize`, malformed request line), so the answer is written on the socket, in the same JSON shape.
 * 431 is RFC 6585 section 5.
 */
export function clientErrorHandler (label: string, headerLimitBytes: number, requestTimeoutMs = REQUEST_TIMEOUT_MS) {
  return function simClientError (err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    const sim = err.code === 'HPE_HEADER_OVERFLOW'
      ? headOverflow(err as { rawPacket?: unknown, bytesParsed?: unknown }, headerLimitBytes)
      : timeout
        ? new SimError('SIM_ERR_REQUEST_TIMEOUT', [requestTimeoutMs])
        : new SimError('SIM_ERR_BAD_REQUEST', [parserFault(err)])
    // One request gets one answer, and no answer is lost to the error.
    const inFlight = inFlightResponse(socket)
    if (timeout) {
      // The request that timed out is the one in flight: once its answer has begun, there is no other to give.
      if (inFlight?.headersSent === true) socket.destroy()
      else writeRawError(socket, sim, label)
      return
    }
    // The parser stopped inside the body of the request being answered: the error is that request's, and its handler
    // answers it, once (its body's reader fails with the error); nothing after it on the connection can be read.
    const owner = inFlight?.req
    if (inFlight !== undefined && owner !== undefined && !owner.complete) {
      failBody(owner, sim)
      // The peer closed its side with the body unfinished: nobody is left to read an answer (a relay or a client that
      // gave up), and the handler's reply is recorded as its client having gone.
      if (err.code === 'HPE_INVALID_EOF_STATE') { socket.destroy(); return }
      if (!inFlight.headersSent) inFlight.setHeader('connection', 'close')
      // A handler that reads its body otherwise than through the data path's reader (an origin draining it) does not
      // learn of the failure: its connection is cut once a whole request's time has passed without the answer.
      const cut = setTimeout(() => socket.destroy(), requestTimeoutMs)
      cut.unref()
      socket.once('close', () => clearTimeout(cut))
      answerWhenIdle(socket, () => socket.destroy())
      return
    }
    // Requests sent before the malformed one on the same connection (pipelined) are answered first, in order; the
    // error follows them, then the connection closes.
    answerWhenIdle(socket, () => writeRawError(socket, sim, label))
  }
}

/**
 * A head over the parser's limit: 414 when the limit was reached inside the request line (RFC 9112 section 3: a
 * request-target longer than the server will parse), else 431. Node's parser counts the target and every field
 * toward one limit; the error carries the chunk being parsed (`rawPacket`) and where in it the parser stopped
 * (`bytesParsed`). The request line is known only when that chunk holds the request's start, as it does for a head
 * sent in one piece; otherwise the answer is 431.
 */
export function headOverflow (err: { rawPacket?: unknown, bytesParsed?: unknown }, headerLimitBytes: number): SimError {
  const packet = err.rawPacket
  if (Buffer.isBuffer(packet)) {
    const end = typeof err.bytesParsed === 'number' ? Math.min(err.bytesParsed, packet.length) : packet.length
    // The request being parsed starts after the last empty line before the error (requests pipelined before it).
    const blank = packet.lastIndexOf('\r\n\r\n', end)
    const start = blank === -1 ? 0 : blank + 4
    const lineEnd = packet.indexOf('\n', start)
    if (lineEnd === -1 || lineEnd >= end) {
      const line = packet.subarray(start, Math.min(end, start + 64)).toString('latin1')
      if (REQUEST_LINE_START.test(line)) return requestLineTooLong(headerLimitBytes)
    }
  }
  return new SimError('SIM_ERR_HEADERS_TOO_LARGE', [headerLimitBytes])
}

/** A method token and a space (RFC 9110 section 5.6.2, RFC 9112 section 3): the start of a request line. */
const REQUEST_LINE_START = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /

/** The 414 for a request target that alone reaches the limit on a request's head. */
export function requestLineTooLong (headerLimitBytes: number): SimError {
  return new SimError('SIM_ERR_URL_TOO_LONG', [`it reaches the ${headerLimitBytes}-byte limit on a request's head`])
}

/** What node's parser refused, in its own words: the code and llhttp's reason (a fixed text, no request data). */
function parserFault (err: NodeJS.ErrnoException & { reason?: unknown }): string {
  const code = err.code ?? 'malformed HTTP request'
  const reason = typeof err.reason === 'string' && err.reason !== '' ? err.reason : undefined
  return reason === undefined ? code : `${code} (${reason.charAt(0).toLowerCase()}${reason.slice(1)})`
}

/** The response node is writing on a connection, if one is unfinished (node keeps it on the socket). */
function inFlightResponse (socket: Socket): ServerResponse | undefined {
  const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  return res != null && !res.writableFinished ? res : undefined
}

/**
 * Runs `then` once no response is unfinished on the connection: node writes pipelined requests' responses one after
 * another, each attached to the socket when the one before it has finished.
 */
function answerWhenIdle (socket: Socket, then: () => void): void {
  if (socket.destroyed) return
  const res = inFlightResponse(socket)
  if (res === undefined) { then(); return }
  const next = (): void => { setImmediate(() => answerWhenIdle(socket, then)) }
  res.once('finish', next)
  // A response that closes unfinished (the connection failed under it): nothing more can be written.
  res.once('close', () => { if (!res.writableFinished) { res.off('finish', next); socket.destroy() } })
}

/** An error answer written straight on a socket no request object owns, then the connection closed. */
export function writeRawError (socket: Duplex, sim: SimError, label: string): void {
  const ray = newRay(label)
  const body = JSON.stringify(errorBody(sim, ray))
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${sim.statusCode} ${STATUS_CODES[sim.statusCode] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nx-sim-ray: ${ray}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}
