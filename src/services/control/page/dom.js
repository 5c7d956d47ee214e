// The page's DOM and API helpers: elements (HTML or SVG), the status badge, the error box and JSON calls to the
// control plane with its error shape turned into messages.
const SVG = 'http://www.w3.org/2000/svg'

export const $ = (id) => document.getElementById(id)
export const fmt = (ms) => (Math.round(ms * 10) / 10).toString()

export function el (tag, attrs = {}, text) {
  const node = ['svg', 'line', 'circle', 'g', 'path', 'text', 'title'].includes(tag)
    ? document.createElementNS(SVG, tag)
    : document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  if (text !== undefined) node.textContent = text
  return node
}

export function showError (message) {
  const box = $('error')
  box.textContent = message
  box.hidden = false
}

export function setStatus (text, cls) {
  const s = $('status')
  s.textContent = text
  s.className = `status ${cls}`
}

export async function api (path, init) {
  let res
  try {
    res = await fetch(path, init)
  } catch (err) {
    throw new Error(`control plane unreachable (${err.message})`)
  }
  const body = await res.json().catch(() => null)
  if (!res.ok) {
    throw new Error(body?.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status} from ${path}`)
  }
  return body
}
