// Calls to the onewindow API from the browser: the session cookie goes along by itself, every
// change carries the CSRF token the login gave, and every failure becomes an ApiError with the
// server's stable code, which the pages turn into words (i18n "errors.<code>").
import { reactive } from 'vue';

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface Account {
  account_id: string;
  username: string;
  display_name: string;
  kind: 'citizen' | 'enterprise_user' | 'official' | 'supervisor' | 'operator';
  department_id: string;
  legal_person: string;
  permissions: string[];
}

// Who is logged in; empty until the session is known.
export const session = reactive<{ account: Account | null; csrf: string; checked: boolean }>({
  account: null,
  csrf: '',
  checked: false,
});

async function failure(response: Response): Promise<ApiError> {
  let code = 'http.status_' + response.status;
  let message = response.statusText;
  let details: Record<string, unknown> = {};
  try {
    const body = await response.json();
    if (body?.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
      details = body.error.details ?? {};
    }
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  if (response.status === 401 && session.account) {
    session.account = null;
    session.csrf = '';
  }
  return new ApiError(response.status, code, message, details);
}

export async function request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) (init.headers as Record<string, string>)['X-CSRF-Token'] = session.csrf;
  if (body !== undefined) {
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, 'http.network', String(error));
  }
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return undefined as T;
  const type = response.headers.get('Content-Type') ?? '';
  return (type.includes('json') ? await response.json() : await response.text()) as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => request<T>('POST', path, body);
export const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);

export function query(parameters: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? '?' + text : '';
}

// Uploads a file as the request body with its own type, reporting progress (fetch cannot).
export function upload<T>(path: string, file: File, onProgress: (percent: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', path);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    if (session.csrf) xhr.setRequestHeader('X-CSRF-Token', session.csrf);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(Math.round((event.loaded * 100) / event.total));
    };
    xhr.onerror = () => reject(new ApiError(0, 'http.network', 'network error'));
    xhr.onload = () => {
      let body: any = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(100);
        resolve(body as T);
      } else {
        reject(new ApiError(xhr.status, body?.error?.code ?? 'http.status_' + xhr.status, body?.error?.message ?? xhr.statusText, body?.error?.details ?? {}));
      }
    };
    xhr.send(file);
  });
}

export async function loadSession(): Promise<void> {
  try {
    const answer = await get<{ account: Account; csrf_token?: string }>('/api/v1/session');
    session.account = answer.account;
    session.csrf = answer.csrf_token ?? session.csrf;
  } catch {
    session.account = null;
  } finally {
    session.checked = true;
  }
}

export async function login(username: string, password: string, totp: string): Promise<void> {
  const body: Record<string, string> = { username, password, client: 'browser' };
  if (totp) body.totp = totp;
  const answer = await post<{ account?: Account; csrf_token: string }>('/api/v1/session', body);
  session.csrf = answer.csrf_token;
  if (answer.account) session.account = answer.account;
  else await loadSession();
}

export async function logout(): Promise<void> {
  try {
    await request('DELETE', '/api/v1/session');
  } finally {
    session.account = null;
    session.csrf = '';
  }
}

export const has = (permission: string) => session.account?.permissions.includes(permission) ?? false;
