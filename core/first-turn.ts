// Work that waits for the first turn of the app's event loop and never keeps the process alive: a
// process whose loop has nothing else to run (`node -e 0`, a short CLI, a child that only computed)
// ends without it, and pays nothing for it.
//
// Node: an unref'd timer of 0 ms. An unref'd immediate would wait for the loop's next wake-up (Node
// lets the poll block while no ref'd immediate is pending: an idle server would run it at its first
// request). Bun: an unref'd immediate, since its unref'd 0 ms timer runs even in a process that is
// ending (measured on Node 24.21 and Bun 1.4.5).
import { RUNTIME } from './runtime.js';

/** Runs `fn` at the first turn of the event loop unless the process ends first; returns the cancel. */
export function onFirstTurn(fn: () => void): () => void {
  if (RUNTIME === 'bun') {
    const immediate = setImmediate(fn);
    immediate.unref();
    return () => clearImmediate(immediate);
  }
  const timer = setTimeout(fn, 0);
  timer.unref();
  return () => clearTimeout(timer);
}
