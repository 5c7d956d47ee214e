// nginx as a peer forwarder when it is installed: a config generated in a temporary folder, run as a child process on
// loopback ports (one worker, like the single Node event loop it is compared with), killed afterwards. The bench
// installs nothing: without nginx it says how to add it.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { processTreeCpuMs, which } from '../lib/machine.ts'

export const NGINX_HINT = 'nginx is not installed: add it with `sudo apt-get install nginx-light` (Debian/Ubuntu) and run the bench again'

export interface NginxPeer {
  readonly version: string
  /** Entry URLs: one hop (-> origin) and two hops (-> second nginx server -> origin). */
  readonly oneHop: string
  readonly twoHops: string
  readonly pid: number
  /** CPU time its master and worker have used so far, ms (undefined without /proc). */
  cpuMs (): number | undefined
  stop (): Promise<void>
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

export function nginxPath (): string | undefined {
  return which('nginx')
}

export function nginxConfig (dir: string, origin: URL, ports: { one: number, twoFront: number, twoBack: number }): string {
  const upstream = (name: string, host: string, port: string | number): string =>
    `  upstream ${name} { server ${host}:${port}; keepalive 64; keepalive_requests 1000000; }\n`
  // HTTP/1.1 with an empty Connection header keeps upstream connections alive (nginx docs, ngx_http_upstream_module
  // "keepalive"); access logs off, as the Node peers log nothing either.
  const server = (port: number, to: string): string => `  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://${to};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }
  }
`
  return `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
${upstream('origin', origin.hostname, origin.port)}${upstream('back', '127.0.0.1', ports.twoBack)}${server(ports.one, 'origin')}${server(ports.twoFront, 'back')}${server(ports.twoBack, 'origin')}}
`
}

export async function startNginx (bin: string, originUrl: string): Promise<NginxPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'rsim-bench-nginx-'))
  const ports = { one: await freePort(), twoFront: await freePort(), twoBack: await freePort() }
  const conf = join(dir, 'nginx.conf')
  await writeFile(conf, nginxConfig(dir, new URL(originUrl), ports))
  const version = await new Promise<string>((resolve) => {
    const v = spawn(bin, ['-v'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let text = ''
    v.stderr.on('data', (c: Buffer) => { text += c.toString() })
    v.on('close', () => resolve(text.trim().replace(/^nginx version:\s*/, '')))
    v.on('error', () => resolve('unknown'))
  })
  const proc: ChildProcess = spawn(bin, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  // Ready when the front port accepts connections.
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${ports.one}/`).then(async (r) => { await r.arrayBuffer(); return true }, () => false)
    if (ok) break
    if (i > 50 || proc.exitCode !== null) {
      proc.kill('SIGKILL')
      await rm(dir, { recursive: true, force: true })
      throw new Error(`nginx did not start (see ${conf})`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    version,
    oneHop: `http://127.0.0.1:${ports.one}`,
    twoHops: `http://127.0.0.1:${ports.twoFront}`,
    pid: proc.pid ?? 0,
    cpuMs: () => proc.pid === undefined ? undefined : processTreeCpuMs(proc.pid),
    async stop () {
      // SIGQUIT: graceful shutdown (nginx docs, "Controlling nginx"); SIGKILL if it lingers.
      proc.kill('SIGQUIT')
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
      await rm(dir, { recursive: true, force: true })
    }
  }
}
