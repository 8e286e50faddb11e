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
/** A second stand-in, whose OpenAI port is mapped as Azure OpenAI. */
let azure: Standin;
beforeAll(async () => {
  standin = await startStandin();
  azure = await startStandin();
});
afterAll(async () => {
  await Promise.all([standin.close(), azure.close()]);
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

function withAzure(): Record<string, string> {
  const e = env();
  return {
    ...e,
    TAPWIRE_AI_ENDPOINTS: `${e.TAPWIRE_AI_ENDPOINTS},127.0.0.1:${azure.ports.openai}=azure.ai.openai`,
    AZURE_URL: `http://127.0.0.1:${azure.ports.openai}`,
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

  it('a malformed percent-escape in a Gemini model or Azure deployment path costs that call its path model, never the hook', async () => {
    const app = await startApp({ runtime, file: 'ai-app.mjs', env: withAzure() });
    const bare = await startApp({ runtime, file: 'ai-app.mjs', env: withAzure(), preload: false });
    for (const name of ['gemini-bad-escape', 'gemini-generate', 'azure-bad-escape', 'azure-chat']) {
      expect(await run(app, name), name).toEqual(await run(bare, name));
    }
    const samples = parseMetrics(await app.metrics());
    const calls = (provider: string) =>
      find(samples, CALLS, { gen_ai_provider_name: provider })
        .map((s) => `${s.labels.gen_ai_request_model ?? '(no model)'} ${s.value}`)
        .sort();
    // Gemini names the model only in the path: the bad call has none, the next one its own.
    expect(calls('gcp.gemini')).toEqual(['(no model) 1', 'gemini-2.5-flash 1']);
    // Azure's body names the model too: both calls keep theirs.
    expect(calls('azure.ai.openai')).toEqual(['prod%ZZ4o 1', 'prod-4o 1']);
    // The client hook measured every request.
    const client = (port: number) =>
      sum(samples, 'http_client_request_duration_seconds_count', { server_port: String(port) });
    expect(client(standin.ports['gcp.gemini'])).toBe(2);
    expect(client(azure.ports.openai)).toBe(2);
    expect(agentErrors(app)).toEqual([]);
  }, 60_000);
});
