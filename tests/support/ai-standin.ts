// A local stand-in for AI providers, speaking their real wire formats over node:http: OpenAI
// (chat completions with streaming, include_usage and tool calls; embeddings; the Responses API),
// Anthropic messages (streaming too) and Gemini generateContent / streamGenerateContent (alt=sse).
// It listens on one port per provider name, so TAPWIRE_AI_ENDPOINTS can map each port, and
// remembers the usage it served, so tests compare what /metrics says with what was sent.
//
// Path prefixes choose a behaviour, e.g. baseURL http://127.0.0.1:PORT/e429/v1:
//   /e429  429 with retry-after      /e500  500
//   /cut   a stream cut mid-way (socket destroyed after half the chunks)
//   /nN    N content chunks in a stream (default 5)
//   /cachedN, /reasoningN  OpenAI usage reports N cached input / N reasoning output tokens
//                          (inside prompt/completion tokens, as OpenAI counts them)
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface Served {
  /** Port name: openai, anthropic, gcp.gemini. */
  provider: string;
  operation: string;
  model: string;
  stream: boolean;
  input: number | undefined;
  output: number | undefined;
  /** Cached input tokens (inside `input`). */
  cached: number;
  /** Reasoning tokens (inside `output`), as reported; undefined where the API has none. */
  reasoning: number | undefined;
  /** What the client should see: a status code, or 'cut'. */
  outcome: string;
}

export interface Standin {
  ports: Record<'openai' | 'anthropic' | 'gcp.gemini', number>;
  served: Served[];
  /** TAPWIRE_AI_ENDPOINTS value mapping the ports. */
  endpoints: string;
  close(): Promise<void>;
}

const RESPONSE_MODEL: Record<string, string> = {
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4o': 'gpt-4o-2024-08-06',
  'claude-sonnet-4-5': 'claude-sonnet-4-5-20250929',
  'claude-haiku-4-5': 'claude-haiku-4-5-20251001',
};

/** Deterministic token counts from the request, so different calls serve different numbers. */
function tokensFor(body: string): { input: number; output: number } {
  let h = 0;
  for (let i = 0; i < body.length; i++) h = (h * 31 + body.charCodeAt(i)) >>> 0;
  return { input: 7 + (body.length % 50), output: 3 + (h % 40) };
}

const WORDS = ['Hello', ' from', ' the', ' stand', '-in', ' — ', 'ünïcödé', ' ✓', ' done', '.'];
function piece(i: number): string {
  return WORDS[i % WORDS.length]!;
}

interface Flags {
  status: number;
  cut: boolean;
  chunks: number;
  cached: number;
  reasoning: number;
}

function flags(url: string): { flags: Flags; path: string } {
  const f: Flags = { status: 200, cut: false, chunks: 5, cached: 0, reasoning: 0 };
  const [rawPath, query = ''] = url.split('?') as [string, string?];
  const parts = rawPath.split('/');
  const rest: string[] = [];
  for (const p of parts) {
    if (p === 'e429') f.status = 429;
    else if (p === 'e500') f.status = 500;
    else if (p === 'cut') f.cut = true;
    else if (/^n\d+$/.test(p)) f.chunks = Number(p.slice(1));
    else if (/^cached\d+$/.test(p)) f.cached = Number(p.slice(6));
    else if (/^reasoning\d+$/.test(p)) f.reasoning = Number(p.slice(9));
    else rest.push(p);
  }
  return { flags: f, path: rest.join('/') + (query ? `?${query}` : '') };
}

export async function startStandin(): Promise<Standin> {
  const served: Served[] = [];
  const servers: Server[] = [];
  const ports = {} as Standin['ports'];
  for (const provider of ['openai', 'anthropic', 'gcp.gemini'] as const) {
    const server = createServer((req, res) => {
      handle(provider, req, res, served).catch(() => res.destroy());
    });
    server.keepAliveTimeout = 1000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const a = server.address();
    ports[provider] = typeof a === 'object' && a ? a.port : 0;
    servers.push(server);
  }
  return {
    ports,
    served,
    endpoints: Object.entries(ports)
      .map(([name, port]) => `127.0.0.1:${port}=${name}`)
      .join(','),
    async close() {
      for (const s of servers) {
        s.closeAllConnections();
        s.close();
      }
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function handle(
  port: string,
  req: IncomingMessage,
  res: ServerResponse,
  served: Served[],
): Promise<void> {
  const raw = await readBody(req);
  const { flags: f, path } = flags(req.url ?? '/');
  const body = (raw ? JSON.parse(raw) : {}) as Record<string, unknown>;
  const gemini = /\/models\/([^/:]+):(generateContent|streamGenerateContent|embedContent)/.exec(path);
  const model = gemini ? decodeURIComponent(gemini[1]!) : String(body.model ?? '');
  const responseModel = RESPONSE_MODEL[model] ?? model;
  // Cached and reasoning tokens are inside input and output: at least that many of each.
  const tokens = tokensFor(raw);
  const input = tokens.input + f.cached;
  const output = tokens.output + f.reasoning;
  const openaiUsage = path.endsWith('/chat/completions') || path.endsWith('/responses');
  const stream = gemini ? gemini[2] === 'streamGenerateContent' : body.stream === true;
  let operation = 'chat';
  if (path.endsWith('/embeddings') || gemini?.[2] === 'embedContent') operation = 'embeddings';
  else if (gemini) operation = 'generate_content';
  const record = (i: number | undefined, o: number | undefined, outcome: string) =>
    served.push({
      provider: port,
      operation,
      model,
      stream,
      input: i,
      output: o,
      cached: i === undefined ? 0 : path.endsWith('/messages') ? 5 : f.cached,
      reasoning: openaiUsage && o !== undefined ? f.reasoning : undefined,
      outcome,
    });

  if (f.status !== 200) {
    record(undefined, undefined, String(f.status));
    const err =
      port === 'anthropic'
        ? {
            type: 'error',
            error: { type: f.status === 429 ? 'rate_limit_error' : 'api_error', message: 'stand-in' },
          }
        : {
            error: {
              message: 'stand-in',
              type: f.status === 429 ? 'rate_limit_exceeded' : 'server_error',
              code: null,
            },
          };
    json(res, f.status, err, f.status === 429 ? { 'retry-after': '1' } : {});
    return;
  }

  if (path.endsWith('/chat/completions'))
    return openaiChat(res, body, responseModel, input, output, f, record);
  if (path.endsWith('/embeddings')) {
    record(input, undefined, '200');
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    const vec = new Float32Array([0.25, -0.5, 0.125, 1]);
    const embedding =
      body.encoding_format === 'base64' ? Buffer.from(vec.buffer).toString('base64') : Array.from(vec);
    json(res, 200, {
      object: 'list',
      data: inputs.map((_, index) => ({ object: 'embedding', index, embedding })),
      model: responseModel,
      usage: { prompt_tokens: input, total_tokens: input },
    });
    return;
  }
  if (path.endsWith('/responses')) return openaiResponses(res, body, responseModel, input, output, f, record);
  if (path.endsWith('/messages')) return anthropic(res, body, responseModel, input, output, f, record);
  if (gemini) return geminiHandler(res, gemini[2]!, responseModel, input, output, f, record);
  json(res, 404, { error: { message: `stand-in has no ${path}` } });
}

type Record3 = (i: number | undefined, o: number | undefined, outcome: string) => void;

function sse(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
}

/** Writes events; with f.cut, destroys the socket after half of them. Returns false when cut. */
async function sendEvents(res: ServerResponse, events: string[], f: Flags, cutAt?: number): Promise<boolean> {
  const stop = f.cut ? (cutAt ?? Math.floor(events.length / 2)) : events.length;
  for (let i = 0; i < stop; i++) {
    if (res.destroyed) return false;
    if (!res.write(events[i]!)) {
      await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
    // A few events split across writes (and TCP packets) on purpose.
    if (i % 3 === 1) await new Promise((r) => setImmediate(r));
  }
  if (f.cut) {
    await new Promise((r) => setTimeout(r, 20));
    res.socket?.destroy();
    return false;
  }
  res.end();
  return true;
}

async function openaiChat(
  res: ServerResponse,
  body: Record<string, unknown>,
  model: string,
  input: number,
  output: number,
  f: Flags,
  record: Record3,
): Promise<void> {
  const created = 1_700_000_000;
  const tools = Array.isArray(body.tools) && body.tools.length > 0;
  const usage = {
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: input + output,
    prompt_tokens_details: { cached_tokens: f.cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: f.reasoning, audio_tokens: 0 },
  };
  const toolCall = {
    id: 'call_1',
    type: 'function',
    function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
  };
  if (body.stream !== true) {
    record(input, output, '200');
    json(res, 200, {
      id: 'chatcmpl-standin',
      object: 'chat.completion',
      created,
      model,
      choices: [
        {
          index: 0,
          message: tools
            ? { role: 'assistant', content: null, tool_calls: [toolCall], refusal: null }
            : { role: 'assistant', content: WORDS.join(''), refusal: null },
          logprobs: null,
          finish_reason: tools ? 'tool_calls' : 'stop',
        },
      ],
      usage,
      system_fingerprint: 'fp_standin',
    });
    return;
  }
  const includeUsage =
    (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const chunk = (delta: unknown, finish: string | null, u: unknown = includeUsage ? null : undefined) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-standin', object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_standin', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(u === undefined ? {} : { usage: u }) })}\n\n`;
  const events: string[] = [chunk({ role: 'assistant', content: '', refusal: null }, null)];
  if (tools) {
    events.push(
      chunk(
        {
          tool_calls: [
            { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        },
        null,
      ),
    );
    events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, null));
    events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, null));
  } else {
    for (let i = 0; i < f.chunks; i++) events.push(chunk({ content: piece(i) }, null));
  }
  events.push(chunk({}, tools ? 'tool_calls' : 'stop'));
  if (includeUsage) {
    events.push(
      `data: ${JSON.stringify({ id: 'chatcmpl-standin', object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_standin', choices: [], usage })}\n\n`,
    );
  }
  events.push('data: [DONE]\n\n');
  sse(res);
  const complete = await sendEvents(res, events, f);
  record(
    complete && includeUsage ? input : undefined,
    complete && includeUsage ? output : undefined,
    complete ? '200' : 'cut',
  );
}

async function openaiResponses(
  res: ServerResponse,
  body: Record<string, unknown>,
  model: string,
  input: number,
  output: number,
  f: Flags,
  record: Record3,
): Promise<void> {
  const usage = {
    input_tokens: input,
    input_tokens_details: { cached_tokens: f.cached },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: f.reasoning },
    total_tokens: input + output,
  };
  const text = WORDS.join('');
  const response = (status: string, u: unknown, out: unknown[]) => ({
    id: 'resp_standin',
    object: 'response',
    created_at: 1_700_000_000,
    status,
    error: null,
    incomplete_details: null,
    instructions: null,
    model,
    output: out,
    parallel_tool_calls: true,
    temperature: 1,
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    usage: u,
  });
  const message = {
    type: 'message',
    id: 'msg_standin',
    status: 'completed',
    role: 'assistant',
    content: [{ type: 'output_text', text, annotations: [] }],
  };
  if (body.stream !== true) {
    record(input, output, '200');
    json(res, 200, response('completed', usage, [message]));
    return;
  }
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
  const events = [
    ev('response.created', { response: response('in_progress', null, []) }),
    ev('response.output_item.added', {
      output_index: 0,
      item: { ...message, status: 'in_progress', content: [] },
    }),
    ev('response.content_part.added', {
      item_id: 'msg_standin',
      output_index: 0,
      content_index: 0,
      part: { type: 'output_text', text: '', annotations: [] },
    }),
  ];
  for (let i = 0; i < f.chunks; i++) {
    events.push(
      ev('response.output_text.delta', {
        item_id: 'msg_standin',
        output_index: 0,
        content_index: 0,
        delta: piece(i),
      }),
    );
  }
  events.push(
    ev('response.output_text.done', { item_id: 'msg_standin', output_index: 0, content_index: 0, text }),
  );
  events.push(ev('response.output_item.done', { output_index: 0, item: message }));
  events.push(ev('response.completed', { response: response('completed', usage, [message]) }));
  sse(res);
  const complete = await sendEvents(res, events, f);
  record(complete ? input : undefined, complete ? output : undefined, complete ? '200' : 'cut');
}

async function anthropic(
  res: ServerResponse,
  body: Record<string, unknown>,
  model: string,
  input: number,
  output: number,
  f: Flags,
  record: Record3,
): Promise<void> {
  // Some input comes from the prompt cache: reported beside input_tokens, counted inside input.
  const cacheRead = 5;
  const text = WORDS.join('');
  if (body.stream !== true) {
    record(input + cacheRead, output, '200');
    json(res, 200, {
      id: 'msg_standin',
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: input,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: cacheRead,
        output_tokens: output,
      },
    });
    return;
  }
  const ev = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const events = [
    ev('message_start', {
      message: {
        id: 'msg_standin',
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: input,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: cacheRead,
          output_tokens: 1,
        },
      },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    'event: ping\ndata: {"type": "ping"}\n\n',
  ];
  for (let i = 0; i < f.chunks; i++) {
    events.push(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece(i) } }));
  }
  events.push(ev('content_block_stop', { index: 0 }));
  events.push(
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: output },
    }),
  );
  events.push(ev('message_stop', {}));
  sse(res);
  const complete = await sendEvents(res, events, f);
  // A cut stream has shown message_start: its input tokens (and the 1 output token so far).
  record(input + cacheRead, complete ? output : 1, complete ? '200' : 'cut');
}

async function geminiHandler(
  res: ServerResponse,
  method: string,
  model: string,
  input: number,
  output: number,
  f: Flags,
  record: Record3,
): Promise<void> {
  const candidate = (text: string, finish?: string) => ({
    content: { parts: [{ text }], role: 'model' },
    ...(finish ? { finishReason: finish } : {}),
    index: 0,
  });
  if (method === 'generateContent') {
    record(input, output, '200');
    json(res, 200, {
      candidates: [candidate(WORDS.join(''), 'STOP')],
      usageMetadata: {
        promptTokenCount: input,
        candidatesTokenCount: output,
        totalTokenCount: input + output,
      },
      modelVersion: model,
      responseId: 'standin',
    });
    return;
  }
  // streamGenerateContent?alt=sse: every chunk carries cumulative usageMetadata.
  const events: string[] = [];
  for (let i = 0; i < f.chunks; i++) {
    const last = i === f.chunks - 1;
    const out = last ? output : Math.min(i + 1, output);
    events.push(
      `data: ${JSON.stringify({
        candidates: [candidate(piece(i), last ? 'STOP' : undefined)],
        usageMetadata: { promptTokenCount: input, candidatesTokenCount: out, totalTokenCount: input + out },
        modelVersion: model,
        responseId: 'standin',
      })}\r\n\r\n`,
    );
  }
  sse(res);
  const cutAt = Math.floor(events.length / 2);
  const complete = await sendEvents(res, events, f, cutAt);
  record(input, complete ? output : Math.min(cutAt, output), complete ? '200' : 'cut');
}
