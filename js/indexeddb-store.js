// indexedDBStore(name): a durable manager's store in an IndexedDB database, for browsers and
// workers (exported by the web build's entries).
//
// The database holds the bytes the engine writes (src/core/durable/) as records of the object
// store "log", in key order: the first is an image (or the header), each later one a batch. Every
// batch is one transaction (IndexedDB's transactions are atomic, so a closed tab leaves whole
// batches); a compaction clears the log and puts the image in one transaction. One manager at a
// time, across tabs and workers of the origin: the Web Locks API's lock `execman:<name>`, held
// while the store is open and released by the browser when its page or worker goes away.

import { ExecutionError } from "./manager.js";

/** Where a store keeps its opener (manager.js reads it by the same name). */
const STORE = Symbol.for("execman.store");
const LOG = "log";
const META = "meta";

/**
 * A request's outcome as a promise.
 * @template T
 * @param {IDBRequest<T>} request
 * @returns {Promise<T>}
 */
function requested(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * A transaction's end as a promise: resolves when it completed (its changes are stored), rejects
 * when it failed or was aborted (a full quota among others).
 * @param {IDBTransaction} tx
 * @returns {Promise<void>}
 */
function completed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error("the IndexedDB transaction failed"));
    tx.onabort = () => reject(tx.error ?? new Error("the IndexedDB transaction was aborted"));
  });
}

/**
 * The exclusive lock of the store while it is open: a function that releases it, or null when
 * another page or worker holds it. Without the Web Locks API (an insecure context), none is taken.
 * @param {string} name
 * @returns {Promise<(() => void) | null>}
 */
function lock(name) {
  const locks = globalThis.navigator?.locks;
  if (locks === undefined) return Promise.resolve(() => {});
  return new Promise((resolve, reject) => {
    locks
      .request(`execman:${name}`, { ifAvailable: true }, (held) => {
        if (held === null) {
          resolve(null);
          return undefined;
        }
        return new Promise((release) => resolve(() => release(undefined)));
      })
      .catch(reject);
  });
}

/**
 * Opens the store in the database `name`.
 * @param {string} name
 */
async function openDatabase(name) {
  if (typeof indexedDB === "undefined") throw new Error("IndexedDB is not available here");
  const unlock = await lock(name);
  if (unlock === null) throw new Error("the store is in use by another page or worker");
  /** @type {IDBDatabase} */
  let db;
  try {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(LOG);
      request.result.createObjectStore(META);
    };
    db = await requested(request);
  } catch (err) {
    unlock();
    throw err;
  }
  /** The key of the next batch (keys only grow: the log is read in key order). */
  let next = 0;
  let live = true;
  const check = () => {
    if (!live) throw new Error("the store was closed");
  };
  /**
   * @param {IDBTransactionMode} mode
   * @param {"strict" | "relaxed" | "default"} [durability]
   */
  const transaction = (mode, durability = "default") => db.transaction([LOG, META], mode, { durability });
  /**
   * Replaces the log by one record.
   * @param {Uint8Array} bytes
   */
  const replace = async (bytes) => {
    check();
    const tx = transaction("readwrite", "strict");
    const log = tx.objectStore(LOG);
    log.clear();
    log.put(bytes, next);
    await completed(tx);
    next += 1;
  };
  return {
    /** @param {(chunk: Uint8Array) => boolean} feed */
    async read(feed) {
      const tx = transaction("readonly");
      const request = tx.objectStore(LOG).openCursor();
      let total = 0;
      await new Promise((resolve, reject) => {
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          const cursor = request.result;
          if (cursor === null) {
            resolve(undefined);
            return;
          }
          const value = cursor.value;
          const bytes = value instanceof Uint8Array ? value : new Uint8Array(value);
          total += bytes.length;
          next = Number(cursor.key) + 1;
          if (feed(bytes)) cursor.continue();
          else resolve(undefined);
        };
      });
      return total;
    },
    /** @param {number} length */
    async truncate(length) {
      check();
      // Transactions are atomic, so this happens only to a log written otherwise: rewrite it whole.
      /** @type {Uint8Array[]} */
      const parts = [];
      await this.read((chunk) => {
        parts.push(chunk.slice());
        return true;
      });
      const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      await replace(all.slice(0, length));
    },
    /** @param {Uint8Array} bytes */
    async append(bytes) {
      check();
      const tx = transaction("readwrite");
      tx.objectStore(LOG).put(bytes, next);
      const key = next;
      next += 1;
      try {
        await completed(tx);
      } catch (err) {
        if (next === key + 1) next = key;
        throw err;
      }
    },
    async sync() {
      check();
      // A strict transaction: once it completes, it and every transaction before it are on disk.
      const tx = transaction("readwrite", "strict");
      tx.objectStore(META).put(Date.now(), "synced");
      await completed(tx);
    },
    replace,
    async close() {
      if (!live) return;
      live = false;
      db.close();
      unlock();
    },
  };
}

/**
 * A durable manager's store in the IndexedDB database `name` (of the page's or worker's origin).
 * @example
 * const manager = await ExecutionManager.open({ store: indexedDBStore("jobs") });
 * @param {string} name
 * @returns {import("./types.js").Store}
 */
export function indexedDBStore(name) {
  if (typeof name !== "string" || name === "") {
    throw new ExecutionError(
      "INVALID_ARGUMENT",
      `invalid argument \`name\`: must be a non-empty string, got ${typeof name === "string" ? '""' : typeof name}`,
    );
  }
  const opener = Object.freeze({
    name: `IndexedDB store ${JSON.stringify(name)}`,
    open: () => openDatabase(name),
  });
  return /** @type {any} */ (Object.freeze({ [STORE]: opener }));
}
