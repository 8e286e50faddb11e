// The active trace context, kept in one AsyncLocalStorage. Registered as the OpenTelemetry API's
// context manager only when tracing is on; with tracing off `context.active()` stays the API's
// no-op and costs nothing.
//
// Why our own rather than @opentelemetry/context-async-hooks: the Node server hook runs inside
// the `http.server.request.start` diagnostics channel, which Node publishes synchronously just
// before `server.emit('request')` (lib/_http_server.js parserOnIncoming). There is no callback to
// wrap, so the hook enters the server span's context with `enterWith()`; the handler, everything
// it awaits and every request it starts then see that context. The store is left when the
// socket's 'data' callback returns, so it never leaks into the next request on the connection.
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Context,
  type ContextManagementToken,
  type ContextManager,
  ROOT_CONTEXT,
} from '@opentelemetry/api';

export class AlsContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    // Reflect.apply carries `thisArg` without allocating a bound function per call.
    if (thisArg === undefined) return this.als.run(context, fn, ...args);
    return this.als.run(context, Reflect.apply, fn, thisArg, args) as ReturnType<F>;
  }

  /** Makes `context` active for the rest of the current synchronous execution and what it schedules. */
  enterWith(context: Context): void {
    this.als.enterWith(context);
  }

  /**
   * API 1.10's `context.attach()`: `context` is active, as with enterWith(), until the token is
   * disposed, which restores the one active before. Without this method the API's attach() only
   * logs a warning and changes nothing.
   */
  attach(context: Context): ContextManagementToken {
    const previous = this.active();
    this.als.enterWith(context);
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        this.als.enterWith(previous);
      },
    };
  }

  /**
   * Binds functions only. Event emitters are returned unchanged: tapwire's own hooks never bind
   * emitters, and patching an app's emitter is a behaviour change we do not make.
   */
  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const manager = this;
    const fn = target as unknown as (...a: unknown[]) => unknown;
    return function bound(this: unknown, ...args: unknown[]) {
      return manager.with(context, fn, this, ...args);
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.als.disable();
    return this;
  }
}
