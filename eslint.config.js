// ESLint flat config: typescript-eslint's recommended rules on sources, tests and benchmarks.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'src/web/vendor/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The harness core reaches a network only through a connector (src/connectors/contract.ts and
    // the registry in src/connectors/index.ts): no transaction format, node client or connector internals.
    files: ['src/harness/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/protocol/*', '**/ledger/*', '**/client/*'], message: 'The harness core must not know a network: go through a connector (src/connectors/contract.ts).' },
            { group: ['**/connectors/*/*'], message: "Use the connector contract and registry (src/connectors/contract.ts, index.ts), not one connector's internals." },
            { group: ['ws', 'undici'], message: 'Network I/O belongs in a connector, not in the harness core.' },
          ],
        },
      ],
    },
  },
);
