import { intOption, printJson, requireArg, stringOption, type Command, type CommandContext } from '../context.js';
import { EXIT, usage } from '../exit-codes.js';
import { ConfigDocument, ConfigsDocument, DisableAllFlagsDocument, EvaluateFlagDocument, SetConfigDocument } from '../operations.js';
import { table } from '../output.js';
// The SDK's flag rules (shipped with @hotconf/client), so the CLI and every service agree on what a flag is.
import { FLAG_DISCRIMINATOR, isFlagLike } from '../../shared/flags.js';

interface FlagShape {
  enabled: boolean;
  rolloutPercentage: number;
  description?: string;
  [more: string]: unknown;
}

const isFlag = (value: unknown): value is FlagShape => isFlagLike(value);

async function list(context: CommandContext): Promise<number> {
  const namespace = context.namespace();
  const { configs } = await context.client().request(ConfigsDocument, { namespace, prefix: context.args[0] ?? null });
  const flags = configs.entries.filter((e) => isFlag(e.value)).sort((a, b) => (a.key < b.key ? -1 : 1));
  if (context.json) printJson(context, flags.map((f) => ({ key: f.key, version: f.version, ...(f.value as FlagShape) })));
  else
    context.output.out(
      table(
        ['FLAG', 'ENABLED', 'ROLLOUT', 'VERSION', 'DESCRIPTION'],
        flags.map((f) => {
          const v = f.value as FlagShape;
          return [f.key, v.enabled ? 'on' : 'off', `${v.rolloutPercentage}%`, String(f.version), v.description ?? ''];
        }),
      ),
    );
  return EXIT.OK;
}

async function setFlag(context: CommandContext): Promise<number> {
  const key = requireArg(context, 0, 'KEY');
  const namespace = context.namespace();
  const rollout = intOption(context.values, 'rollout');
  if (rollout !== undefined && rollout > 100) throw usage('--rollout must be 0-100');
  if (context.values.enabled && context.values.disabled) throw usage('--enabled and --disabled contradict each other');
  const client = context.client();
  const { config } = await client.request(ConfigDocument, { namespace, key });
  if (config && !isFlag(config.value)) throw usage(`${namespace}/${key} exists and is not a flag (its value has no ${FLAG_DISCRIMINATOR})`);
  const previous = config ? (config.value as FlagShape) : null;
  const description = stringOption(context.values, 'description');
  const value: FlagShape = {
    ...(previous ?? {}),
    // A new flag is on for its rollout unless told otherwise; an existing one keeps its state.
    enabled: context.values.enabled ? true : context.values.disabled ? false : (previous?.enabled ?? true),
    rolloutPercentage: rollout ?? previous?.rolloutPercentage ?? (previous ? 0 : 100),
    ...(description !== undefined ? { description } : {}),
  };
  const { setConfig } = await client.request(SetConfigDocument, {
    input: {
      namespace,
      key,
      value,
      // Read-modify-write: refuse to overwrite a change made in between.
      expectedVersion: intOption(context.values, 'expect-version') ?? (config ? config.version : 0),
      reason: stringOption(context.values, 'reason'),
    },
  });
  if (context.json) printJson(context, { namespace, ...setConfig });
  else context.output.out(`${namespace}/${key}: ${value.enabled ? 'on' : 'off'} for ${value.rolloutPercentage}% of users  (version ${setConfig.version}, revision ${setConfig.revision})\n`);
  return EXIT.OK;
}

async function evaluate(context: CommandContext): Promise<number> {
  const key = requireArg(context, 0, 'KEY');
  const userId = stringOption(context.values, 'user');
  if (!userId) throw usage('missing --user USER_ID');
  const { evaluateFlag } = await context.client().request(EvaluateFlagDocument, { namespace: context.namespace(), key, userId });
  if (context.json) printJson(context, evaluateFlag);
  else context.output.out(`${key} for ${userId}: ${evaluateFlag.enabled ? 'ON' : 'OFF'}  (bucket ${evaluateFlag.bucket}, ${evaluateFlag.reason}, version ${evaluateFlag.version})\n`);
  return EXIT.OK;
}

async function kill(context: CommandContext): Promise<number> {
  const reason = stringOption(context.values, 'reason');
  if (!reason) throw usage('missing --reason: the kill switch is recorded in every flag\'s history');
  const namespace = context.namespace();
  const { disableAllFlags } = await context.client().request(DisableAllFlagsDocument, { namespace, reason });
  if (context.json) printJson(context, disableAllFlags);
  else {
    const revision = disableAllFlags[0]?.revision;
    context.output.out(`disabled ${disableAllFlags.length} flag(s) in ${namespace}${revision !== undefined ? ` at revision ${revision}` : ''}\n`);
  }
  return EXIT.OK;
}

export const flags: Command = {
  name: 'flags',
  summary: 'feature flags: ls, set --rollout, eval --user, kill --reason',
  usage:
    'flags [ls [PREFIX]]\n' +
    '       flags set KEY [--rollout 0-100] [--enabled|--disabled] [--description D] [--reason R]\n' +
    '       flags eval KEY --user USER_ID\n' +
    '       flags kill --reason R        every flag of the namespace off, in one revision',
  options: {
    rollout: { type: 'string' },
    enabled: { type: 'boolean' },
    disabled: { type: 'boolean' },
    description: { type: 'string' },
    reason: { type: 'string' },
    user: { type: 'string' },
    'expect-version': { type: 'string' },
  },
  async run(context) {
    const [sub = 'ls', ...rest] = context.args;
    const inner: CommandContext = { ...context, args: rest, namespace: context.namespace, client: context.client, prompt: context.prompt };
    switch (sub) {
      case 'ls':
      case 'list':
        return list(inner);
      case 'set':
        return setFlag(inner);
      case 'eval':
      case 'evaluate':
        return evaluate(inner);
      case 'kill':
        return kill(inner);
      default:
        throw usage(`unknown flags subcommand ${JSON.stringify(sub)} (ls, set, eval, kill)`);
    }
  },
};
