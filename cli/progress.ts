// What a command that makes a person wait is doing, on stderr, one line rewritten in place — and
// only on a terminal: piped or captured, stderr gets nothing, so it never mixes into what a
// program reads (stdout stays the command's output either way).

export interface Progress {
  /** Shows `text` in place of the previous step. */
  step(text: string): void;
  /** Clears the line: what follows starts on a clean one. */
  done(): void;
}

const SILENT: Progress = { step() {}, done() {} };

export function progress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return SILENT;
  let shown = false;
  return {
    step(text) {
      // Carriage return and erase-line: the step replaces the last one, cut to the terminal's width.
      const width = Math.max(10, (stream.columns || 80) - 1);
      stream.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
