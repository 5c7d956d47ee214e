// Lint rules: typescript-eslint's recommended set, plus the purity rule that keeps src/core free of
// sockets, clocks, randomness and logging, and the layering rule that keeps src/config from importing outer layers
// (docs/design.md, "Layout").
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
  }
)
