// AI provider calls: detect (host and path, ./providers.ts) → hook (undici and node:http
// diagnostics channels on Node, a fetch wrapper on Bun) → record (./record.ts).
import type { Config } from '../../config/index.js';
import { agentLog } from '../log/agent.js';
import type { Telemetry } from '../telemetry.js';
import { setAiRecorder } from './call.js';
import { type PriceFile, Prices, readPriceFile } from './prices.js';
import { Providers } from './providers.js';
import { AiRecorder } from './record.js';

export async function installAi(
  config: Config,
  telemetry: Telemetry,
  runtime: 'node' | 'bun',
): Promise<void> {
  let overrides: PriceFile | undefined;
  if (config.aiPrices !== undefined) {
    try {
      overrides = readPriceFile(config.aiPrices);
    } catch (error) {
      agentLog(
        'warn',
        'TAPWIRE_ERR_AI_PRICES',
        `cannot read the price file TAPWIRE_AI_PRICES=${config.aiPrices} (${(error as Error).message}); using the built-in price table`,
        { variable: 'TAPWIRE_AI_PRICES', value: config.aiPrices },
      );
    }
  }
  const { genAiDuration, genAiTokens, genAiTimeToFirstChunk, genAiCost } = telemetry;
  setAiRecorder(
    new AiRecorder(
      {
        duration: genAiDuration,
        tokens: genAiTokens,
        timeToFirstChunk: genAiTimeToFirstChunk,
        cost: genAiCost,
      },
      new Prices(overrides),
      config.cardinalityLimit,
    ),
  );
  const providers = new Providers(config.aiEndpoints);
  // node:http clients publish diagnostics channels on both runtimes (undici's channels fire only
  // on Node, where fetch is undici); Bun's own fetch needs the wrapper.
  (await import('./node.js')).installNodeAi(providers);
  if (runtime === 'bun') (await import('./bun.js')).installBunAi(providers);
}
