/**
 * What a fresh Node process loads: the module-graph tests of the packages
 * (client, host-core) check that importing them loads no PTY library,
 * terminal emulator or engine until used. Every module the child resolves,
 * by `import` or `require`, is recorded by a `module.registerHooks` resolve
 * hook installed before the import.
 */
import { execFileSync } from 'node:child_process';

/**
 * The file URLs a fresh Node process resolves while importing `entry` and
 * then running `then` (module code; the import's namespace is `m`).
 */
export function resolvedOnImport(entry: string, then = ''): string[] {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({
      resolve(specifier, context, next) {
        const resolved = next(specifier, context);
        seen.add(resolved.url);
        return resolved;
      },
    });
    const m = await import(${JSON.stringify(entry)});
    ${then}
    console.log(JSON.stringify([...seen]));
  `;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  ) as string[];
}

/** The URLs among `urls` inside the installed package `name`. */
export const fromPackage = (urls: string[], name: string): string[] =>
  urls.filter((u) => u.includes(`/node_modules/${name}/`));
