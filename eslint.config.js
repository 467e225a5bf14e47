// ESLint flat config (issue #13): @eslint/js recommended + typescript-eslint recommended, without
// type information (type-aware rules would make a lint run cost a full tsc program; `npx tsc --noEmit`
// is the type check). Formatting is prettier's job (.prettierrc.json), so no style rules here.
import js from '@eslint/js';
import globals from 'globals';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['dist/', 'node_modules/', 'coverage/', 'runs/', 'out/', 'test/fixtures/', '.cache/'],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs', 'bin/nino'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // unused names are errors, except `_`-prefixed ones (placeholders in callbacks and
      // destructuring) and the rest sibling of a destructure that drops keys
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'all',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // tfjs's typings force a few casts through `any` (kernel registries, customGrad); each use
      // is visible as a warning, none fails the run
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
);
