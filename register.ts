// `node --import tapwire/register app.js` · `bun --preload tapwire/register app.ts`
import { start } from './agent/start.js';

// Awaited: start() loads the Bun hooks and tracing on demand (dynamic imports), and both runtimes
// run the app only after a preload's top-level await settles. Without it, Bun ran the app first:
// a fetch made as soon as the app's server listened went out unwrapped (measured on Bun 1.4.5).
await start();
