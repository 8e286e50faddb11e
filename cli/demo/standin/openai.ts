// OpenAI's wire formats: chat completions (streaming with include_usage, tool calls), embeddings
// and the Responses API. Usage counts cached input inside prompt tokens and reasoning inside
// completion tokens, as OpenAI does.
import { type Call, json, piece, type Reply, stream, WORDS } from './reply.js';

export function openaiChat(call: Call): Reply {
  const { body, model, input, output } = call;
  const created = 1_700_000_000;
  const tools = Array.isArray(body.tools) && body.tools.length > 0;
  const usage = {
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: input + output,
    prompt_tokens_details: { cached_tokens: call.cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: call.reasoning, audio_tokens: 0 },
  };
  const toolCall = {
    id: 'call_1',
    type: 'function',
    function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
  };
  if (body.stream !== true) {
    return json(
      200,
      {
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
      },
      call.served(input, output, '200'),
    );
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
    for (let i = 0; i < call.chunks; i++) events.push(chunk({ content: piece(i) }, null));
  }
  events.push(chunk({}, tools ? 'tool_calls' : 'stop'));
  if (includeUsage) {
    events.push(
      `data: ${JSON.stringify({ id: 'chatcmpl-standin', object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_standin', choices: [], usage })}\n\n`,
    );
  }
  events.push('data: [DONE]\n\n');
  // Usage comes only with include_usage, and only to a client that read the stream to the end.
  return stream(
    events,
    call,
    call.served(includeUsage ? input : undefined, includeUsage ? output : undefined, '200'),
    call.served(undefined, undefined, 'cut'),
  );
}

export function openaiEmbeddings(call: Call): Reply {
  const { body, input } = call;
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const vec = new Float32Array([0.25, -0.5, 0.125, 1]);
  const embedding =
    body.encoding_format === 'base64' ? Buffer.from(vec.buffer).toString('base64') : Array.from(vec);
  return json(
    200,
    {
      object: 'list',
      data: inputs.map((_, index) => ({ object: 'embedding', index, embedding })),
      model: call.model,
      usage: { prompt_tokens: input, total_tokens: input },
    },
    call.served(input, undefined, '200'),
  );
}

export function openaiResponses(call: Call): Reply {
  const { body, model, input, output } = call;
  const usage = {
    input_tokens: input,
    input_tokens_details: { cached_tokens: call.cached },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: call.reasoning },
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
    return json(200, response('completed', usage, [message]), call.served(input, output, '200'));
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
  for (let i = 0; i < call.chunks; i++) {
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
  return stream(events, call, call.served(input, output, '200'), call.served(undefined, undefined, 'cut'));
}
