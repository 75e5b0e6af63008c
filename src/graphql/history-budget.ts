import { GatewayError } from '../errors.js';

/**
 * History rows one operation may ask for through `ConfigEntry.history`, all its lists together.
 * The same bound as one `configChanges` page: a caller who needs more history pages through it.
 */
export const MAX_HISTORY_ROWS_PER_OPERATION = 10_000;

/**
 * The least a `history` list counts for, whatever its `limit` (the default page): every list is a
 * database read, so this also bounds the reads of one operation (10,000 / 20 = 500).
 */
export const MIN_HISTORY_CHARGE = 20;

interface Budget {
  /** Rows asked for by a query or mutation (its root value is not an object). */
  operation: number;
  /** A subscription executes its selection once per event: each event has a budget of its own. */
  events: WeakMap<object, number>;
}

const budgets = new WeakMap<object, Budget>();

/**
 * Counts a `history` list of `limit` rows against the budget of the operation it belongs to
 * (`context`, and for a subscription the event being executed, `rootValue`), before the read.
 * Throws `BAD_USER_INPUT` (extensions `limit: 'historyRows'`, `max`, `actual`) once the lists
 * asked for come to more than `MAX_HISTORY_ROWS_PER_OPERATION`.
 *
 * Why at run time: the cost limit counts selections, and `history` is a list whose items lead back
 * to `history` (`history { entry { history } }`) or sit under lists of any length (`configs {
 * entries { history } }`). Each nesting multiplied the reads: 24 versions three levels deep made
 * 14,000 database reads from one reader's request and starved every other caller of connections.
 *
 * @example
 * chargeHistoryRows(context, info.rootValue, pageLimit);
 */
export function chargeHistoryRows(context: object, rootValue: unknown, limit: number): void {
  let budget = budgets.get(context);
  if (!budget) budgets.set(context, (budget = { operation: 0, events: new WeakMap() }));
  const charge = Math.max(limit, MIN_HISTORY_CHARGE);
  let spent: number;
  if (typeof rootValue === 'object' && rootValue !== null) {
    spent = (budget.events.get(rootValue) ?? 0) + charge;
    budget.events.set(rootValue, spent);
  } else {
    spent = budget.operation += charge;
  }
  if (spent > MAX_HISTORY_ROWS_PER_OPERATION) {
    throw new GatewayError(
      'BAD_USER_INPUT',
      `Operation asks for more than ${MAX_HISTORY_ROWS_PER_OPERATION} history rows (each history list counts its limit, at least ${MIN_HISTORY_CHARGE}); page through configChanges or one key's history instead`,
      { limit: 'historyRows', max: MAX_HISTORY_ROWS_PER_OPERATION, actual: spent },
    );
  }
}
