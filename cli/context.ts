// What `tapwire` hands every command. In a module of its own so that commands never import
// cli/main.ts: main.ts is the entry point and imports the commands, nothing imports it.

/** Where the CLI finds the rest of the package (main.ts fills it in from its own location). */
export interface CliContext {
  /** dist/ — holds register.js, which the demo preloads. */
  distDir: string;
  /** The package root — holds docs/, which `tapwire docs` generates. */
  packageRoot: string;
}
