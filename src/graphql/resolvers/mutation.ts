import { GatewayError } from '../../errors.js';
import type { MutationResolvers } from '../generated/resolvers.js';
import { writeMeta } from '../context.js';

const CLIENT_ID = /^[A-Za-z0-9_.:@/-]{1,200}$/;

export const Mutation: MutationResolvers = {
  async setConfig(_root, { input }, context) {
    context.validate.namespace(input.namespace);
    context.guard.write(input.namespace);
    return context.service.set(input.namespace, input, writeMeta(context, input.reason));
  },

  async setConfigs(_root, { namespace, inputs, reason }, context) {
    context.validate.namespace(namespace);
    context.guard.write(namespace);
    return context.service.setMany(namespace, inputs, writeMeta(context, reason));
  },

  async deleteConfig(_root, { namespace, key, expectedVersion, reason }, context) {
    context.validate.namespace(namespace);
    context.guard.write(namespace);
    return context.service.delete(namespace, key, expectedVersion, writeMeta(context, reason));
  },

  async rollbackConfig(_root, { namespace, key, toVersion, expectedVersion, reason }, context) {
    context.validate.namespace(namespace);
    context.guard.write(namespace);
    return context.service.rollback(namespace, key, toVersion, expectedVersion, writeMeta(context, reason));
  },

  async reportApplied(_root, { namespace, clientId, revision }, { guard, convergence, validate }) {
    validate.namespace(namespace);
    // Readers report too: every SDK does, whatever its role.
    guard.read(namespace);
    if (!CLIENT_ID.test(clientId)) {
      throw new GatewayError('BAD_USER_INPUT', 'clientId must be 1-200 characters of [A-Za-z0-9_.:@/-]', { field: 'clientId' });
    }
    validate.revision(revision, 'revision');
    await convergence.report(namespace, clientId, revision);
    return true;
  },

  async reportLeaving(_root, { namespace, clientId }, { guard, convergence, validate }) {
    validate.namespace(namespace);
    guard.read(namespace);
    if (!CLIENT_ID.test(clientId)) {
      throw new GatewayError('BAD_USER_INPUT', 'clientId must be 1-200 characters of [A-Za-z0-9_.:@/-]', { field: 'clientId' });
    }
    await convergence.leave(namespace, clientId);
    return true;
  },

  async configureNamespace(_root, { namespace, requireReason }, { guard, store, validate }) {
    validate.namespace(namespace);
    guard.write(namespace);
    if (guard.principal?.role !== 'admin') throw new GatewayError('FORBIDDEN', 'Only admins change namespace settings');
    return store.configureNamespace(namespace, { requireReason });
  },

  async restoreConfigs(_root, { namespace, toRevision, prefix, expectedRevision, reason }, context) {
    context.validate.namespace(namespace);
    context.guard.write(namespace);
    return context.service.restore(namespace, { toRevision, prefix, expectedRevision }, writeMeta(context, reason));
  },

  async disableAllFlags(_root, { namespace, reason }, context) {
    context.validate.namespace(namespace);
    context.guard.write(namespace);
    if (!reason.trim()) throw new GatewayError('BAD_USER_INPUT', 'the kill switch needs a reason', { field: 'reason' });
    return context.service.disableAllFlags(namespace, writeMeta(context, reason));
  },
};
