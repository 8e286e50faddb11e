/**
 * error.type of a stream the app cancelled before its end (the class Node's fetch reports). Its own
 * module: Bun's fetch hook names it at start, and ./call.ts loads only at the first provider call.
 */
export const ABANDONED = 'AbortError';
