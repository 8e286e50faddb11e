// `node --import tapwire/register app.js` · `bun --preload tapwire/register app.ts`
import { start } from './agent/start.js';

start();
