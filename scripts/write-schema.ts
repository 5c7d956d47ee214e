// Writes config/schema.json, the JSON Schema of scenario files for editors, from the TypeBox schema.
// Run `npm run schema` after changing src/config/schema.ts; a test fails while the committed file is stale.
import { writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { editorJsonSchema } from '../src/config/schema.ts'

export const schemaPath = fileURLToPath(new URL('../config/schema.json', import.meta.url))

export function renderSchema (): string {
  return JSON.stringify(editorJsonSchema(), null, 2) + '\n'
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeFile(schemaPath, renderSchema())
  console.log(`wrote ${schemaPath}`)
}
