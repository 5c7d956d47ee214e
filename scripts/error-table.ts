// Prints the README's error table from the registry: node scripts/error-table.ts
import { ERRORS } from '../src/core/errors.ts'

console.log('| code | HTTP | meaning |\n|---|---|---|')
for (const [code, spec] of Object.entries(ERRORS)) {
  console.log(`| \`${code}\` | ${spec.status} | ${spec.message.replace(/%s/g, '…').replace(/\n/g, ' ').replace(/\|/g, '\\|')} |`)
}
