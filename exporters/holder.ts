// The holder's side of a host's one /metrics (../agent/endpoint.ts): what it merges its siblings'
// pushes with and writes the page with. A bundle entry of its own (dist/chunks/holder.js,
// ../core/entries.ts), loaded at the first scrape or push: a process nobody scrapes and nobody
// pushes to (a CLI, a follower, a test runner's child) never loads it.
export { ProcessMerge } from './merge.js';
export { serializePieces } from './prometheus/serialize.js';
export { acceptOtlp, instanceOf, WorkerStore } from './workers.js';
