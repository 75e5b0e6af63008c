import type { RestoreChange, RestorePlan } from '../core/config-service.js';
import type { Change, ChangePage, Entry, Snapshot } from '../core/types.js';

/** What resolvers hand to the `ConfigEntry` type. */
export type EntryModel = Entry;
/** What resolvers hand to `ConfigChange`; `replayed` defaults to false, `lastInRevision` to true. */
export type ChangeModel = Change & { replayed?: boolean; lastInRevision?: boolean };
export type SnapshotModel = Snapshot;
export type ChangePageModel = ChangePage;
export interface DriftModel {
  namespace: string;
  revision: number;
  changed: Entry[];
  deleted: string[];
}
export type RestorePlanModel = RestorePlan;
export type RestoreChangeModel = RestoreChange;
