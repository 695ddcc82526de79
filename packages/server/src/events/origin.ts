import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { ActorRef } from '../audit/audit-log.js';
import type { Db } from '../storage/database.js';

/**
 * Where a change came from, when it came over HTTP (Clerk's
 * `event_attributes.http_request`), and who made it (the audit log's actor).
 */
export interface RequestOrigin {
  clientIp: string;
  userAgent: string;
  /** Who is acting: the secret key on the Backend API, the end user on the Frontend API, the operator in the CLI. */
  actor?: ActorRef;
}

/**
 * The origin travels with the database handle a change is written through.
 * The HTTP layer gives each API request a handle that carries its origin
 * (`withOrigin`), and the CLI gives each command one. The events and audit
 * entries written through that handle, or through any transaction opened from
 * it, record the origin. The domain never sees a request. Changes the server
 * makes by itself (an expired ban lifting, a failing endpoint disabled) use
 * the plain handle, so they have no origin.
 *
 * A Kysely plugin is the carrier because Kysely keeps a handle's plugins on
 * every transaction opened from it. The plugin changes no query. This used to
 * be an AsyncLocalStorage. On Node 20 its promise hooks run for every promise
 * in the process, which cost the token endpoint about 6% of its throughput.
 */
class OriginTag implements KyselyPlugin {
  constructor(readonly origin: RequestOrigin) {}

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

/** The origin `db` carries, if any. */
export function originOf(db: Db): RequestOrigin | undefined {
  const plugins = db.getExecutor().plugins;
  for (let i = plugins.length - 1; i >= 0; i--) {
    const plugin = plugins[i];
    if (plugin instanceof OriginTag) return plugin.origin;
  }
  return undefined;
}

/** `db` carrying `origin` (in place of any origin it carried). */
export const withOrigin = (db: Db, origin: RequestOrigin): Db =>
  (originOf(db) ? untagged(db) : db).withPlugin(new OriginTag(origin));

/** `db` with the same origin but another actor (once a request's caller is known). */
export const withActor = (db: Db, actor: ActorRef): Db =>
  withOrigin(db, { ...(originOf(db) ?? { clientIp: '', userAgent: '' }), actor });

function untagged(db: Db): Db {
  const others = db.getExecutor().plugins.filter((p) => !(p instanceof OriginTag));
  return others.reduce((handle, p) => handle.withPlugin(p), db.withoutPlugins());
}
