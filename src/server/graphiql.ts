import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * GraphiQL as hotconf serves it in development: every asset (script, styles, fonts, editor
 * workers) comes inline from the gateway's own page, so it works with no internet access, and
 * the headers editor is open so a person can add the `Authorization` header their token needs.
 */
export const GRAPHIQL_OPTIONS: GraphiQLOptions = {
  title: 'hotconf',
  // Yoga's own SSE on /graphql: a subscription is an HTTP request that carries the headers typed
  // in the editor (graphql-ws would need them in connection_init, which GraphiQL does not send).
  subscriptionsProtocol: 'SSE',
  defaultEditorToolsVisibility: 'headers',
  // Not persisted: a token pasted here is gone when the tab is closed.
  shouldPersistHeaders: false,
  headers: JSON.stringify({ Authorization: 'Bearer PASTE_A_TOKEN_HERE' }, null, 2),
  defaultQuery: /* GraphQL */ `# Every request needs a token: put it in the Headers tab below, as
#   { "Authorization": "Bearer <token>" }
# The gateway prints an admin token at its first start; or run
#   npx hotconf token --role admin --sub you
query Namespaces {
  namespaces {
    name
    revision
    entryCount
  }
}
`,
};

/**
 * Renders GraphiQL with its assets inlined (`@graphql-yoga/render-graphiql`, ~9 MB), loaded on
 * the first page view only so a gateway that never serves GraphiQL never loads it.
 */
export async function renderOfflineGraphiQL(options: GraphiQLOptions): Promise<string> {
  const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
  return renderGraphiQL(options);
}
