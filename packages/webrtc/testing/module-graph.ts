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
  return resolvedInSteps(entry, { then }).then;
}

/**
 * The file URLs a fresh Node process has resolved once it imported `entry`
 * (`imported`), and again after each of `steps`, run in order in one
 * scope (module code; the import's namespace is `m`, and a step may use
 * what an earlier one declared).
 */
export function resolvedInSteps<S extends string>(
  entry: string,
  steps: Record<S, string>,
): Record<'imported' | S, string[]> {
  const mark = (name: string) => `seen[${JSON.stringify(name)}] = [...resolved];`;
  const script = `
    import { registerHooks } from 'node:module';
    const resolved = new Set();
    const seen = {};
    registerHooks({
      resolve(specifier, context, next) {
        const result = next(specifier, context);
        resolved.add(result.url);
        return result;
      },
    });
    const m = await import(${JSON.stringify(entry)});
    ${mark('imported')}
    ${Object.entries<string>(steps)
      .map(([name, code]) => `${code}\n${mark(name)}`)
      .join('\n')}
    console.log(JSON.stringify(seen));
  `;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  ) as Record<'imported' | S, string[]>;
}

/** The URLs among `urls` inside the installed package `name`. */
export const fromPackage = (urls: string[], name: string): string[] =>
  urls.filter((u) => u.includes(`/node_modules/${name}/`));
