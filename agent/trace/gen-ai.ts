// GenAI client spans (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/), one per
// recognised provider call, from the request to the end of the response body (a stream's last
// event carries the usage, long after the HTTP span ended at the response head). A CLIENT span
// child of the active context, so it sits beside the call's HTTP client span under the same
// parent. Only low-cardinality values and counts: never prompt or completion content.
import { SpanKind } from '@opentelemetry/api';
import type { AiCall, AiOutcome } from '../../core/ai/call.js';
import { fail } from '../../core/guard.js';
import { endSpan, startSpan, tracingGuard } from './tracer.js';

export function startAi(op: AiCall): void {
  if (!tracingGuard.enabled) return;
  try {
    op.span = startSpan(op.target.operation, SpanKind.CLIENT, {
      'gen_ai.operation.name': op.target.operation,
      'gen_ai.provider.name': op.target.provider.name,
      'server.address': op.address,
    });
  } catch (error) {
    fail(tracingGuard, error);
  }
}

/** Names the span `{operation} {request model}` and adds the model, usage and error.type. */
export function endAi(op: AiCall, r: AiOutcome): void {
  const span = op.span!;
  try {
    if (r.requestModel !== undefined) {
      span.updateName(`${r.operation} ${r.requestModel}`);
      span.setAttribute('gen_ai.request.model', r.requestModel);
    }
    if (r.responseModel !== undefined) span.setAttribute('gen_ai.response.model', r.responseModel);
    if (r.input !== undefined) span.setAttribute('gen_ai.usage.input_tokens', r.input);
    if (r.output !== undefined) span.setAttribute('gen_ai.usage.output_tokens', r.output);
    if (r.cached !== undefined) span.setAttribute('gen_ai.usage.cache_read.input_tokens', r.cached);
    if (r.cacheWrite !== undefined) {
      span.setAttribute('gen_ai.usage.cache_creation.input_tokens', r.cacheWrite);
    }
    if (r.reasoning !== undefined) span.setAttribute('gen_ai.usage.reasoning.output_tokens', r.reasoning);
    if (r.firstChunk !== undefined) span.setAttribute('gen_ai.response.time_to_first_chunk', r.firstChunk);
  } catch (error) {
    fail(tracingGuard, error);
  }
  endSpan(span, r.errorType);
}
