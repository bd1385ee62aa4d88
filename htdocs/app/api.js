// The JSON API client: the session token, error mapping and authenticated
// downloads (fetch + Blob, since a plain link cannot carry the token).
// The token never goes into a URL: event streams use single-use tickets
// (live.js), downloads use fetch with the Authorization header.

const KEY = 'kartograf.session';

// Where the site is served: its root, or a subdirectory of a shared host
// (https://host/~konto/kartograf/, README "Shared hosting").  This module
// lives in <site>/app/, so the site is one level up.  The API paths the code
// and the server use ("/api/...") are resolved below it.
const SITE = new URL('..', import.meta.url);

// siteUrl('/api/batches') -> that path's URL on this site (also static files)
export function siteUrl(path) {
  return new URL(String(path).replace(/^\/+/, ''), SITE).href;
}

export class ApiError extends Error {
  constructor(status, data, fallback) {
    const msg = polishMessage(status, data, fallback);
    super(msg);
    this.status = status;
    this.code = data && data.error ? data.error : `http_${status}`;
    this.data = data || {};
  }
}

// Polish texts for error codes whose server message may be technical.
const CODE_TEXT = {
  not_found: 'Nie znaleziono — mogło zostać usunięte albo należy do kogoś innego.',
  version_conflict: 'Ktoś w międzyczasie zmienił ten projekt.',
  not_editable: 'Projektu nie można teraz edytować (trwa generowanie albo nie jest gotowy).',
  not_completed: 'Projekt nie jest jeszcze gotowy.',
  too_long: 'Tekst jest za długi (maks. 20 000 znaków na sekcję).',
  invalid_utf8: 'Tekst zawiera nieprawidłowe znaki.',
  payload_too_large: 'Plik jest za duży.',
  too_large: 'Plik jest za duży.',
  unsupported_media_type: 'Nieobsługiwany typ pliku. Wybierz plik .xlsx albo .csv.',
  too_many_requests: 'Zbyt wiele prób. Spróbuj ponownie za chwilę.',
  throttled: 'Zbyt wiele prób logowania. Spróbuj ponownie za kilka minut.',
  too_many_attempts: 'Zbyt wiele nieudanych prób. Spróbuj ponownie za kilka minut.',
  session_ended: 'Sesja została zakończona, zaloguj się ponownie',
  weak_password: 'Hasło jest za słabe: co najmniej 12 znaków, nie może być popularnym hasłem ani adresem e-mail.',
  wrong_password: 'Obecne hasło jest nieprawidłowe.',
  too_many_streams: 'Zbyt wiele otwartych podglądów na żywo — stan będzie odświeżany co kilka sekund.',
  relay_busy: 'Podgląd na żywo jest chwilowo przeciążony — stan będzie odświeżany co kilka sekund.',
  unavailable: 'Usługa jest chwilowo niedostępna. Spróbuj ponownie za chwilę.',
  timeout: 'Serwer nie odpowiedział na czas. Spróbuj ponownie.',
  not_applied: 'nowa wersja nie została zapisana: karta zmieniła się w międzyczasie albo generowanie się nie powiodło. Spróbuj ponownie.',
  internal: 'Wystąpił błąd serwera. Spróbuj ponownie.',
  batch_busy: 'Trwa generowanie tego zestawu. Najpierw kliknij „Zatrzymaj”, a potem usuń.',
  cost_cap_reached: 'Zestaw wydał już swój limit kosztów AI. Podnieś albo usuń limit, a potem kliknij „Generuj”.',
  storage_unavailable: 'Magazyn plików jest chwilowo niedostępny — nic nie zostało usunięte. Spróbuj ponownie za chwilę.',
};
const STATUS_TEXT = {
  400: 'Nieprawidłowe żądanie.',
  401: 'Sesja wygasła, zaloguj się ponownie',
  403: 'Brak uprawnień.',
  404: 'Nie znaleziono.',
  409: 'Konflikt: stan na serwerze się zmienił.',
  413: 'Plik jest za duży.',
  415: 'Nieobsługiwany typ pliku. Wybierz plik .xlsx albo .csv.',
  422: 'Nie można przetworzyć danych.',
  429: 'Zbyt wiele żądań. Spróbuj ponownie za chwilę.',
  500: 'Wystąpił błąd serwera. Spróbuj ponownie.',
  502: 'Serwer jest chwilowo niedostępny. Spróbuj ponownie za chwilę.',
  503: 'Usługa jest chwilowo niedostępna. Spróbuj ponownie za chwilę.',
  504: 'Serwer nie odpowiedział na czas. Spróbuj ponownie.',
};

// Server messages are Polish for user-facing validation, but some are
// technical English ("no such project"); prefer our Polish text for codes we
// know, otherwise a Polish-looking server message, otherwise the status text.
function polishMessage(status, data, fallback) {
  const code = data && data.error;
  const msg = data && typeof data.message === 'string' ? data.message : '';
  if (code === 'validation_failed' && msg) return msg;
  if (code && CODE_TEXT[code]) {
    // keep the server's own words when they carry detail in Polish (e.g. 413 limits)
    if (msg && /[ąćęłńóśźż]/i.test(msg)) return msg;
    return CODE_TEXT[code];
  }
  if (msg && /[ąćęłńóśźż]/i.test(msg)) return msg;
  return STATUS_TEXT[status] || fallback || `Błąd ${status}.`;
}

export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (s && s.token) return s;
  } catch (e) { /* ignore */ }
  return null;
}

export function saveSession(s) {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

export function token() {
  const s = session();
  return s ? s.token : null;
}

export function sessionExpired() {
  const s = session();
  if (!s) return true;
  if (s.expires_at) {
    const t = Date.parse(s.expires_at);
    if (!isNaN(t) && t <= Date.now()) return true;
  }
  return false;
}

// Called when any request answers 401: set by main.js.
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

async function parseBody(res) {
  const ct = res.headers.get('content-type') || '';
  if (ct.includes('json')) {
    try { return await res.json(); } catch (e) { return null; }
  }
  try { await res.text(); } catch (e) { /* ignore */ }
  return null;
}

// api('GET', '/api/batches') -> parsed JSON; throws ApiError for non-2xx.
// opts: {json, body, headers, auth (default true), signal}
export async function api(method, path, opts = {}) {
  const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
  const t = token();
  if (opts.auth !== false && t) headers.Authorization = `Bearer ${t}`;
  let body = opts.body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (body === undefined && method !== 'GET' && method !== 'HEAD') {
    // always send a body with POST/PATCH (web servers may want a length)
    headers['Content-Type'] = 'application/json';
    body = '{}';
  }
  let res;
  try {
    res = await fetch(siteUrl(path), { method, headers, body, signal: opts.signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    const err = new ApiError(0, null, 'Brak połączenia z serwerem. Sprawdź sieć i spróbuj ponownie.');
    err.network = true;
    throw err;
  }
  const data = await parseBody(res);
  if (res.status === 401 && opts.auth !== false && !opts.quiet401) {
    onUnauthorized();
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// Ends this session on the server (the token stops working everywhere it
// was copied to); the caller then forgets it locally.  Errors are ignored:
// an expired or already ended token is as good as logged out.
export async function logoutServer() {
  if (!token()) return;
  try { await api('POST', '/api/auth/logout', { auth: true, quiet401: true }); } catch (e) { /* ignore */ }
}

// filename from Content-Disposition (RFC 5987 filename* first)
export function dispositionName(header, fallback) {
  if (!header) return fallback;
  let m = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (m) {
    try { return decodeURIComponent(m[2].trim().replace(/^"|"$/g, '')); } catch (e) { /* fall through */ }
  }
  m = /filename\s*=\s*"([^"]+)"/i.exec(header) || /filename\s*=\s*([^;]+)/i.exec(header);
  return m ? m[1].trim() : fallback;
}

// Authenticated download: fetch with the token, then save the Blob.
export async function download(path, fallbackName) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  let res;
  try {
    res = await fetch(siteUrl(path), { headers, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, null, 'Brak połączenia z serwerem. Sprawdź sieć i spróbuj ponownie.');
  }
  if (!res.ok) {
    const data = await parseBody(res);
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, data);
  }
  const blob = await res.blob();
  const name = dispositionName(res.headers.get('content-disposition'), fallbackName);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return { name, size: blob.size };
}
