// The Node.js the rsim command needs: 24 or later, which runs the TypeScript sources natively. This file and
// bin/rsim.js are plain JavaScript, so that an older Node reads them and says so instead of failing on a `.ts` import.

/** The first Node.js major version that runs rsim. */
export const REQUIRED_MAJOR = 24

/**
 * Why this Node.js cannot run rsim, or undefined when it can.
 * @param {string} version `process.version`, e.g. `v20.20.2`
 * @returns {string | undefined}
 */
export function nodeTooOld (version) {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1])
  if (major >= REQUIRED_MAJOR) return undefined
  return `rsim needs Node.js ${REQUIRED_MAJOR} or later, which runs its TypeScript sources natively; this is Node.js ${version}. ` +
    'In the clone, run `npm run rsim -- <command>` (it uses the Node.js the project pins), or put the pinned one first on your PATH: ' +
    'export PATH="$PWD/node_modules/.bin:$PATH"'
}
