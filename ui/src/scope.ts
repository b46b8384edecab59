// Resolving the state's time range once per run.

import { ApiError } from "./api";
import type { State } from "./state";
import { resolveTime } from "./time";

/** A query with its range resolved to absolute RFC 3339 times, fixed for one run. */
export interface Scope {
  q: string;
  start?: string;
  end?: string;
}

/**
 * Resolves a state's range once per run so the total, the histogram, the field values and every
 * page of results describe the same events. Throws with a readable reason on bad times.
 */
export function scopeOf(s: State, now: number): Scope {
  const start = resolveTime(s.start, now);
  let end = resolveTime(s.end, now);
  if (Number.isNaN(start)) throw new ApiError(0, "time", `cannot read the start time "${s.start}"`);
  if (Number.isNaN(end)) throw new ApiError(0, "time", `cannot read the end time "${s.end}"`);
  // A relative start with an open end means "until now": pin it for consistent paging.
  if (end === null && start !== null && /^now/.test(s.start)) end = now;
  if (start !== null && end !== null && start >= end) {
    throw new ApiError(0, "time", "the start of the time range must be before its end");
  }
  return {
    q: s.q.trim(),
    start: start === null ? undefined : new Date(start).toISOString(),
    end: end === null ? undefined : new Date(end).toISOString(),
  };
}
