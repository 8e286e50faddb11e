// The Bun-only hooks, in one module so that a Bun process loads them as one file (each module a
// preload imports is start-up time) and a Node process never loads any of them.
export { install as bunSql } from './db/bun-sql.js';
export { install as bunSqlite } from './db/bun-sqlite.js';
export { install as bunRedis } from './db/redis/bun.js';
export { install as bunFetch } from './http/bun/fetch.js';
export { install as bunNodeHttp } from './http/bun/node-http.js';
export { install as bunServe } from './http/bun/serve.js';
export { install as bunUndici } from './http/bun/undici.js';
