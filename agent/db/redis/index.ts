// Redis: ioredis and node-redis through their TracingChannels (./channels.ts), Bun's built-in
// client through its prototype (./bun.ts). One call from the DB installer; nothing here loads a
// Redis library or costs anything before the app uses one.
import type { DbContext } from '../operation.js';
import { installBunRedis } from './bun.js';
import { subscribeRedisChannels } from './channels.js';

let installed = false;

export function installRedis(ctx: DbContext): void {
  if (installed) return;
  installed = true;
  subscribeRedisChannels(ctx);
  installBunRedis(ctx);
}
