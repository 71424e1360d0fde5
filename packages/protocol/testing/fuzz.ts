/**
 * fast-check inputs for the parser properties (test support, not part of
 * the protocol's surface): every parser a peer reaches — relay messages,
 * control requests, local API requests — gets random text, binary strings,
 * bytes, arbitrary JSON, and valid messages with one field replaced,
 * removed or added.
 */
import fc from 'fast-check';

/** Arbitrary JSON, a few levels deep. */
export const jsonValue = fc.jsonValue({ maxDepth: 4 });

/** One of `valid` with one field replaced by arbitrary JSON, removed, or a new one added; as JSON text. */
export function mutatedJson(valid: readonly object[]): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(...valid), fc.string({ maxLength: 8 }), jsonValue, fc.boolean())
    .map(([m, key, value, drop]) => {
      const o: Record<string, unknown> = { ...m };
      const keys = Object.keys(o);
      const k = keys.length > 0 && key.length % 2 === 0 ? keys[key.length % keys.length]! : key;
      if (drop) delete o[k];
      else o[k] = value;
      return JSON.stringify(o);
    });
}

/** What a peer might send a parser whose valid inputs are `valid`: noise, JSON, and (thrice as often) mutations. */
export function parserInputs(
  valid: readonly object[],
  ...more: fc.Arbitrary<string | Uint8Array>[]
): fc.Arbitrary<string | Uint8Array> {
  const mutated = mutatedJson(valid);
  return fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    jsonValue.map((v) => JSON.stringify(v)),
    mutated,
    mutated,
    mutated,
    ...more,
  );
}
