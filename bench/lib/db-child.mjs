// The measured app of bench/db.mjs: one client, one operation at a time, awaited in a loop.
//   LIB=pg|ioredis|sqlite OPS=N BATCHES=B (+ PGHOST/PGPORT, REDIS_PORT)
// A warm-up of OPS/2 operations, then B timed batches of OPS operations; prints one JSON line:
// { opsPerSec (median batch), batches, recorded (operations on the agent's /metrics or null) }.
// With INTERLEAVED=1 it says {"ready":true} after the warm-up and runs one batch per `batch` line
// on its stdin (answering {"opsPerSec","cpuUsPerOp"}) until another line (`end`), then prints the same line.
// The drivers are loaded with require(): both agents instrument that path (OpenTelemetry's
// register does not see ESM imports without its loader hook).
import { createRequire } from 'node:module';
import { median, scrapeOwn, sumSamples } from './child.mjs';

const require = createRequire(import.meta.url);
const LIB = process.env.LIB;
const OPS = Number(process.env.OPS);
const BATCHES = Number(process.env.BATCHES ?? 3);
const isBun = typeof globalThis.Bun !== 'undefined';

async function setup() {
  if (LIB === 'pg') {
    const { Client } = require('pg');
    const client = new Client({
      host: process.env.PGHOST,
      port: Number(process.env.PGPORT),
      user: 'postgres',
      database: 'postgres',
    });
    await client.connect();
    return {
      async: true,
      op: () => client.query('SELECT 1'),
      close: () => client.end(),
    };
  }
  if (LIB === 'mysql2') {
    const mysql = require('mysql2');
    const connection = mysql.createConnection({
      host: '127.0.0.1',
      port: Number(process.env.MYSQL_PORT),
      user: 'root',
    });
    const client = connection.promise();
    return { async: true, op: () => client.query('SELECT 1'), close: () => client.end() };
  }
  if (LIB === 'ioredis') {
    const Redis = require('ioredis');
    const client = new Redis({ host: '127.0.0.1', port: Number(process.env.REDIS_PORT), lazyConnect: true });
    await client.connect();
    await client.set('bench:key', 'value');
    return { async: true, op: () => client.get('bench:key'), close: () => client.quit() };
  }
  if (LIB === 'sqlite') {
    // An in-memory database and a primary-key point query, prepared once.
    let db;
    let stmt;
    if (isBun) {
      const { Database } = await import('bun:sqlite');
      db = new Database(':memory:');
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
      const insert = db.prepare('INSERT INTO t (id, v) VALUES (?, ?)');
      for (let i = 1; i <= 1000; i++) insert.run(i, `value ${i}`);
      stmt = db.prepare('SELECT v FROM t WHERE id = ?');
    } else {
      const { DatabaseSync } = await import('node:sqlite');
      db = new DatabaseSync(':memory:');
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
      const insert = db.prepare('INSERT INTO t (id, v) VALUES (?, ?)');
      for (let i = 1; i <= 1000; i++) insert.run(i, `value ${i}`);
      stmt = db.prepare('SELECT v FROM t WHERE id = ?');
    }
    let i = 0;
    return {
      async: false,
      op: () => stmt.get((i++ % 1000) + 1),
      close: () => db.close(),
    };
  }
  throw new Error(`unknown LIB ${LIB}`);
}

async function loop(t, n) {
  const op = t.op;
  let check;
  if (t.async) {
    for (let i = 0; i < n; i++) check = await op();
  } else {
    for (let i = 0; i < n; i++) check = op();
  }
  if (check == null) throw new Error(`${LIB}: the operation returned nothing`);
}

/**
 * One timed batch of OPS operations: operations per second, and the CPU time the process spent on
 * them (user + system, all its threads: process.cpuUsage()) in µs per operation.
 */
async function batch() {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await loop(t, OPS);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { opsPerSec: (OPS * 1000) / ms, cpuUsPerOp: (c.user + c.system) / OPS };
}

const t = await setup();
await loop(t, Math.max(1, OPS >> 1));
const batches = [];
if (process.env.INTERLEAVED === '1') {
  // bench/db.mjs runs every mode's process side by side and asks each for one batch in turn:
  // `batch` runs one and answers its ops/s, `end` ends the loop.
  process.stdout.write('{"ready":true}\n');
  const { createInterface } = await import('node:readline');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== 'batch') break;
    const result = await batch();
    batches.push(result.opsPerSec);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
} else {
  for (let b = 0; b < BATCHES; b++) batches.push((await batch()).opsPerSec);
}
const total = (OPS >> 1) + OPS * batches.length;
await t.close();
const text = await scrapeOwn();
// Operations the agent recorded (its duration histogram's _count), to show it was really on.
const recorded = text == null ? null : sumSamples(text, /^db_client_operation_duration(_seconds)?_count$/);
process.stdout.write(
  `${JSON.stringify({ opsPerSec: median(batches), batches, total, recorded, metrics: text != null })}\n`,
);
process.exit(0);
