import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * A GET request (or a form-encoded POST) whose `variables` or `extensions` parameter is not JSON
 * is a request error: 400 with `BAD_REQUEST`, as yoga answers a POST body that is not JSON.
 * Yoga's URL parameter parser lets `JSON.parse` throw, and the `SyntaxError` would reach the
 * client masked as an unexpected `INTERNAL_SERVER_ERROR` (200, and logged as a failure). Apollo's
 * `PersistedQueryLink` with `useGETForHashedQueries` sends `extensions` this way.
 *
 * @example createYoga({ plugins: [useURLParamsErrors()] })
 */
export function useURLParamsErrors(): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser }) {
      // Only parameters in a URL or a form are parsed this way: a JSON body (every SDK and CLI
      // request) keeps yoga's parser untouched, with nothing added to its path.
      if (!requestParser || (request.method !== 'GET' && !request.headers.get('content-type')?.startsWith('application/x-www-form-urlencoded'))) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          if (!(error instanceof SyntaxError)) throw error;
          throw new GraphQLError(`${paramOf(request)} are not valid JSON.`, {
            // Not a well-formed request: 4xx whatever the client accepts (GraphQL over HTTP).
            extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
          });
        }
      });
    },
  };
}

/** Which parameter failed to parse: the first of `variables`, `extensions` that is not JSON. */
function paramOf(request: Request): 'Variables' | 'Extensions' | 'Parameters' {
  const params = new URL(request.url, 'http://localhost').searchParams;
  for (const [name, label] of [['variables', 'Variables'], ['extensions', 'Extensions']] as const) {
    const value = params.get(name);
    if (!value) continue;
    try {
      JSON.parse(value);
    } catch {
      return label;
    }
  }
  return 'Parameters';
}
