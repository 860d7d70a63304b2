/**
 * The dashboard page script served at `/assets/dashboard.js`: the source text of the typed
 * {@linkcode dashboardMain} (`_client.ts`), called at once. Every runtime gives a function's source
 * as JavaScript (Node strips the types, Bun and Deno transpile, the npm build compiles), so the page
 * needs no build step; tests/server/dashboard_chromium_test.ts runs it in Chromium on all three.
 *
 * @module
 */

import { dashboardMain } from "./_client.ts";

/** The page script. */
export const DASHBOARD_JS: string = `"use strict";\n(${dashboardMain.toString()})();\n`;
