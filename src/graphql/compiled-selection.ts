/**
 * The parts of a compiled selection that `projection.ts` (subscription events) and
 * `page-projection.ts` (`configChanges` pages) share: the compiled field, the marker for a value
 * the plan cannot finish, projecting an object, collecting a selection set's fields, and the
 * resolve-info each compiled field hands its resolver.
 */
import {
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/** A value the plan could not finish: the caller executes instead. */
export const UNFINISHED = Symbol('unfinished');

export type Completer = (value: unknown, context: unknown) => unknown;

export interface CompiledField {
  responseKey: string;
  resolve: (source: unknown, context: unknown) => unknown;
  complete: Completer;
}

export function projectObject(fields: CompiledField[], source: unknown, context: unknown): unknown {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = field.resolve(source, context);
    if (isThenable(value)) return UNFINISHED;
    const completed = field.complete(value, context);
    if (completed === UNFINISHED) return UNFINISHED;
    out[field.responseKey] = completed;
  }
  return out;
}

export const isThenable = (value: unknown): boolean => typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/**
 * The fields a selection set selects on `type`, fragments inlined, in execution order; null when
 * the plan cannot follow it (directives, a fragment on another type, a response key selected twice).
 */
export function collect(type: GraphQLObjectType, selectionSet: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>): FieldNode[] | null {
  const fields: FieldNode[] = [];
  const keys = new Set<string>();
  const visit = (set: SelectionSetNode): boolean => {
    for (const selection of set.selections) {
      if (selection.directives?.length) return false;
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        if (keys.has(key)) return false;
        keys.add(key);
        fields.push(selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (selection.typeCondition && selection.typeCondition.name.value !== type.name) return false;
        if (!visit(selection.selectionSet)) return false;
      } else {
        const fragment = fragments[selection.name.value];
        if (!fragment || fragment.directives?.length || fragment.typeCondition.name.value !== type.name) return false;
        if (!visit(fragment.selectionSet)) return false;
      }
    }
    return true;
  };
  return visit(selectionSet) ? fields : null;
}

/** One resolve-info per compiled field (the path of a list item names index 0: no resolver here reads it). */
export function resolveInfo(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
  variableValues: Record<string, unknown>,
  parentType: GraphQLObjectType,
  field: GraphQLField<unknown, unknown>,
  node: FieldNode,
  path: readonly (string | number)[],
): GraphQLResolveInfo {
  let built: GraphQLResolveInfo['path'] = undefined as unknown as GraphQLResolveInfo['path'];
  for (const key of path) built = { prev: built, key, typename: undefined };
  built = { ...built, typename: parentType.name };
  return {
    fieldName: field.name,
    fieldNodes: [node],
    returnType: field.type,
    parentType,
    path: built,
    schema,
    fragments,
    rootValue: undefined,
    operation,
    variableValues,
  };
}

