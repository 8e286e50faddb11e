// Database client spans (https://opentelemetry.io/docs/specs/semconv/database/database-spans/):
// a CLIENT span child of the active context, named by db.query.summary ("SELECT users") or the
// system name; db.query.text is the sanitised statement (literals replaced, never parameter
// values).
import { type Attributes, SpanKind } from '@opentelemetry/api';
import type { DbOp } from '../../core/db/operation.js';
import { fail } from '../../core/guard.js';
import { endSpan, startSpan, tracingGuard } from './tracer.js';

export function startDb(op: DbOp): void {
  if (!tracingGuard.enabled) return;
  try {
    const t = op.target;
    const info = op.info;
    const attributes: Attributes = { 'db.system.name': t.system };
    if (info?.summary !== undefined) attributes['db.query.summary'] = info.summary;
    if (info !== undefined) attributes['db.query.text'] = info.text;
    if (t.namespace !== undefined) attributes['db.namespace'] = t.namespace;
    if (t.address !== undefined) attributes['server.address'] = t.address;
    if (t.port !== undefined) attributes['server.port'] = t.port;
    op.span = startSpan(info?.summary ?? t.system, SpanKind.CLIENT, attributes);
  } catch (error) {
    fail(tracingGuard, error);
  }
}

export function endDb(op: DbOp, errorType: string | undefined): void {
  // The server may be known better now (a pool's first query starts before the handshake).
  endSpan(op.span!, errorType, { 'db.system.name': op.target.system });
}
