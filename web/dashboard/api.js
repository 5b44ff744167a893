// The dashboard's access to the service: the API key (entered once, kept in
// localStorage) and JSON requests carrying it as a bearer token.
const KEY = 'mobile-nas.apiKey';

export function getKey() {
  return localStorage.getItem(KEY) ?? '';
}

export function setKey(k) {
  if (k) localStorage.setItem(KEY, k);
  else localStorage.removeItem(KEY);
}

export class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${getKey()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: { message: text } }; }
  if (!res.ok) throw new ApiFailure(res.status, data);
  return data;
}

/** Download with the key (an <a href> cannot send the header): fetch, then save the blob. */
export async function download(path, fallbackName) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${getKey()}` } });
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch { /* not JSON */ }
    throw new ApiFailure(res.status, body);
  }
  const cd = res.headers.get('content-disposition') ?? '';
  const name = /filename="?([^";]+)"?/.exec(cd)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return { name, checksum: res.headers.get('x-checksum-sha256') };
}

/** Live events of a search. EventSource cannot send headers, so the key travels as ?token= (masked in logs). */
export function searchEvents(id) {
  return new EventSource(`/v1/searches/${encodeURIComponent(id)}/events?token=${encodeURIComponent(getKey())}`);
}
