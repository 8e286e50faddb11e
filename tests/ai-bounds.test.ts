// Bad input from an AI provider (or from the URL an app calls) costs the app nothing and tapwire a
// bounded amount, Node and Bun: real SDKs and fetch against the stand-in (cli/demo/standin/),
// which serves the bad input on request (route.ts lists the path prefixes).
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Standin, startStandin } from '../cli/demo/standin/index.js';
import { replyTo } from '../cli/demo/standin/route.js';
import {
  type App,
  find,
  jsonLines,
  parseMetrics,
  RUNTIMES,
  startApp,
  stopAll,
  sum,
  value,
} from './support/index.js';

const CALLS = 'gen_ai_client_operation_duration_seconds_count';
const TOKEN_COUNT = 'gen_ai_client_token_usage_count';
const TOKENS = 'gen_ai_client_token_usage_sum';
const UNPARSED = 'tapwire_gen_ai_unparsed_streams_total';

let standin: Standin;
beforeAll(async () => {
  standin = await startStandin();
});
afterAll(async () => {
  await standin.close();
});
afterEach(stopAll);

function env(): Record<string, string> {
  return {
    TAPWIRE_AI_ENDPOINTS: standin.endpoints,
    OPENAI_URL: `http://127.0.0.1:${standin.ports.openai}`,
    ANTHROPIC_URL: `http://127.0.0.1:${standin.ports.anthropic}`,
    GEMINI_URL: `http://127.0.0.1:${standin.ports['gcp.gemini']}`,
  };
}

async function run(app: App, name: string): Promise<unknown> {
  const res = await fetch(app.url(`/run?case=${name}`));
  const body = (await res.json()) as { result?: unknown; error?: string };
  expect(body.error, `${name} failed in the app`).toBeUndefined();
  return body.result;
}

function agentErrors(app: App): Record<string, unknown>[] {
  return jsonLines(app.stderr()).filter((l) => String(l.code).startsWith('TAPWIRE_ERR'));
}

/** sha256 of everything the stand-in sends for this request, as the app should receive it. */
function servedHash(path: string, body: unknown): string {
  const reply = replyTo('openai', path, JSON.stringify(body), undefined);
  if (!('events' in reply)) throw new Error('expected a stream');
  return createHash('sha256').update(Buffer.concat(reply.events)).digest('hex');
}

describe.each(RUNTIMES)('bad provider input under %s', (runtime) => {
  it('a 10 MB data line without a line break reaches the app unchanged and is counted as unparsed', async () => {
    const app = await startApp({ runtime, file: 'ai-app.mjs', env: env() });
    standin.served.length = 0;
    expect(await run(app, 'fetch-long-line')).toEqual({
      status: 200,
      type: 'text/event-stream',
      hash: servedHash('/long10000000/v1/chat/completions', { model: 'gpt-4o-mini' }),
    });
    // The next stream is read as usual.
    await run(app, 'openai-chat-stream');
    const chat = standin.served.find((s) => s.stream && s.input !== undefined)!;
    const samples = parseMetrics(await app.metrics());

    expect(value(samples, UNPARSED, { gen_ai_provider_name: 'openai' })).toBe(1);
    // Both calls recorded; tokens only for the one read to its end.
    expect(sum(samples, CALLS, { gen_ai_request_model: 'gpt-4o-mini' })).toBe(2);
    expect(find(samples, CALLS).filter((s) => s.labels.error_type !== undefined)).toEqual([]);
    expect(sum(samples, TOKEN_COUNT, { gen_ai_token_type: 'input' })).toBe(1);
    expect(sum(samples, TOKENS, { gen_ai_token_type: 'input' })).toBe(chat.input);
    expect(sum(samples, TOKENS, { gen_ai_token_type: 'output' })).toBe(chat.output);
    expect(agentErrors(app)).toEqual([]);
  }, 60_000);
});
