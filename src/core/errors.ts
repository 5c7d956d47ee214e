// The one registry of error codes. Callers match on `code`, never on message text; every code has an HTTP status
// and is listed in the README's error table (a test checks both). Shape after fastify's lib/errors.js.

export interface ErrorSpec {
  readonly status: number
  /** Message template; `%s` placeholders are filled in order. */
  readonly message: string
}

export const ERRORS = {
  SIM_ERR_CONFIG_INVALID: { status: 500, message: 'invalid configuration:\n%s' },
  SIM_ERR_CONFIG_INCONSISTENT: { status: 500, message: 'inconsistent configuration:\n%s' },
  SIM_ERR_CONFIG_READ: { status: 500, message: 'cannot read configuration file %s: %s' },
  SIM_ERR_HOST_MISSING: { status: 400, message: 'the request has no Host header' },
  SIM_ERR_HOST_UNKNOWN: { status: 421, message: 'no customer is configured for host "%s"' },
  SIM_ERR_CLIENT_IP_INVALID: { status: 400, message: 'client IP address "%s" is not a valid IPv4 or IPv6 address' },
  SIM_ERR_CLIENT_IP_UNLOCATED: { status: 400, message: 'client IP address "%s" has no known location (private, reserved or not in the GeoLite2 data)' },
  SIM_ERR_CLIENT_LOCATION_INVALID: { status: 400, message: 'client location "%s" is not a PoP IATA code, a city, an IP address or "lat,lon" (%s)' },
  SIM_ERR_POP_UNKNOWN: { status: 404, message: 'unknown PoP "%s"' },
  SIM_ERR_REGION_UNKNOWN: { status: 404, message: 'unknown region "%s"' },
  SIM_ERR_NO_HEALTHY_POP: { status: 503, message: 'no healthy PoP can take the request in' },
  SIM_ERR_REGION_UNAVAILABLE: { status: 503, message: 'no healthy PoP in region "%s" can process requests for %s; refused (fail closed)' },
  SIM_ERR_KEY_UNAVAILABLE: { status: 503, message: 'no healthy PoP allowed by the key policy of %s can sign; refused' },
  SIM_ERR_KEY_REFUSED: { status: 403, message: 'PoP %s is outside the key policy of %s: key material refused' },
  SIM_ERR_KEY_SERVER_UNKNOWN: { status: 404, message: 'unknown key server "%s" (this scenario\'s key servers: %s)' },
  SIM_ERR_KEY_SERVER_UNREACHABLE: { status: 502, message: 'the key server of %s did not answer: %s' },
  SIM_ERR_KEY_SIGNATURE_INVALID: { status: 502, message: 'the handshake signature for %s made by %s does not verify with the certificate\'s public key' },
  SIM_ERR_TLS_NOT_TLS: { status: 400, message: 'the connection did not start with a TLS ClientHello (%s)' },
  SIM_ERR_TLS_NO_SNI: { status: 400, message: 'the TLS ClientHello names no server (%s): the edge cannot route without SNI' },
  SIM_ERR_TLS_HELLO_MALFORMED: { status: 400, message: 'malformed TLS ClientHello (%s)' },
  SIM_ERR_TLS_PROXY_HEADER_INVALID: { status: 400, message: 'malformed PROXY protocol header (%s)' },
  SIM_ERR_TLS_HELLO_TIMEOUT: { status: 408, message: 'no complete ClientHello within %s ms' },
  SIM_ERR_TLS_NO_TERMINATOR: { status: 503, message: 'no healthy PoP may hold the key of %s to terminate real TLS (%s)' },
  SIM_ERR_TLS_SNI_MISMATCH: { status: 421, message: 'request for host "%s" on a TLS connection for "%s"' },
  SIM_ERR_POLICY_SYNTAX: { status: 400, message: 'key policy syntax error at column %s: expected %s, found %s' },
  SIM_ERR_FORWARD_UNAUTHENTICATED: { status: 403, message: 'forwarding headers are not authenticated: %s' },
  SIM_ERR_WAF_BLOCKED: { status: 403, message: 'request blocked by inspection rule %s' },
  SIM_ERR_HEADERS_TOO_LARGE: { status: 431, message: 'request headers exceed %s bytes' },
  SIM_ERR_BODY_TOO_LARGE: { status: 413, message: 'request body exceeds %s bytes' },
  SIM_ERR_BAD_REQUEST: { status: 400, message: 'bad request: %s' },
  SIM_ERR_NOT_FOUND: { status: 404, message: 'no route %s %s' },
  SIM_ERR_RAY_UNKNOWN: { status: 404, message: 'no request with ray %s in the ledger (%s)' },
  SIM_ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'method %s is not served here: %s' },
  SIM_ERR_REQUEST_TIMEOUT: { status: 408, message: 'the request was not received whole within %s ms' },
  SIM_ERR_EXPECTATION_FAILED: { status: 417, message: 'expectation "%s" is not supported (only 100-continue is)' },
  SIM_ERR_URL_TOO_LONG: { status: 414, message: 'request target too long: %s' },
  SIM_ERR_MEDIA_TYPE_UNSUPPORTED: { status: 415, message: 'unsupported content type %s' },
  SIM_ERR_TOO_MANY_SENDS: { status: 429, message: '%s requests are already being sent through the edge, the most at once; retry when one has finished' },
  SIM_ERR_CLIENT_CLOSED: { status: 499, message: 'the client closed the connection before the response was sent' },
  SIM_ERR_ORIGIN_UNREACHABLE: { status: 502, message: 'origin of %s unreachable: %s' },
  SIM_ERR_UPSTREAM_UNREACHABLE: { status: 502, message: 'PoP %s unreachable: %s' },
  SIM_ERR_UPSTREAM_TIMEOUT: { status: 504, message: '%s did not answer within %s ms' },
  SIM_ERR_HTTP_VERSION_UNSUPPORTED: { status: 505, message: 'HTTP/%s is not served here: requests are HTTP/1.1 or HTTP/1.0' },
  SIM_ERR_INPUT_INVALID: { status: 400, message: 'invalid input at %s: %s' },
  SIM_ERR_LISTEN_FAILED: { status: 500, message: 'cannot listen on %s port %s: %s' },
  SIM_ERR_INTERNAL: { status: 500, message: 'internal error: %s' }
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERRORS

export function formatMessage (code: ErrorCode, args: readonly unknown[]): string {
  let i = 0
  return ERRORS[code].message.replace(/%s/g, () => String(args[i++] ?? ''))
}

/** An error with a stable code and an HTTP status. */
export class SimError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly details?: unknown

  constructor (code: ErrorCode, args: readonly unknown[] = [], details?: unknown) {
    // A client error (4xx) is an answer, not a fault: its stack says nothing, and capturing one (async frames
    // included) cost more than the rest of refusing the request. Server errors keep theirs for the logs.
    const limit = Error.stackTraceLimit
    if (ERRORS[code].status < 500) Error.stackTraceLimit = 0
    try {
      super(formatMessage(code, args))
    } finally {
      Error.stackTraceLimit = limit
    }
    this.name = 'SimError'
    this.code = code
    this.statusCode = ERRORS[code].status
    if (details !== undefined) this.details = details
  }
}

export function simError (code: ErrorCode, ...args: unknown[]): SimError {
  return new SimError(code, args)
}

export function isSimError (err: unknown): err is SimError {
  return err instanceof SimError
}
