"use strict";
/**
 * Runs one of the runner's CommonJS bundles with a V8 code cache beside it (runner/build.ts).
 *
 * Every agent costs three Node processes (runner, agent CLI or scripted agent, team MCP server),
 * and each used to spend about a quarter of its CPU parsing and compiling its bundle
 * (issue 15, item 10). Node 22 has module.enableCompileCache(); Node 20, which local mode supports,
 * has no compile cache for modules, so this does what its CommonJS loader does (Module.wrap, run
 * the wrapper with exports/require/module) through vm.Script, which accepts V8's cached data
 * (https://nodejs.org/api/vm.html#new-vmscriptcode-options: cachedData, cachedDataRejected,
 * script.createCachedData()).
 *
 * The cache is written when a process that found none (or a rejected one) exits, so it holds the
 * functions that process compiled lazily too. V8 rejects a cache made by another V8 version, for
 * other source text, or under other V8 flags (a runner starts with --max-semi-space-size, the
 * team server without): each set of flags has its own file, or processes started with different
 * flags would reject and rewrite one another's cache forever. Writing is atomic (rename) and
 * best-effort: a read-only image directory only means no cache.
 */
const { readFileSync, renameSync, writeFileSync } = require("node:fs");
const Module = require("node:module");
const { dirname } = require("node:path");
const vm = require("node:vm");

function run(bundle) {
  // The bundle is the program: it decides it is the main module by comparing argv[1] with itself.
  process.argv[1] = bundle;
  // Node maps stack traces through source maps (--enable-source-maps, as the container image
  // sets) only for code its own loaders compiled, not for a vm.Script: readable stacks win there.
  if (process.sourceMapsEnabled) {
    require(bundle);
    return;
  }
  const flags = fnv1a(JSON.stringify([process.version, process.execArgv, process.env.NODE_OPTIONS ?? ""]));
  const cacheFile = `${bundle}.${flags}.v8cache`;
  const { script, cached } = compile(bundle, cacheFile);
  if (!cached) {
    process.once("exit", () => {
      const temporary = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(temporary, script.createCachedData());
        renameSync(temporary, cacheFile);
      } catch {
        // Best-effort (read-only directory, full disk): the next process compiles as usual.
      }
    });
  }
  const module = new Module(bundle, null);
  module.filename = bundle;
  module.paths = Module._nodeModulePaths(dirname(bundle));
  module.loaded = true;
  const wrapper = script.runInThisContext();
  wrapper.call(module.exports, module.exports, Module.createRequire(bundle), module, bundle, dirname(bundle));
}

/**
 * The bundle compiled, with the cache when there is one that V8 accepts.
 *
 * What is read here is let go before the bundle runs, while it is still young garbage that the
 * next scavenge frees. Held any longer, it lives on in a runner's small heap until a full
 * collection, which may never come: `Module.wrap(readFileSync(...))` left a second copy of the
 * source (1.6 MB for the runner, in a heap snapshot) and the cache's buffer (1.5 MB).
 */
function compile(bundle, cacheFile) {
  const [head, tail] = Module.wrap("\u0000").split("\u0000");
  // Decoded once, wrapper included: V8 keeps this string (it compiles functions lazily from it).
  const source = Buffer.concat([Buffer.from(head), readFileSync(bundle), Buffer.from(tail)]).toString("utf8");
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(source, { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  return { script, cached: cachedData !== undefined && !script.cachedDataRejected };
}

/** 32-bit FNV-1a as hex: names a cache file per set of flags (node:crypto would cost a start its load). */
function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

module.exports = { run };
