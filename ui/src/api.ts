// HTTP client for the loglynx API: same origin, optional bearer token, typed errors.

import type { Missing } from "./types";

const TOKEN_KEY = "loglynx.token";

/** An API failure with the server's reason (or a network/parse reason) to show the user. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/**
 * Moves a `?token=` from the page URL into sessionStorage (and out of the address bar, so it
 * is not shared with the link), then returns the token to use, if any.
 */
export function initToken(): string | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl !== null) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.toString());
  }
  return token();
}

function token(): string | null {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? t : null;
}

/** Headers for every API request. */
export function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

/** The value of the cookie `name`, if set (the session cookie itself is HttpOnly: unreadable). */
export function cookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return null;
}

/**
 * Headers for a request that changes something: the session's CSRF token (the readable
 * `loglynx_csrf` cookie), which the server requires with the session cookie.
 */
export function changeHeaders(): Record<string, string> {
  const csrf = cookie("loglynx_csrf");
  return { ...authHeaders(), ...(csrf ? { "X-CSRF-Token": csrf } : {}) };
}

/** The login page, coming back to the current page after. */
export function loginUrl(): string {
  const here = location.pathname + location.search + location.hash;
  return `/ui/login?next=${encodeURIComponent(here.startsWith("/ui/") ? here : "/ui/")}`;
}

/** Sends the browser to the login page when the server wants a key and none was given. */
function toLoginOn401(status: number): void {
  if (status === 401 && token() === null) location.assign(loginUrl());
}

/** Ends the dashboard session (the cookies are cleared) and opens the login page. */
export async function logout(): Promise<void> {
  await fetch("/api/v1/session", { method: "DELETE", headers: changeHeaders() }).catch(() => undefined);
  location.assign("/ui/login");
}

/** The API URL of `path` (e.g. "search") with the given query parameters; empty values dropped. */
export function apiUrl(path: string, params: Record<string, string | number | undefined> = {}): string {
  // The page lives at /ui/; the API at /api/v1/ on the same origin.
  const url = new URL(`/api/v1/${path}`, window.location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
  }
  return url.pathname + url.search;
}

/** A response read as text and, when it is JSON, parsed. */
interface Answer {
  status: number;
  ok: boolean;
  body: unknown;
  text: string;
}

/** Sends a request (GET, or POST with a JSON body) and reads the answer; network errors become ApiError. */
async function send(
  method: "GET" | "POST",
  path: string,
  params: Record<string, string | number | undefined>,
  json: unknown,
  signal?: AbortSignal,
): Promise<Answer> {
  let resp: Response;
  const headers: Record<string, string> = method === "POST" ? changeHeaders() : { ...authHeaders() };
  if (method === "POST") headers["Content-Type"] = "application/json";
  try {
    resp = await fetch(apiUrl(path, params), {
      method,
      headers,
      body: method === "POST" ? JSON.stringify(json ?? {}) : undefined,
      signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "network", `cannot reach the server: ${(e as Error).message}`);
  }
  toLoginOn401(resp.status);
  const text = await resp.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: the callers say so
  }
  return { status: resp.status, ok: resp.ok, body, text };
}

function parsed<T>(a: Answer, path: string): T {
  if (!a.ok) throw errorFrom(a.status, a.body, a.text);
  if (a.body === undefined) {
    throw new ApiError(a.status, "bad_response", `the server sent no JSON for ${path}`);
  }
  return a.body as T;
}

/** GETs an API endpoint and parses its JSON; throws ApiError with a readable reason on failure. */
export async function getJson<T>(
  path: string,
  params: Record<string, string | number | undefined> = {},
  signal?: AbortSignal,
): Promise<T> {
  return parsed<T>(await send("GET", path, params, undefined, signal), path);
}

/** POSTs a JSON body to an API endpoint and parses the JSON answer (ApiError on failure). */
export async function postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return parsed<T>(await send("POST", path, {}, body, signal), path);
}

/** The 404 of a subsystem that is off (`{"enabled": false, "error": ...}`), if `e` is one. */
export function offReason(e: unknown): string | null {
  if (e instanceof ApiError && e.status === 404 && e.type === "off") return e.reason;
  return null;
}

/** Builds an ApiError from an error response (`{"error":{"type","reason"}}` when well formed). */
/** Builds an ApiError from an error response (`{"error":{"type","reason"}}` when well formed). */
export function errorFrom(status: number, body: unknown, text: string): ApiError {
  // A subsystem that is off (detection, the Kafka pipeline): `{"enabled": false, "error": "..."}`.
  const off = body as { enabled?: unknown; error?: unknown } | undefined;
  if (status === 404 && off?.enabled === false && typeof off.error === "string") {
    return new ApiError(status, "off", off.error);
  }
  const err = (body as { error?: { type?: string; reason?: string } } | undefined)?.error;
  if (err && typeof err.reason === "string") {
    return new ApiError(status, err.type ?? "error", err.reason);
  }
  if (status === 401 || status === 403) {
    return new ApiError(status, "unauthorized", "unauthorized: log in at /ui/login (or open the dashboard with ?token=<your key>)");
  }
  const snippet = text.trim().slice(0, 200);
  return new ApiError(status, "http", `server answered ${status}${snippet ? `: ${snippet}` : ""}`);
}

/**
 * The warning of a partial answer through a search root: which partitions and offsets `what`
 * lacks and why (each leaf that did not answer); null when the answer is complete.
 */
export function partialText(missing: Missing[] | undefined, what: string): string | null {
  if (!missing || missing.length === 0) return null;
  const parts = missing.map(
    (m) => `partition ${m.partition} offsets ${m.from}–${m.to ?? "newest"} (${m.leaf || "no leaf"}: ${m.reason})`,
  );
  return `Partial answer: ${what} lack ${parts.join("; ")}`;
}
