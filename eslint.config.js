// Lint rules: typescript-eslint's recommended set, plus the purity rule that keeps src/core free of
// sockets, clocks, randomness and logging, and the layering rules: src/config and src/net import only the core, and
// the services never import the runtime that wires them or the command line (docs/design.md, "Layout").
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'bench/results/**', 'coverage/**', '.rsim/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error'
    }
  },
  {
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fastify*', 'undici*', 'pino*', 'geoip-lite', 'prom-client', 'http', 'https', 'net', 'tls', 'fs'], message: 'src/core is pure: no I/O, sockets or logging.' },
          { group: ['../config/*', '../services/*', '../net/*', '../runtime/*', '../cli/*'], message: 'src/core imports nothing from outer layers.' }
        ]
      }],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'src/core takes time as a parameter.' },
        { object: 'Math', property: 'random', message: 'src/core takes randomness as a parameter.' }
      ],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'process', 'performance']
    }
  },
  {
    // The configuration is read by every outer layer and reads only the model (docs/design.md, "Layout").
    files: ['src/config/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['../services/*', '../net/*', '../runtime/*', '../cli/*'], message: 'src/config imports nothing from outer layers: they pass it what it needs (a locator, say).' },
          { group: ['fastify*', 'undici*', 'pino*', 'geoip-lite'], message: 'src/config reads and checks files: no services, sockets, logging or IP data.' }
        ]
      }]
    }
  },
  {
    // The runtime builds and wires the services; they know it only through the interfaces they declare themselves
    // (services/control/runtime.ts, services/records.ts).
    files: ['src/services/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/runtime/*', '**/cli/*'], message: 'src/services imports nothing from src/runtime or src/cli: the runtime wires the services, not the other way round.' }
        ]
      }]
    }
  },
  {
    // Dispatchers, delay and signing: below the services.
    files: ['src/net/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/config/*', '**/services/*', '**/runtime/*', '**/cli/*'], message: 'src/net imports only the model (src/core) and libraries.' }
        ]
      }]
    }
  }
)
