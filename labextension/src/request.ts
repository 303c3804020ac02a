import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An error from the nbhygiene server extension: its `{code, message}` reply, and the HTTP status. */
export class NbhygieneError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'NbhygieneError';
  }
}

/**
 * The only code that talks to the server: `endPoint` under `<base url>/nbhygiene/`, JSON both ways.
 * ServerConnection adds the token and the XSRF header that jupyter_server requires.
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'nbhygiene', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new NbhygieneError(
      'network-error',
      `cannot reach the server: ${String(error)}`,
      0
    );
  }
  const text = await response.text();
  let data: unknown = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new NbhygieneError(
        'bad-response',
        `the server answered ${response.status} with a body that is not JSON`,
        response.status
      );
    }
  }
  if (!response.ok) {
    const reply = (data ?? {}) as { code?: unknown; message?: unknown };
    throw new NbhygieneError(
      typeof reply.code === 'string' ? reply.code : 'http-error',
      typeof reply.message === 'string' ? reply.message : response.statusText,
      response.status
    );
  }
  return data as T;
}

/** `POST` a JSON body. */
export function postAPI<T>(endPoint: string, body: unknown): Promise<T> {
  return requestAPI<T>(endPoint, {
    method: 'POST',
    body: JSON.stringify(body)
  });
}
