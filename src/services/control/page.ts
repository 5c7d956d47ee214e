// Serves the teaching page (page/): static HTML, CSS and JS modules with no build step and nothing fetched from elsewhere,
// since the simulator often runs where there is no network.
import { readFileSync } from 'node:fs'
import type { FastifyInstance, FastifyReply } from 'fastify'

const PAGE_DIR = new URL('./page/', import.meta.url)

/** The page's files: only these are served, so no path from a request ever reaches the file system. */
const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
  'map.js': 'text/javascript; charset=utf-8',
  'state.js': 'text/javascript; charset=utf-8',
  'words.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8'
}

// The page needs nothing but itself and the API: a strict policy makes an accidental CDN reference fail loudly.
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'"

export function registerPage (app: FastifyInstance): void {
  // Read once at build time: a few kilobytes, and a missing file fails at start-up rather than on first visit.
  const bodies = new Map(Object.keys(FILES).map((name) => [name, readFileSync(new URL(name, PAGE_DIR), 'utf8')]))

  function serve (name: string) {
    return async function servePageFile (_request: unknown, reply: FastifyReply) {
      return reply
        .type(FILES[name] as string)
        .header('content-security-policy', CSP)
        .header('cache-control', 'no-cache')
        .send(bodies.get(name))
    }
  }
  app.get('/', serve('index.html'))
  for (const name of Object.keys(FILES)) app.get(`/page/${name}`, serve(name))
}
