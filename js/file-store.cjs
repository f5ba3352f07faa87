"use strict";
// fileStore(path): a durable manager's store in one file, for Node (exported from `execman`).
//
// The file holds the bytes the engine writes (src/core/durable/: a header, then records). This
// module only moves them:
// - a batch is appended with one synchronous positional write at the end of the valid data, so a
//   batch whose write returned is in the OS's hands before anything else runs, and a write that
//   failed halfway is written over by the next attempt; `sync()` (flush, close) fsyncs it;
// - a torn last write found at open is cut off (`truncate`);
// - a compaction writes the new file beside the old one, fsyncs it, renames it over the old one
//   and fsyncs the directory, so a crash leaves either the old store or the new one, whole;
// - one process at a time: `<path>.lock` holds the owner's pid, made with an exclusive create;
//   a lock whose process is gone (a crash) is taken over, so a killed process never leaves the
//   store stuck.

const fs = require("node:fs");
const path = require("node:path");
const { randomBytes } = require("node:crypto");

/** Where a store keeps its opener (manager.js reads it by the same name). */
const STORE = Symbol.for("execman.store");
/** Bytes read at a time when a store is opened. */
const CHUNK = 1 << 20;

/**
 * A callback-style call as a promise.
 * @param {(cb: (err: NodeJS.ErrnoException | null) => void) => void} fn
 * @returns {Promise<void>}
 */
const done = (fn) => new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));

/**
 * Whether process `pid` is alive (signal 0 checks without sending anything; EPERM: it exists, under
 * another user).
 * @param {number} pid
 */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === "EPERM";
  }
}

/**
 * The pid a lock file names, or NaN.
 * @param {string} text
 */
const ownerOf = (text) => Number.parseInt(text.split("\n", 1)[0], 10);

/**
 * Takes `<file>.lock` for this process: an exclusive create (a hard link of a file already holding
 * our pid and a token, so the lock is never seen empty); a lock left by a process that is gone is
 * moved aside and taken over. Returns the token that proves the lock is ours.
 * @param {string} lock
 * @returns {string}
 */
function acquire(lock) {
  const token = `${process.pid}\n${randomBytes(8).toString("hex")}\n`;
  const mine = `${lock}.${process.pid}.${randomBytes(4).toString("hex")}`;
  fs.writeFileSync(mine, token);
  try {
    for (let tries = 0; tries < 8; tries++) {
      try {
        fs.linkSync(mine, lock);
        return token;
      } catch (err) {
        if (/** @type {NodeJS.ErrnoException} */ (err).code !== "EEXIST") throw err;
      }
      let held;
      try {
        held = fs.readFileSync(lock, "utf8");
      } catch (err) {
        if (/** @type {NodeJS.ErrnoException} */ (err).code === "ENOENT") continue; // released meanwhile
        throw err;
      }
      const pid = ownerOf(held);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new Error(`the store is in use by process ${pid} (${lock})`);
      }
      // The owner is gone: move its lock aside, if it is still that one.
      const stale = `${lock}.stale.${process.pid}`;
      try {
        fs.renameSync(lock, stale);
      } catch (err) {
        if (/** @type {NodeJS.ErrnoException} */ (err).code === "ENOENT") continue;
        throw err;
      }
      const moved = fs.readFileSync(stale, "utf8");
      if (moved !== held) {
        // Another opener took it over in between: give it back.
        try {
          fs.linkSync(stale, lock);
        } catch {
          // It has a lock again already.
        }
        fs.rmSync(stale, { force: true });
        throw new Error(`the store is in use by another process (${lock})`);
      }
      fs.rmSync(stale, { force: true });
    }
    throw new Error(`could not take the lock ${lock}`);
  } finally {
    fs.rmSync(mine, { force: true });
  }
}

/**
 * Releases the lock if it is still ours.
 * @param {string} lock
 * @param {string} token
 */
function release(lock, token) {
  try {
    if (fs.readFileSync(lock, "utf8") === token) fs.rmSync(lock, { force: true });
  } catch {
    // Gone already.
  }
}

/**
 * Writes all of `bytes` at `position` of `fd`.
 * @param {number} fd
 * @param {Uint8Array} bytes
 * @param {number} position
 */
function writeAll(fd, bytes, position) {
  let at = 0;
  while (at < bytes.length) {
    at += fs.writeSync(fd, bytes, at, bytes.length - at, position + at);
  }
}

/**
 * fsyncs a directory (so that a rename in it is durable); where directories cannot be opened
 * (Windows), there is nothing to do.
 * @param {string} dir
 */
async function syncDir(dir) {
  let fd;
  try {
    fd = fs.openSync(dir, "r");
  } catch {
    return;
  }
  try {
    await done((cb) => fs.fsync(/** @type {number} */ (fd), cb));
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    if (code !== "EINVAL" && code !== "EPERM" && code !== "EISDIR") throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Opens the store in `file` for this process.
 * @param {string} file  an absolute path
 */
async function openFile(file) {
  const lock = `${file}.lock`;
  const token = acquire(lock);
  /** @type {number} */
  let fd;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  } catch (err) {
    release(lock, token);
    throw err;
  }
  /** The length of the valid data: where the next batch goes. */
  let size = 0;
  let live = true;
  const check = () => {
    if (!live) throw new Error("the store was closed");
  };
  return {
    /** @param {(chunk: Uint8Array) => boolean} feed */
    async read(feed) {
      const buffer = Buffer.allocUnsafe(CHUNK);
      let total = 0;
      for (;;) {
        const n = await new Promise((resolve, reject) =>
          fs.read(fd, buffer, 0, CHUNK, total, (err, bytes) => (err ? reject(err) : resolve(bytes))),
        );
        if (n === 0) break;
        total += n;
        if (!feed(buffer.subarray(0, n))) break;
      }
      size = total;
      return total;
    },
    /** @param {number} length */
    async truncate(length) {
      check();
      fs.ftruncateSync(fd, length);
      await done((cb) => fs.fsync(fd, cb));
      size = length;
    },
    /** @param {Uint8Array} bytes */
    async append(bytes) {
      check();
      writeAll(fd, bytes, size);
      size += bytes.length;
    },
    async sync() {
      check();
      await done((cb) => fs.fsync(fd, cb));
    },
    /** @param {Uint8Array} bytes */
    async replace(bytes) {
      check();
      const temp = `${file}.compacting`;
      const tfd = fs.openSync(temp, "w", 0o644);
      try {
        writeAll(tfd, bytes, 0);
        await done((cb) => fs.fsync(tfd, cb));
      } finally {
        fs.closeSync(tfd);
      }
      fs.renameSync(temp, file);
      await syncDir(path.dirname(file));
      const old = fd;
      fd = fs.openSync(file, fs.constants.O_RDWR, 0o644);
      size = bytes.length;
      fs.closeSync(old);
    },
    async close() {
      if (!live) return;
      live = false;
      try {
        fs.closeSync(fd);
      } finally {
        release(lock, token);
      }
    },
  };
}

/**
 * `fileStore(path)` with the error class of the package (the entry passes it).
 * @param {new (code: string, message: string) => Error} ExecutionError
 */
function fileStoreWith(ExecutionError) {
  /**
   * A durable manager's store in the file `path` (and `path.lock` beside it while it is open).
   * @example
   * const manager = await ExecutionManager.open({ store: fileStore("jobs.store") });
   * @param {string} file
   */
  return function fileStore(file) {
    if (typeof file !== "string" || file === "" || file.includes("\0")) {
      throw new ExecutionError(
        "INVALID_ARGUMENT",
        `invalid argument \`path\`: must be a non-empty file path, got ${typeof file === "string" ? JSON.stringify(file) : typeof file}`,
      );
    }
    const absolute = path.resolve(file);
    const opener = Object.freeze({
      name: `file store ${JSON.stringify(absolute)}`,
      open: () => openFile(absolute),
    });
    return Object.freeze({ [STORE]: opener });
  };
}

module.exports = { fileStoreWith };
