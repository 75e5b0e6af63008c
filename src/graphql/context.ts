import type { ConfigService } from '../core/config-service.js';
import type { ConvergenceService } from '../core/convergence.js';
import type { ChangeFeed, ConfigStore, Guard, Principal, WriteMeta } from '../core/types.js';
import type { Logger } from '../logger.js';
import type { Validator } from '../core/validation.js';

/** Long-lived services every operation can use; built once in the composition root. */
export interface GatewayServices {
  store: ConfigStore;
  service: ConfigService;
  feed: ChangeFeed;
  convergence: ConvergenceService;
  logger: Logger;
  validate: Validator;
}

/** The context of one operation (HTTP request, SSE stream or graphql-ws subscription). */
export interface GraphQLContext extends GatewayServices {
  guard: Guard;
  principal: Principal | null;
  /** W3C trace id (from `traceparent` or `x-trace-id`, or generated). */
  traceId: string;
}

/**
 * Who, why and which request (recorded on every history row), and whether the writer may read
 * secrets: the store refuses a write that would make a secret value readable otherwise.
 */
export function writeMeta(context: GraphQLContext, reason: string | null | undefined): WriteMeta {
  return {
    actor: context.principal?.sub ?? null,
    reason: reason ?? null,
    traceId: context.traceId,
    canReadSecrets: context.guard.canReadSecrets(),
  };
}
