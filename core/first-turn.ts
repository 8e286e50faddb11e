// Work that waits for the first turn of the app's event loop and never keeps the process alive: a
// process whose loop has nothing else to run (`node -e 0`, a short CLI, a child that only computed)
// ends without it, and pays nothing for it.
//
// An unref'd timer of 0 ms, on both runtimes. An unref'd immediate would wait for the loop's next
// wake-up on Node (Node lets the poll block while no ref'd immediate is pending: an idle server
// would run it at its first request). On Bun an unref'd immediate does not run in a process that
// ends, but it makes the ending process turn its loop once more, and Bun's garbage collector runs
// in that turn: ~2.2 ms at the end of every `bun -e 0` under the preload (script end to
// 'beforeExit', Bun 1.4.5), against ~0.1 ms with the timer, which runs in the same cases (not in
// `-e 0`, at the first turn of one that awaits or serves).
/** Runs `fn` at the first turn of the event loop unless the process ends first; returns the cancel. */
export function onFirstTurn(fn: () => void): () => void {
  const timer = setTimeout(fn, 0);
  timer.unref();
  return () => clearTimeout(timer);
}
