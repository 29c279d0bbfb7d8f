// Loads the CLI's bundle chunks with V8 code caches taken *after* a run.
//
// Why: Node's own compile cache (enabled in the launcher) is written right after a file is compiled, so it holds
// only each file's top-level code; every function is still compiled on its first call. For commander and the
// command tree that is ~4 ms of a ~25 ms start, and more for the steps, zod and the PFX code (BENCHMARKS.md).
// V8 can serialise the functions a run compiled (vm.Script#createCachedData after the run); no library offers
// that for CommonJS, so this does it for the files of dist/bundle.
//
// Safety: the caches live in a private per-user folder (0700, refused if anyone else can write to it) and are keyed
// by Node version, architecture, chunk name and a CRC-32 of the chunk's source: V8's own check compares only the
// source's length, so a changed chunk of the same length would otherwise run the old code. V8 checks only a cached
// blob's header, and a damaged body can crash the process, so each blob's CRC-32 is recorded beside it and checked
// before V8 sees it. Any problem before a chunk runs means a plain require().
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const Module = require("node:module");
const { crc32 } = require("node:zlib");

/** FNV-1a of a string, in hex: a folder name per installation without loading node:crypto (~3 ms). */
function shortHash(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}

/** A folder of this user's that nobody else can write to. */
function isPrivateFolder(folder) {
  const info = fs.statSync(folder);
  const ours = typeof process.getuid !== "function" || info.uid === process.getuid();
  return info.isDirectory() && ours && (process.platform === "win32" || (info.mode & 0o022) === 0);
}

function privateCacheDirectory(env, bundleDir) {
  if (env.AKV_CRASHPLAN_CODE_CACHE === "0") return undefined;
  // As the XDG spec says, a relative XDG_CACHE_HOME (or HOME) is ignored.
  const absolute = (value) => (value && path.isAbsolute(value) ? value : undefined);
  const home = absolute(env.HOME);
  const base = absolute(env.XDG_CACHE_HOME) ?? absolute(env.LOCALAPPDATA) ?? (home ? path.join(home, ".cache") : undefined);
  if (!base) return undefined;
  try {
    // The cache base must already exist and be this user's alone. Our folders are made one level at a time:
    // a recursive mkdir spins forever where mkdir keeps failing with ENOENT (HOME=/proc, a deleted folder).
    if (!isPrivateFolder(base)) return undefined;
    let dir = base;
    for (const name of ["akv-crashplan", "code-cache", shortHash(bundleDir)]) {
      dir = path.join(dir, name);
      try {
        fs.mkdirSync(dir, { mode: 0o700 });
      } catch (error) {
        if (error.code !== "EEXIST") return undefined;
      }
      if (!isPrivateFolder(dir)) return undefined;
    }
    return dir;
  } catch {
    return undefined;
  }
}

function writeAtomically(file, data) {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, data, { mode: 0o600 });
    fs.renameSync(temp, file);
  } catch {
    fs.rmSync(temp, { force: true });
  }
}

/** Removes caches of chunks no longer in the bundle (earlier builds) and of other builds of the chunks written now. */
function removeStale(cacheDir, bundleDir, written) {
  const currentStem = new Map(written.map(({ file, stem }) => [path.basename(file), path.basename(stem)]));
  for (const name of fs.readdirSync(cacheDir)) {
    const chunk = name.slice(0, name.indexOf(".cjs.") + ".cjs".length);
    const stem = currentStem.get(chunk);
    const otherBuildOfWrittenChunk = stem !== undefined && !name.startsWith(`${stem}.`);
    if (otherBuildOfWrittenChunk || !fs.existsSync(path.join(bundleDir, chunk))) fs.rmSync(path.join(cacheDir, name), { force: true });
  }
}

/** Written at exit, when the run has compiled what it needed; one listener and one sweep for all chunks. */
const toWrite = [];
function writePendingCaches() {
  for (const { write } of toWrite) {
    try {
      write();
    } catch {
      // A cache that cannot be written only means the next start is a little slower.
    }
  }
  try {
    removeStale(toWrite[0].cacheDir, toWrite[0].bundleDir, toWrite);
  } catch {
    // left for the next run that writes
  }
}

/**
 * require(file) for a chunk of the bundle, through vm.Script with its code cache; the chunk's own require() of
 * sibling chunks goes the same way. `runKey` names what this run does (the command): a run whose key a chunk's
 * cache has not seen yet rewrites that cache at exit, so the caches end up holding every command's code.
 */
function requireWithCodeCache(file, options) {
  const known = require.cache[file];
  if (known) return known.exports;
  const bundleDir = path.dirname(file);
  const cacheDir = privateCacheDirectory(options.env, bundleDir);
  if (!cacheDir) return require(file);
  let started = false;
  try {
    const source = fs.readFileSync(file, "utf8");
    const stem = path.join(cacheDir, `${path.basename(file)}.${process.version}-${process.arch}-${crc32(source).toString(16)}`);
    let cachedData;
    let seen = [];
    try {
      const blob = fs.readFileSync(`${stem}.bin`);
      const record = JSON.parse(fs.readFileSync(`${stem}.json`, "utf8"));
      if (record && record.crc === crc32(blob) && Array.isArray(record.seen)) {
        cachedData = blob;
        seen = record.seen;
      }
    } catch {
      cachedData = undefined;
    }
    const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
    // The bundle has no import() (scripts/bundle.mjs: dynamicImportInCjs false); a stray one still works.
    const script = new vm.Script(wrapper, { filename: file, cachedData, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
    // Registered before it runs, as require() does, so that a cycle between chunks gets this same instance.
    const loaded = new Module(file, module);
    loaded.filename = file;
    require.cache[file] = loaded;
    const plain = Module.createRequire(file);
    const chunkRequire = Object.assign((id) => (/^\.\/[^/]+\.cjs$/.test(id) ? requireWithCodeCache(path.join(bundleDir, id), options) : plain(id)), {
      resolve: plain.resolve,
      cache: plain.cache,
      main: plain.main,
    });
    started = true;
    script.runInThisContext().call(loaded.exports, loaded.exports, chunkRequire, loaded, file, bundleDir);
    loaded.loaded = true;
    const stale = !cachedData || script.cachedDataRejected === true;
    if (stale || !seen.includes(options.runKey)) {
      toWrite.push({
        file,
        stem,
        cacheDir,
        bundleDir,
        write: () => {
          const blob = script.createCachedData();
          writeAtomically(`${stem}.bin`, blob);
          writeAtomically(`${stem}.json`, JSON.stringify({ crc: crc32(blob), seen: stale ? [options.runKey] : [...seen, options.runKey] }));
        },
      });
      if (toWrite.length === 1) process.once("exit", writePendingCaches);
    }
    return loaded.exports;
  } catch (error) {
    // Once the chunk runs, its errors are its own; before that, any problem with the cache means a plain require().
    if (started) {
      delete require.cache[file];
      throw error;
    }
    return require(file);
  }
}

module.exports = { requireWithCodeCache };
