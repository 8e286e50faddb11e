// What a process beside the holder of a host's one /metrics pushes with, and what any process
// spools as it ends (../agent/endpoint.ts): the pusher, the OTLP JSON encoding of its pushes, the
// spool. A bundle entry of its own (dist/chunks/follower.js, ../core/entries.ts), loaded when a
// process follows the holder, when the holder reads the spool (its first scrape or push) or when a
// process hands its counts on as it ends: an app that only holds the port and serves never loads it.
export { encodeResourceMetrics } from './otlp-json.js';
export { Pusher } from './push.js';
export { drainSpool, spoolLast } from './spool.js';
