// Anthropic's messages API, plain and streamed. Some input comes from the prompt cache: Anthropic
// reports it beside input_tokens (cache_read_input_tokens), and so the input written to the cache
// (cache_creation_input_tokens, split by TTL in cache_creation), so the call's input counts both
// on top.
import { type Call, json, piece, type Reply, stream, WORDS } from './reply.js';

export const CACHE_READ = 5;

export function anthropicMessages(call: Call): Reply {
  const { body, model, input, output, cached, cacheWrite, cacheWrite1h } = call;
  const text = WORDS.join('');
  const cache = {
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cached,
    cache_creation: {
      ephemeral_5m_input_tokens: cacheWrite - cacheWrite1h,
      ephemeral_1h_input_tokens: cacheWrite1h,
    },
  };
  const all = input + cached + cacheWrite;
  if (body.stream !== true) {
    return json(
      200,
      {
        id: 'msg_standin',
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: input, ...cache, output_tokens: output },
      },
      call.served(all, output, '200'),
    );
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
        usage: { input_tokens: input, ...cache, output_tokens: 1 },
      },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    'event: ping\ndata: {"type": "ping"}\n\n',
  ];
  for (let i = 0; i < call.chunks; i++) {
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
  return stream(
    events,
    call,
    call.served(all, output, '200'),
    // A cut stream has shown message_start: its input tokens (and the 1 output token so far).
    call.served(all, 1, 'cut'),
  );
}
