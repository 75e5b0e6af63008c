/**
 * Static safety of a JSON Schema, checked before it is compiled: no subschema may apply itself
 * to the same value without consuming any of it (validation would recurse until the stack
 * overflows), and no value location may meet more than `MAX_IN_PLACE_EXPANSION` subschemas.
 */
import type { JsonValue } from './types.js';

/**
 * Most subschemas a schema may apply to one value location through `allOf`/`anyOf`/`oneOf`/
 * `not`/`if`/`$ref` (counted along every path): stops `allOf: [A, A]` chains that double at
 * every level.
 */
export const MAX_IN_PLACE_EXPANSION = 1_000;

/*
 * Static safety of a schema. Every subschema is a node; an edge goes from a subschema to each
 * subschema it applies to the SAME value (allOf/anyOf/oneOf/not/if/then/else/dependentSchemas
 * and references). A cycle of such edges never consumes input: validation recurses until the
 * stack overflows. Keywords that apply to a part of the value (properties, items, ...) consume
 * it, and values are finite, so cycles through them end.
 */

const IN_PLACE_ONE = ['not', 'if', 'then', 'else'];
const IN_PLACE_LIST = ['allOf', 'anyOf', 'oneOf'];
const IN_PLACE_MAP = ['dependentSchemas', 'dependencies'];
const CHILD_ONE = ['additionalProperties', 'propertyNames', 'additionalItems', 'contains', 'unevaluatedItems', 'unevaluatedProperties', 'items'];
const CHILD_LIST = ['prefixItems', 'items'];
const CHILD_MAP = ['properties', 'patternProperties', '$defs', 'definitions'];
const REFS = ['$ref', '$dynamicRef', '$recursiveRef'];
/** Base URI of a schema without `$id`: relative references resolve against it. */
const ROOT_BASE = 'https://schema.hotconf.invalid/root.json';

type SchemaObject = { [key: string]: JsonValue };
const isSchema = (value: JsonValue | undefined): value is SchemaObject | boolean =>
  typeof value === 'boolean' || (typeof value === 'object' && value !== null && !Array.isArray(value));
const escapePointer = (part: string | number) => String(part).replace(/~/g, '~0').replace(/\//g, '~1');

function at(document: JsonValue, pointer: string): JsonValue | undefined {
  let node: JsonValue | undefined = document;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = Array.isArray(node) ? node[Number(part)] : Object.hasOwn(node, part) ? node[part] : undefined;
  }
  return node;
}

/** Throws (a message for BAD_USER_INPUT) when `schema` could recurse without consuming input or fans out too far. */
export function assertSafeStructure(schema: JsonValue): void {
  interface Node {
    base: string;
    schema: SchemaObject | boolean;
    inPlace: string[];
    refs: Array<{ keyword: string; ref: string }>;
  }
  const nodes = new Map<string, Node>();
  const resources = new Map<string, string>([[ROOT_BASE, '']]);
  const anchors = new Map<string, string>();
  const dynamicAnchors = new Map<string, string[]>();

  const walk = (start: string, startSchema: SchemaObject | boolean, startBase: string) => {
    const work: Array<{ pointer: string; schema: SchemaObject | boolean; base: string }> = [{ pointer: start, schema: startSchema, base: startBase }];
    while (work.length > 0) {
      const { pointer, schema: node, base: parentBase } = work.pop()!;
      if (nodes.has(pointer)) continue;
      const entry: Node = { base: parentBase, schema: node, inPlace: [], refs: [] };
      nodes.set(pointer, entry);
      if (typeof node === 'boolean') continue;
      let base = parentBase;
      const id = node.$id;
      if (typeof id === 'string') {
        try {
          if (id.startsWith('#')) anchors.set(`${base}${id}`, pointer);
          else {
            const url = new URL(id, base);
            url.hash = '';
            base = url.href;
            resources.set(base, pointer);
          }
        } catch {
          // ajv refuses an $id it cannot resolve when it compiles.
        }
      }
      entry.base = base;
      for (const keyword of ['$anchor', '$dynamicAnchor']) {
        const name = node[keyword];
        if (typeof name !== 'string') continue;
        anchors.set(`${base}#${name}`, pointer);
        if (keyword === '$dynamicAnchor') dynamicAnchors.set(name, [...(dynamicAnchors.get(name) ?? []), pointer]);
      }
      const visit = (child: JsonValue | undefined, childPointer: string, inPlace: boolean) => {
        if (!isSchema(child)) return;
        if (inPlace) entry.inPlace.push(childPointer);
        work.push({ pointer: childPointer, schema: child, base });
      };
      for (const keyword of IN_PLACE_ONE) visit(node[keyword], `${pointer}/${keyword}`, true);
      for (const keyword of CHILD_ONE) visit(node[keyword], `${pointer}/${keyword}`, false);
      for (const keyword of [...IN_PLACE_LIST, ...CHILD_LIST]) {
        const list = node[keyword];
        if (Array.isArray(list)) list.forEach((child, index) => visit(child, `${pointer}/${keyword}/${index}`, IN_PLACE_LIST.includes(keyword)));
      }
      for (const keyword of [...IN_PLACE_MAP, ...CHILD_MAP]) {
        const map = node[keyword];
        if (!isSchema(map) || typeof map === 'boolean') continue;
        for (const [name, child] of Object.entries(map)) visit(child, `${pointer}/${keyword}/${escapePointer(name)}`, IN_PLACE_MAP.includes(keyword));
      }
      for (const keyword of REFS) {
        const ref = node[keyword];
        if (typeof ref === 'string') entry.refs.push({ keyword, ref });
      }
    }
  };
  if (!isSchema(schema)) return;
  walk('', schema, ROOT_BASE);

  // References, resolved once every $id and anchor is known. A target outside the walked
  // keywords (`#/x-common/a`) is walked on demand; one outside the document is a meta-schema
  // (ajv loads nothing else), which never refers back.
  const resolve = (base: string, ref: string): string | null => {
    let url: URL;
    try {
      url = new URL(ref, base);
    } catch {
      return null;
    }
    const fragment = decodeURIComponent(url.hash.slice(1));
    url.hash = '';
    const resource = resources.get(url.href);
    if (resource === undefined) return null;
    if (fragment === '') return resource;
    if (fragment.startsWith('/')) return resource + fragment;
    return anchors.get(`${url.href}#${fragment}`) ?? null;
  };
  for (const [pointer, node] of [...nodes]) {
    for (const { keyword, ref } of node.refs) {
      const targets = new Set<string>();
      const direct = resolve(node.base, ref);
      if (direct !== null) targets.add(direct);
      // Dynamic references may land on any anchor of their name: assume every one.
      if (keyword === '$dynamicRef' && ref.startsWith('#')) for (const target of dynamicAnchors.get(ref.slice(1)) ?? []) targets.add(target);
      if (keyword === '$recursiveRef') for (const [other, candidate] of nodes) if (typeof candidate.schema === 'object' && candidate.schema.$recursiveAnchor === true) targets.add(other);
      for (const target of targets) {
        if (!nodes.has(target)) {
          const found = at(schema, target);
          if (!isSchema(found)) continue;
          walk(target, found, node.base);
        }
        node.inPlace.push(target);
      }
    }
  }

  // Depth-first over in-place edges: a back edge is a cycle; the number of in-place paths from
  // a node (memoised on the acyclic graph) is how many subschemas one value location meets.
  const state = new Map<string, 'open' | number>();
  const expansion = (start: string): number => {
    const stack: Array<{ pointer: string; next: number; total: number }> = [{ pointer: start, next: 0, total: 1 }];
    state.set(start, 'open');
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const edges = nodes.get(frame.pointer)!.inPlace;
      if (frame.next < edges.length) {
        const target = edges[frame.next++]!;
        const known = state.get(target);
        if (known === 'open') {
          throw new Error(
            `the subschema at #${target} applies itself to the same value without consuming any of it (through $ref/allOf/anyOf/oneOf/not/if), so checking a value would never end; recursion must go through properties, items or similar`,
          );
        }
        if (known !== undefined) frame.total += known;
        else {
          state.set(target, 'open');
          stack.push({ pointer: target, next: 0, total: 1 });
        }
        continue;
      }
      stack.pop();
      if (frame.total > MAX_IN_PLACE_EXPANSION) {
        throw new Error(`the subschema at #${frame.pointer} applies more than ${MAX_IN_PLACE_EXPANSION} subschemas to one value (through $ref/allOf/anyOf/oneOf); simplify it`);
      }
      state.set(frame.pointer, frame.total);
      const parent = stack[stack.length - 1];
      if (parent) parent.total += frame.total;
    }
    return state.get(start) as number;
  };
  for (const pointer of nodes.keys()) if (!state.has(pointer)) expansion(pointer);
}
