// The nginx peer's generated configuration (bench/peers/nginx.ts): nginx itself is not installed in CI, so its
// settings that the measurements depend on are checked here.
import { describe, expect, it } from 'vitest'
import { nginxConfig } from '../../bench/peers/nginx.ts'

describe('nginx peer configuration', () => {
  const conf = nginxConfig('/tmp/x', new URL('http://127.0.0.1:9000'), { one: 9001, twoFront: 9002, twoBack: 9003 })

  it('keeps client and upstream connections open for the whole run', () => {
    // nginx closes a kept-alive connection after 1,000 requests by default (keepalive_requests, 1.19.10+), and
    // autocannon 9 then times later responses against the wrong requests: the limit must be far above a run's count.
    const http = conf.match(/^http \{\n {2}access_log off;\n {2}keepalive_requests (\d+);/m)
    expect(Number(http?.[1])).toBeGreaterThanOrEqual(1_000_000)
    const upstreams = [...conf.matchAll(/upstream (\w+) \{ server [^;]+; keepalive \d+; keepalive_requests (\d+); \}/g)]
    expect(upstreams.map((m) => m[1])).toEqual(['origin', 'back'])
    for (const m of upstreams) expect(Number(m[2])).toBeGreaterThanOrEqual(1_000_000)
  })

  it('chains one and two hops to the origin over HTTP/1.1 with kept-alive upstreams', () => {
    expect(conf).toContain('listen 127.0.0.1:9001;\n    location / {\n      proxy_pass http://origin;')
    expect(conf).toContain('listen 127.0.0.1:9002;\n    location / {\n      proxy_pass http://back;')
    expect(conf).toContain('listen 127.0.0.1:9003;\n    location / {\n      proxy_pass http://origin;')
    expect(conf.match(/proxy_http_version 1\.1;\n {6}proxy_set_header Connection "";/g)).toHaveLength(3)
    expect(conf).toContain('server 127.0.0.1:9000;')
  })
})
