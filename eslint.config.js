import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/**
 * The folder rules of docs/ARCHITECTURE.md ("Import rules"), one block per folder: an import that
 * leaves the folder for one it may not use fails the lint. Each entry matches the import's path as
 * written (relative, `../` repeated as deep as the file sits). One block per file: ESLint uses the
 * last matching block's options of a rule, so a subfolder's block repeats its parent's patterns.
 */
const UP = String.raw`^(\.\./)+`;
const never = (folders, why) => ({
  regex: `${UP}(${folders.join('|')})/`,
  message: `${why} (docs/ARCHITECTURE.md, "Import rules").`,
});
const ENTRY_POINTS = never(
  ['cli', 'scripts', 'bench', 'test', 'simulators'],
  'Nothing of the product imports the CLI, the tooling scripts, the benchmarks, the tests or the simulators',
);
/** What every connector may not import (ESLint applies one block's patterns per rule, so each repeats it). */
const CONNECTORS = [
  never(
    ['queues', 'operations', 'workers', 'api'],
    'connectors/ imports only domain/, observability/ and connectors/',
  ),
  ENTRY_POINTS,
];
/** Outside its own folder a connector is used through its index.js, its public entrance. */
const CONNECTOR_ENTRANCES = {
  regex: String.raw`^(\.\./)+connectors/(mongo|graph|winrm|powershell)/(?!index\.js$)`,
  message:
    'Outside a connector, import it through its index.js, its public entrance (docs/ARCHITECTURE.md, "Import rules").',
};
/** Outside operations/, the use cases are called through operations/index.js: one entrance, one shape. */
const OPERATIONS_ENTRANCE = {
  regex: String.raw`^(\.\./)+operations/(?!index\.js$)`,
  message:
    'Outside operations/, import the operations through operations/index.js (docs/ARCHITECTURE.md, "Import rules").',
};
/** A connector's subfolder may not use these others, however the path is written. */
const otherConnectors = (folders, why) => ({
  regex: String.raw`^(\.\./)+(connectors/)?(${folders.join('|')})/`,
  message: `${why} (docs/ARCHITECTURE.md, "Import rules").`,
});
/** The connectors' shared root files (guarded lookup, retry, secret files) are theirs and operations/'s. */
const CONNECTOR_ROOT_FILES = {
  regex: String.raw`^(\.\./)+connectors/[^/]+\.js$`,
  message:
    'The connectors\' root files (guarded-lookup, retry, secret-files) serve the connectors, operations/, workers/ and the CLI (docs/ARCHITECTURE.md, "Import rules").',
};
const importRules = (files, ...patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});
/**
 * The product's imports are all static, so the rules above see every one (a dynamic `import()` would
 * pass them unchecked).
 */
const STATIC_IMPORTS_ONLY = {
  files: ['{domain,observability,connectors,queues,operations,workers,api,cli,simulators}/**/*.ts'],
  rules: {
    'no-restricted-syntax': [
      'error',
      {
        selector: 'ImportExpression',
        message:
          'The product imports statically, so the folder rules see every import (docs/ARCHITECTURE.md, "Import rules").',
      },
    ],
  },
};

export const folderRules = [
  importRules(
    ['domain/**/*.ts'],
    {
      regex: String.raw`^\.\./`,
      message:
        'domain/ imports nothing of the project outside domain/ (docs/ARCHITECTURE.md, "Import rules").',
    },
    {
      regex: String.raw`^(?!node:|zod$|\.)`,
      message:
        'domain/ stays pure: of the packages it imports only node: built-ins and zod (docs/ARCHITECTURE.md, "Import rules").',
    },
  ),
  importRules(
    ['observability/**/*.ts'],
    never(
      [
        'connectors',
        'queues',
        'operations',
        'workers',
        'api',
        'cli',
        'scripts',
        'bench',
        'test',
        'simulators',
      ],
      'observability/ imports only domain/',
    ),
  ),
  importRules(['connectors/*.ts'], ...CONNECTORS, {
    regex: String.raw`^\./(graph|winrm|powershell|mongo)/`,
    message:
      'The connectors\' root files are shared by the connectors and import none of them (docs/ARCHITECTURE.md, "Import rules").',
  }),
  importRules(
    ['connectors/graph/**/*.ts'],
    ...CONNECTORS,
    otherConnectors(['winrm', 'powershell', 'mongo'], 'connectors/graph/ uses no other connector'),
  ),
  importRules(
    ['connectors/winrm/**/*.ts'],
    ...CONNECTORS,
    otherConnectors(
      ['powershell', 'graph', 'mongo'],
      'connectors/winrm/ uses no other connector (powershell/ depends on winrm/, never the reverse)',
    ),
  ),
  importRules(
    ['connectors/powershell/**/*.ts'],
    ...CONNECTORS,
    otherConnectors(['graph', 'mongo'], 'connectors/powershell/ uses only winrm/ of the connectors'),
    {
      regex: String.raw`^(\.\./)+(connectors/)?winrm/(?!index\.js$)`,
      message:
        'connectors/powershell/ uses winrm/ through its index.js, its public entrance (docs/ARCHITECTURE.md, "Import rules").',
    },
  ),
  importRules(
    ['connectors/mongo/**/*.ts'],
    ...CONNECTORS,
    otherConnectors(['graph', 'winrm', 'powershell'], 'connectors/mongo/ uses no other connector'),
  ),
  importRules(
    ['queues/**/*.ts'],
    never(
      ['operations', 'workers', 'api', 'observability'],
      'queues/ imports only domain/ and connectors/mongo/',
    ),
    {
      regex: String.raw`^\.\./connectors/(graph|winrm|powershell)/`,
      message: 'queues/ imports only domain/ and connectors/mongo/ (docs/ARCHITECTURE.md, "Import rules").',
    },
    CONNECTOR_ENTRANCES,
    CONNECTOR_ROOT_FILES,
    ENTRY_POINTS,
  ),
  importRules(
    ['operations/**/*.ts'],
    never(['workers', 'api'], 'operations/ imports only domain/, connectors/, queues/ and observability/'),
    CONNECTOR_ENTRANCES,
    ENTRY_POINTS,
  ),
  importRules(
    ['workers/**/*.ts'],
    never(['api'], 'workers/ never imports api/'),
    CONNECTOR_ENTRANCES,
    OPERATIONS_ENTRANCE,
    ENTRY_POINTS,
  ),
  importRules(
    ['api/**/*.ts'],
    never(['workers'], 'api/ asks the engine through operations/, never workers/'),
    {
      regex: String.raw`^\.\./connectors/(graph|winrm|powershell)/`,
      message:
        'api/ uses the stores of connectors/mongo/ and operations/, not the other connectors (docs/ARCHITECTURE.md, "Import rules").',
    },
    CONNECTOR_ENTRANCES,
    CONNECTOR_ROOT_FILES,
    OPERATIONS_ENTRANCE,
    ENTRY_POINTS,
  ),
  importRules(['cli/**/*.ts'], CONNECTOR_ENTRANCES, OPERATIONS_ENTRANCE),
  importRules(
    ['simulators/**/*.ts'],
    never(
      ['queues', 'operations', 'workers', 'api', 'observability', 'cli', 'scripts', 'bench', 'test'],
      'simulators/ import only domain/',
    ),
    {
      regex: String.raw`^(\.\./)+connectors/(?!winrm/wsman\.js$)`,
      message:
        'simulators/ share with the client only the protocol constants of connectors/winrm/wsman.ts (docs/ARCHITECTURE.md, "Import rules").',
    },
  ),
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  ...folderRules,
  STATIC_IMPORTS_ONLY,
);
