import {
  Kind,
  defaultFieldResolver,
  getNullableType,
  getOperationAST,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { getArgumentValues, getVariableValues } from 'graphql/execution/values.js';
import type { Plugin } from 'graphql-yoga';
import { UNFINISHED, collect, isThenable, projectObject, resolveInfo, type CompiledField, type Completer } from './compiled-selection.js';

/**
 * `configChanges` pages answered without a GraphQL execution per change.
 *
 * A page is up to 10,000 changes of a dozen fields each; executing them costs a resolve-info,
 * an argument object and a path per field, which was most of the gateway's CPU (and garbage)
 * while paging. A query whose only root field is `configChanges` is compiled once per document
 * into a plan: for each selected field, the schema's own resolver and how to complete its value
 * (a leaf's `serialize`, a nested object's plan, a list of objects item by item). The page is
 * then projected with it — the same resolvers, in the same order, with the same arguments and
 * context, so authorization and redaction stay the resolvers'. Anything else is executed as
 * before: an operation the plan does not handle (directives, abstract types, a response key
 * selected twice, other root fields), variables that do not coerce, and a page the plan cannot
 * finish synchronously without an error (the root resolver refusing, a resolver returning a
 * promise or throwing, a null in a non-null position), so errors are exactly graphql-js' own.
 * The same approach as `projection.ts` for subscription events, over query pages.
 */

const ROOT_FIELD = 'configChanges';

interface Plan {
  operation: OperationDefinitionNode;
  fragments: Record<string, FragmentDefinitionNode>;
  rootNode: FieldNode;
  rootField: GraphQLField<unknown, unknown>;
}

const plans = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, Plan | null>>>();

function planOf(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined): Plan | null {
  let documents = plans.get(schema);
  if (!documents) plans.set(schema, (documents = new WeakMap()));
  let operations = documents.get(document);
  if (!operations) documents.set(document, (operations = new Map()));
  const name = operationName ?? '';
  if (operations.has(name)) return operations.get(name)!;
  let plan: Plan | null = null;
  try {
    plan = makePlan(schema, document, operationName);
  } catch {
    plan = null;
  }
  operations.set(name, plan);
  return plan;
}

function makePlan(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined): Plan | null {
  const operation = getOperationAST(document, operationName);
  const root = schema.getQueryType();
  if (!operation || operation.operation !== 'query' || !root || operation.directives?.length) return null;
  const fragments: Record<string, FragmentDefinitionNode> = Object.create(null);
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
  const rootFields = collect(root, operation.selectionSet, fragments);
  if (!rootFields || rootFields.length !== 1 || rootFields[0]!.name.value !== ROOT_FIELD) return null;
  const rootField = root.getFields()[ROOT_FIELD];
  if (!rootField) return null;
  return { operation, fragments, rootNode: rootFields[0]!, rootField };
}

/** The projected result of `args`, or null when it must be executed. */
async function project(args: ExecutionArgs, plan: Plan): Promise<ExecutionResult | null> {
  const { schema, contextValue } = args;
  const { operation, fragments, rootNode, rootField } = plan;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], (args.variableValues ?? {}) as Record<string, unknown>);
  if (coerced.errors) return null;
  const variables = coerced.coerced;

  const compileField = (parentType: GraphQLObjectType, node: FieldNode, path: readonly (string | number)[]): CompiledField | null => {
    const responseKey = node.alias?.value ?? node.name.value;
    if (node.name.value === '__typename') return { responseKey, resolve: () => parentType.name, complete: (value) => value };
    const field = parentType.getFields()[node.name.value];
    if (!field) return null;
    const info = resolveInfo(schema, operation, fragments, variables, parentType, field, node, [...path, responseKey]);
    const fieldArgs = getArgumentValues(field, node, variables);
    const complete = completer(field.type, node, [...path, responseKey]);
    if (!complete) return null;
    const resolver = field.resolve ?? defaultFieldResolver;
    return { responseKey, resolve: (source, context) => resolver(source, fieldArgs, context, info), complete };
  };

  const completer = (type: GraphQLOutputType, node: FieldNode, path: readonly (string | number)[]): Completer | null => {
    const nonNull = isNonNullType(type);
    const inner = getNullableType(type);
    let completeInner: Completer | null = null;
    if (isLeafType(inner)) {
      completeInner = (value) => {
        const serialized = inner.serialize(value);
        return serialized === undefined ? UNFINISHED : serialized;
      };
    } else if (isObjectType(inner)) {
      completeInner = objectCompleter(inner, node, path);
    } else if (isListType(inner)) {
      const itemType = inner.ofType as GraphQLOutputType;
      const item = getNullableType(itemType);
      const itemNonNull = isNonNullType(itemType);
      // Lists of leaves and of objects; lists of lists are left to execution.
      const completeItem = isLeafType(item)
        ? (value: unknown) => {
            const serialized = item.serialize(value);
            return serialized === undefined ? UNFINISHED : serialized;
          }
        : isObjectType(item)
          ? objectCompleter(item, node, [...path, 0])
          : null;
      if (!completeItem) return null;
      completeInner = (value, context) => {
        if (!Array.isArray(value)) return UNFINISHED;
        const out = new Array<unknown>(value.length);
        for (let index = 0; index < value.length; index++) {
          const element: unknown = value[index];
          if (element === null || element === undefined) {
            if (itemNonNull) return UNFINISHED;
            out[index] = null;
            continue;
          }
          if (element instanceof Error) return UNFINISHED;
          const completed = completeItem(element, context);
          if (completed === UNFINISHED) return UNFINISHED;
          out[index] = completed;
        }
        return out;
      };
    }
    if (!completeInner) return null;
    const completeValue = completeInner;
    return (value, context) => {
      if (value === null || value === undefined) return nonNull ? UNFINISHED : null;
      if (value instanceof Error) return UNFINISHED;
      return completeValue(value, context);
    };
  };

  const objectCompleter = (type: GraphQLObjectType, node: FieldNode, path: readonly (string | number)[]): Completer | null => {
    if (!node.selectionSet) return null;
    const selected = collect(type, node.selectionSet, fragments);
    if (!selected) return null;
    const fields: CompiledField[] = [];
    for (const child of selected) {
      const compiled = compileField(type, child, path);
      if (!compiled) return null;
      fields.push(compiled);
    }
    return (value, context) => projectObject(fields, value, context);
  };

  let root: CompiledField | null;
  try {
    root = compileField(schema.getQueryType()!, rootNode, []);
  } catch {
    // Arguments the plan cannot coerce: execution reports them.
    return null;
  }
  if (!root || rootField.name !== ROOT_FIELD) return null;
  let page: unknown;
  try {
    page = await root.resolve(args.rootValue, contextValue);
  } catch {
    return null;
  }
  try {
    const completed = root.complete(page, contextValue);
    if (completed === UNFINISHED) return null;
    return { data: { [root.responseKey]: completed } };
  } catch {
    return null;
  }
}

/**
 * Answers `configChanges` queries by projection where the plan can, executing the rest. Put it
 * first among the plugins: the ones after it wrap its execute.
 */
export function useProjectedPages(): Plugin {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      const execute = executeFn as (args: ExecutionArgs) => ReturnType<typeof executeFn>;
      setExecuteFn(((args: ExecutionArgs) => {
        const plan = planOf(args.schema, args.document, args.operationName);
        if (!plan) return execute(args);
        return project(args, plan).then((projected) => projected ?? execute(args));
      }) as unknown as typeof executeFn);
    },
  };
}
