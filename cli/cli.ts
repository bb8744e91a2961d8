#!/usr/bin/env node
import { printable } from '../domain/actor.js';
import { createCliContext } from './commands/context.js';
import { runCli } from './program.js';

// Whatever a command prints, stored text included, reaches the terminal with its control characters
// shown as escapes (line breaks and tabs kept): nothing stored can send the terminal an escape sequence.
// The one place the CLI reads the environment: the context parses it once (domain/settings.ts).
const ctx = createCliContext(
  {
    out: (s) => console.log(printable(s, { keepLineBreaks: true })),
    err: (s) => console.error(printable(s, { keepLineBreaks: true })),
  },
  process.env,
);
const code = await runCli(ctx, process.argv.slice(2));
process.exitCode = code;
