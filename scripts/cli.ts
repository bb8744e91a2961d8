#!/usr/bin/env node
import { createCliContext } from './commands/context.js';
import { runCli } from './program.js';

const ctx = createCliContext({ out: (s) => console.log(s), err: (s) => console.error(s) });
const code = await runCli(ctx, process.argv.slice(2));
process.exitCode = code;
