#!/usr/bin/env node
/**
 * The `kvq` executable: `node cli/main.ts demo`, `bun cli/main.ts demo`,
 * `deno run -A cli/main.ts demo`, or `kvq demo` once installed from npm.
 *
 * @module
 */

import process from "node:process";
import { runCli } from "./cli.ts";

process.exitCode = await runCli(process.argv.slice(2));
